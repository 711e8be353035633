// Counter-based random matrices: entry (i, j) is a pure function of
// (seed, i, j), so projections do not depend on panel, batch or thread layout.
//
// word(i, b) = mix64(rowkey(i) + (b + 1)·γ), rowkey(i) = mix64(key + (i + 1)·γ'),
// where mix64 is the SplitMix64 finalizer (Steele, Lea & Flood, OOPSLA 2014).
// Rademacher: bit (j mod 64) of word(i, j / 64) is the sign of entry j.
// Gaussian: word(i, j / 2) gives two 32-bit uniforms → Box–Muller pair.
//
// Only +, −, ×, ÷ and sqrt are used (no libm, fp contraction off), so the
// vectorized and scalar builds give bit-identical matrices on every machine.
#include "counter_rng.h"
#include "winnow_kernels.h"
#include <math.h>

#define WNK_DOMAIN_GAUSSIAN 0x6A09E667F3BCC909ull

static inline uint64_t row_key(uint64_t seed, uint64_t row) {
  return wnk_row_key(wnk_mix64(seed), row);
}

// 64 signs of one word into out[0..<64]: sign bit set where the word bit is 0.
static inline void expand_signs(uint64_t w, uint32_t magnitude, float *out) {
  for (int t = 0; t < 64; t++) {
    uint32_t neg = (uint32_t)(~(w >> t) & 1u) << 31;
    out[t] = wnk_bits_to_float(magnitude | neg);
  }
}

WNK_MULTIVERSION
void wnk_fill_rademacher(uint64_t seed, uint64_t row0, size_t rows,
                         uint64_t col0, size_t cols, float scale,
                         float *out, size_t ld) {
  const uint32_t mag = wnk_float_to_bits(fabsf(scale));
  const int flip = scale < 0;
  for (size_t r = 0; r < rows; r++) {
    const uint64_t rk = row_key(seed, row0 + r);
    float *dst = out + r * ld;
    uint64_t c = col0, end = col0 + cols;
    // Ragged head (and tail) one entry at a time; full words 64 at once.
    while (c < end && (c & 63)) {
      uint64_t w = wnk_word_at(rk, c >> 6);
      uint32_t neg = (uint32_t)(~(w >> (c & 63)) & 1u) << 31;
      dst[c - col0] = wnk_bits_to_float(mag | neg);
      c++;
    }
    for (; c + 64 <= end; c += 64) {
      expand_signs(wnk_word_at(rk, c >> 6), mag, dst + (c - col0));
    }
    for (; c < end; c++) {
      uint64_t w = wnk_word_at(rk, c >> 6);
      uint32_t neg = (uint32_t)(~(w >> (c & 63)) & 1u) << 31;
      dst[c - col0] = wnk_bits_to_float(mag | neg);
    }
    if (flip) {
      for (size_t t = 0; t < cols; t++) dst[t] = -dst[t];
    }
  }
}

// ln(x) for x in (0, 1], Cephes-style: x = m·2^e with m in [√½, √2).
static inline float wnk_log(float x) {
  uint32_t b = wnk_float_to_bits(x);
  int e = (int)((b >> 23) & 0xff) - 126;
  float m = wnk_bits_to_float((b & 0x007fffffu) | 0x3f000000u);  // [0.5, 1)
  int small = m < 0.70710678f;
  e -= small;
  m = small ? m + m : m;
  float t = m - 1.0f;
  float z = t * t;
  float y = 7.0376836292e-2f;
  y = y * t - 1.1514610310e-1f;
  y = y * t + 1.1676998740e-1f;
  y = y * t - 1.2420140846e-1f;
  y = y * t + 1.4249322787e-1f;
  y = y * t - 1.6668057665e-1f;
  y = y * t + 2.0000714765e-1f;
  y = y * t - 2.4999993993e-1f;
  y = y * t + 3.3333331174e-1f;
  y = y * t * z;
  float fe = (float)e;
  y = y + fe * -2.12194440e-4f;
  y = y - 0.5f * z;
  return t + y + fe * 0.693359375f;
}

