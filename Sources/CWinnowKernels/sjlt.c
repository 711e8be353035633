// Sparse JL (SJLT / CountSketch) scatter-add, DESIGN 2.8.
//
// Input coordinate i (global) has `nnz` nonzeros, one in each of `nnz`
// blocks of the k outputs (Kane & Nelson's block construction, so the
// buckets of a coordinate are distinct): block t covers
// [t·k/nnz, (t+1)·k/nnz), the bucket inside it and the sign come from
// word(i, t) = mix64(rowkey(i) + (t + 1)·γ) of the counter RNG in
// counter_rng.c, keyed by (seed, i) in a domain of its own.
//
// Every output element is a sum over input coordinates in ascending order,
// t ascending, with no fused multiply-add: a row's features never depend on
// the other rows of the call, the chunking, or the thread that ran it.
#include "counter_rng.h"
#include "winnow_kernels.h"
#include <string.h>

#define WN_DOMAIN_SJLT 0xBB67AE8584CAA73Bull
// Nonzeros hashed at a time (buckets + values stay in L1).
#define WN_SJLT_SLOTS 2048

// Buckets and signed values of coordinates col0 ..< col0 + n into
// bucket[i·nnz + t], value[i·nnz + t].
WN_MULTIVERSION
static void sjlt_hash(uint64_t key, uint64_t col0, size_t n, size_t nnz,
                      size_t k, float scale, uint32_t *bucket, float *value) {
  uint64_t rk[WN_SJLT_SLOTS];
  for (size_t i = 0; i < n; i++) rk[i] = wn_row_key(key, col0 + i);
  const uint32_t mag = wn_float_to_bits(scale);
  for (size_t t = 0; t < nnz; t++) {
    const uint64_t lo = (uint64_t)t * k / nnz;
    const uint64_t width = (uint64_t)(t + 1) * k / nnz - lo;
    for (size_t i = 0; i < n; i++) {
      uint64_t w = wn_word_at(rk[i], t);
      bucket[i * nnz + t] = (uint32_t)(lo + (((w >> 32) * width) >> 32));
      value[i * nnz + t] = wn_bits_to_float(mag | ((uint32_t)(w & 1u) << 31));
    }
  }
}

// out[bucket] += value · x over n coordinates, in order.
static inline void sjlt_scatter(const float *x, size_t n, size_t nnz,
                                const uint32_t *bucket, const float *value,
                                float *out) {
  if (nnz == 1) {
    for (size_t i = 0; i < n; i++) out[bucket[i]] += value[i] * x[i];
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const float xi = x[i];
    for (size_t t = 0; t < nnz; t++) out[bucket[i * nnz + t]] += value[i * nnz + t] * xi;
  }
}

// The shared loop: `row(r, c, n)` yields the Float32 values of columns
// c ..< c + n of row r (the caller's input, or a converted copy).
#define WN_SJLT_BODY(ROW)                                                   \
  const uint64_t key = wn_mix64(seed ^ WN_DOMAIN_SJLT);                     \
  const size_t per = WN_SJLT_SLOTS / nnz;                                   \
  uint32_t bucket[WN_SJLT_SLOTS];                                           \
  float value[WN_SJLT_SLOTS];                                               \
  for (size_t c = 0; c < length; c += per) {                                \
    size_t n = length - c < per ? length - c : per;                         \
    sjlt_hash(key, col0 + c, n, nnz, k, scale, bucket, value);              \
    for (size_t r = 0; r < rows; r++) {                                     \
      sjlt_scatter(ROW(r, c, n), n, nnz, bucket, value, out + r * ldo);     \
    }                                                                       \
  }

void wn_sjlt_f32(uint64_t seed, size_t nnz, size_t k, float scale,
                 uint64_t col0, size_t length, const float *x, size_t rows,
                 size_t ldx, float *out, size_t ldo) {
  if (nnz == 0 || nnz > WN_SJLT_SLOTS || nnz > k) return;
#define WN_ROW_F32(r, c, n) (x + (r) * ldx + (c))
  WN_SJLT_BODY(WN_ROW_F32)
#undef WN_ROW_F32
}

void wn_sjlt_f16(uint64_t seed, size_t nnz, size_t k, float scale,
                 uint64_t col0, size_t length, const uint16_t *x, size_t rows,
                 size_t ldx, float *out, size_t ldo) {
  if (nnz == 0 || nnz > WN_SJLT_SLOTS || nnz > k) return;
  float converted[WN_SJLT_SLOTS];
#define WN_ROW_F16(r, c, n) \
  (wn_f16_to_f32(x + (r) * ldx + (c), converted, (n)), converted)
  WN_SJLT_BODY(WN_ROW_F16)
#undef WN_ROW_F16
}

size_t wn_sjlt_max_nnz(void) { return WN_SJLT_SLOTS; }