// cos and sin of 2π·u for u in [0, 1): quadrant reduction, then Taylor
// polynomials on [0, π/2) (truncation error < 4e-8).
static inline void wnk_cossin_2pi(float u, float *c, float *s) {
  float q4 = u * 4.0f;
  int q = (int)q4;
  float a = (q4 - (float)q) * 1.57079632679f;
  float a2 = a * a;
  float sn = a * (1.0f + a2 * (-1.0f / 6 + a2 * (1.0f / 120 + a2 * (-1.0f / 5040
             + a2 * (1.0f / 362880 + a2 * (-1.0f / 39916800))))));
  float cs = 1.0f + a2 * (-0.5f + a2 * (1.0f / 24 + a2 * (-1.0f / 720
             + a2 * (1.0f / 40320 + a2 * (-1.0f / 3628800 + a2 * (1.0f / 479001600))))));
  // Rotate by q quarter turns: (cos, sin) of (a + qπ/2).
  int odd = q & 1, neg_c = (q == 1) | (q == 2), neg_s = q >> 1;
  float cq = odd ? sn : cs, sq = odd ? cs : sn;
  cq = neg_c ? -cq : cq;
  sq = neg_s ? -sq : sq;
  *c = cq;
  *s = sq;
}


// Fills `count` consecutive Box–Muller values starting at pair `p0` (both
// values of every pair), in fixed blocks so each step vectorizes: hash, then
// uniforms, then log/sqrt/sincos, then interleaved stores.
#define WNK_GAUSS_BLOCK 32
WNK_MULTIVERSION
static void gaussian_pairs(uint64_t rk, uint64_t p0, size_t pairs, float scale,
                           float *dst) {
  uint64_t w[WNK_GAUSS_BLOCK];
  float g0[WNK_GAUSS_BLOCK], g1[WNK_GAUSS_BLOCK];
  for (size_t b = 0; b < pairs; b += WNK_GAUSS_BLOCK) {
    size_t n = pairs - b < WNK_GAUSS_BLOCK ? pairs - b : WNK_GAUSS_BLOCK;
#pragma clang loop vectorize(enable) unroll(disable)
    for (size_t t = 0; t < WNK_GAUSS_BLOCK; t++) w[t] = wnk_word_at(rk, p0 + b + t);
#pragma clang loop vectorize(enable) unroll(disable)
    for (size_t t = 0; t < WNK_GAUSS_BLOCK; t++) {
      float u1 = (float)((uint32_t)(w[t] >> 40) + 1u) * (1.0f / 16777216.0f);
      float u2 = (float)((uint32_t)(w[t] >> 8) & 0xFFFFFFu) * (1.0f / 16777216.0f);
      float r = __builtin_sqrtf(-2.0f * wnk_log(u1)) * scale;
      float c, s;
      wnk_cossin_2pi(u2, &c, &s);
      g0[t] = r * c;
      g1[t] = r * s;
    }
    for (size_t t = 0; t < n; t++) {
      dst[2 * (b + t)] = g0[t];
      dst[2 * (b + t) + 1] = g1[t];
    }
  }
}

void wnk_fill_gaussian(uint64_t seed, uint64_t row0, size_t rows,
                       uint64_t col0, size_t cols, float scale,
                       float *out, size_t ld) {
  const uint64_t gseed = seed ^ WNK_DOMAIN_GAUSSIAN;
  float pair[2];
  for (size_t r = 0; r < rows; r++) {
    const uint64_t rk = row_key(gseed, row0 + r);
    float *dst = out + r * ld;
    uint64_t c = col0, end = col0 + cols;
    if (c < end && (c & 1)) {  // ragged head: second value of a pair
      gaussian_pairs(rk, c >> 1, 1, scale, pair);
      *dst++ = pair[1];
      c++;
    }
    size_t pairs = (size_t)((end - c) / 2);
    gaussian_pairs(rk, c >> 1, pairs, scale, dst);
    c += 2 * pairs;
    dst += 2 * pairs;
    if (c < end) {  // ragged tail: first value of a pair
      gaussian_pairs(rk, c >> 1, 1, scale, pair);
      *dst = pair[0];
    }
  }
}

size_t wnk_count_nonfinite(const float *x, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    bad += (wnk_float_to_bits(x[i]) & 0x7f800000u) == 0x7f800000u;
  }
  return bad;
}
