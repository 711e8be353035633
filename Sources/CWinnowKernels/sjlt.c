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

#define WNK_DOMAIN_SJLT 0xBB67AE8584CAA73Bull
// Nonzeros hashed at a time (buckets + values stay in L1/L2).
#define WNK_SJLT_SLOTS 4096

// Buckets and signed values of coordinates col0 ..< col0 + n into
// bucket[i·nnz + t], value[i·nnz + t].
WNK_MULTIVERSION
static void sjlt_hash(uint64_t key, uint64_t col0, size_t n, size_t nnz,
                      size_t k, float scale, uint32_t *bucket, float *value) {
  uint64_t rk[WNK_SJLT_SLOTS];
  for (size_t i = 0; i < n; i++) rk[i] = wnk_row_key(key, col0 + i);
  const uint32_t mag = wnk_float_to_bits(scale);
  for (size_t t = 0; t < nnz; t++) {
    const uint64_t lo = (uint64_t)t * k / nnz;
    const uint64_t width = (uint64_t)(t + 1) * k / nnz - lo;
    for (size_t i = 0; i < n; i++) {
      uint64_t w = wnk_word_at(rk[i], t);
      bucket[i * nnz + t] = (uint32_t)(lo + (((w >> 32) * width) >> 32));
      value[i * nnz + t] = wnk_bits_to_float(mag | ((uint32_t)(w & 1u) << 31));
    }
  }
}

// Rows go in groups of WNK_SJLT_GROUP, interleaved: the group's x values of
// a chunk as xt[i][r] and its outputs as ot[h][r], so one scatter-add of a
// WNK_SJLT_GROUP-wide vector serves every row of the group. Each lane does
// exactly what a lone row would (one IEEE multiply, one add, in ascending
// coordinate order), so a row's features do not depend on its group.
#define WNK_SJLT_GROUP 8
#define WNK_SJLT_CHUNK 4096
// Floats ahead of the transpose that are prefetched.
#define WNK_SJLT_PREFETCH 1024

WNK_MULTIVERSION
static void sjlt_scatter(const float *restrict xt, size_t n, size_t nnz,
                         const uint32_t *restrict bucket,
                         const float *restrict value, float *restrict ot) {
  for (size_t i = 0; i < n; i++) {
    for (size_t t = 0; t < nnz; t++) {
      float *o = ot + (size_t)bucket[i * nnz + t] * WNK_SJLT_GROUP;
      const float v = value[i * nnz + t];
      for (int r = 0; r < WNK_SJLT_GROUP; r++) o[r] += v * xt[i * WNK_SJLT_GROUP + r];
    }
  }
}

// ot[h][r] ↔ out[r][h] for the group's `g` rows (zeros in the unused lanes).
static void sjlt_gather_out(const float *out, size_t ldo, size_t g, size_t k,
                            float *ot) {
  memset(ot, 0, k * WNK_SJLT_GROUP * sizeof(float));
  for (size_t r = 0; r < g; r++)
    for (size_t h = 0; h < k; h++) ot[h * WNK_SJLT_GROUP + r] = out[r * ldo + h];
}

static void sjlt_scatter_out(const float *ot, size_t g, size_t k, float *out,
                             size_t ldo) {
  for (size_t r = 0; r < g; r++)
    for (size_t h = 0; h < k; h++) out[r * ldo + h] = ot[h * WNK_SJLT_GROUP + r];
}

typedef float wnk_v8 __attribute__((vector_size(32)));


// xt[i][r] = rows[r][i] for i < n (8 × 8 blocks transposed in registers).
WNK_MULTIVERSION
static void sjlt_transpose(const float *const rows[WNK_SJLT_GROUP], size_t n,
                           float *restrict xt) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    // Eight interleaved streams cross a page every 1024 floats, where the
    // hardware prefetchers stop: fetch ahead by hand.
    if ((i & 15) == 0)
      for (int r = 0; r < WNK_SJLT_GROUP; r++)
        __builtin_prefetch(rows[r] + i + WNK_SJLT_PREFETCH, 0, 0);
    wnk_v8 a0, a1, a2, a3, a4, a5, a6, a7;
    memcpy(&a0, rows[0] + i, sizeof a0);
    memcpy(&a1, rows[1] + i, sizeof a1);
    memcpy(&a2, rows[2] + i, sizeof a2);
    memcpy(&a3, rows[3] + i, sizeof a3);
    memcpy(&a4, rows[4] + i, sizeof a4);
    memcpy(&a5, rows[5] + i, sizeof a5);
    memcpy(&a6, rows[6] + i, sizeof a6);
    memcpy(&a7, rows[7] + i, sizeof a7);
#define LO2(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 4, 12, 5, 13)
#define HI2(a, b) __builtin_shufflevector(a, b, 2, 10, 3, 11, 6, 14, 7, 15)
#define LO4(a, b) __builtin_shufflevector(a, b, 0, 1, 8, 9, 4, 5, 12, 13)
#define HI4(a, b) __builtin_shufflevector(a, b, 2, 3, 10, 11, 6, 7, 14, 15)
#define LO8(a, b) __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11)
#define HI8(a, b) __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15)
    wnk_v8 t0 = LO2(a0, a1), t1 = HI2(a0, a1), t2 = LO2(a2, a3), t3 = HI2(a2, a3);
    wnk_v8 t4 = LO2(a4, a5), t5 = HI2(a4, a5), t6 = LO2(a6, a7), t7 = HI2(a6, a7);
    wnk_v8 u0 = LO4(t0, t2), u1 = HI4(t0, t2), u2 = LO4(t1, t3), u3 = HI4(t1, t3);
    wnk_v8 u4 = LO4(t4, t6), u5 = HI4(t4, t6), u6 = LO4(t5, t7), u7 = HI4(t5, t7);
    wnk_v8 c[8] = {LO8(u0, u4), LO8(u1, u5), LO8(u2, u6), LO8(u3, u7),
                  HI8(u0, u4), HI8(u1, u5), HI8(u2, u6), HI8(u3, u7)};
#undef LO2
#undef HI2
#undef LO4
#undef HI4
#undef LO8
#undef HI8
    memcpy(xt + i * WNK_SJLT_GROUP, c, sizeof c);
  }
  for (; i < n; i++)
    for (int r = 0; r < WNK_SJLT_GROUP; r++) xt[i * WNK_SJLT_GROUP + r] = rows[r][i];
}

// The shared loop over groups and chunks; `ROW(r, c, n, dst)` gives the
// Float32 values of columns c ..< c + n of row r: a pointer into the input,
// or `dst` after converting into it. Rows past the group's end read zeros.
#define WNK_SJLT_BODY(ROW)                                                    \
  const uint64_t key = wnk_mix64(seed ^ WNK_DOMAIN_SJLT);                     \
  const size_t per = WNK_SJLT_CHUNK / nnz > 0 ? WNK_SJLT_CHUNK / nnz : 1;     \
  uint32_t bucket[WNK_SJLT_SLOTS];                                            \
  float value[WNK_SJLT_SLOTS];                                                \
  float *xt = work + k * WNK_SJLT_GROUP;                                      \
  float *converted = xt + WNK_SJLT_CHUNK * WNK_SJLT_GROUP;                    \
  float *zeros = converted + WNK_SJLT_CHUNK * WNK_SJLT_GROUP;                 \
  memset(zeros, 0, WNK_SJLT_CHUNK * sizeof(float));                           \
  for (size_t r0 = 0; r0 < rows; r0 += WNK_SJLT_GROUP) {                      \
    size_t g = rows - r0 < WNK_SJLT_GROUP ? rows - r0 : WNK_SJLT_GROUP;       \
    sjlt_gather_out(out + r0 * ldo, ldo, g, k, work);                         \
    for (size_t c = 0; c < length; c += per) {                                \
      size_t n = length - c < per ? length - c : per;                         \
      const float *src[WNK_SJLT_GROUP];                                       \
      for (size_t r = 0; r < WNK_SJLT_GROUP; r++)                             \
        src[r] = r < g ? ROW(r0 + r, c, n, converted + r * WNK_SJLT_CHUNK)    \
                       : zeros;                                               \
      sjlt_transpose(src, n, xt);                                             \
      sjlt_hash(key, col0 + c, n, nnz, k, scale, bucket, value);              \
      sjlt_scatter(xt, n, nnz, bucket, value, work);                          \
    }                                                                         \
    sjlt_scatter_out(work, g, k, out + r0 * ldo, ldo);                        \
  }

void wnk_sjlt_f32(uint64_t seed, size_t nnz, size_t k, float scale,
                  uint64_t col0, size_t length, const float *x, size_t rows,
                  size_t ldx, float *out, size_t ldo, float *work) {
  if (nnz == 0 || nnz > WNK_SJLT_SLOTS || nnz > k) return;
#define WNK_ROW_F32(r, c, n, dst) (x + (r) * ldx + (c))
  WNK_SJLT_BODY(WNK_ROW_F32)
#undef WNK_ROW_F32
}

static inline const float *convert_row(const uint16_t *x, size_t n, float *dst) {
  wnk_f16_to_f32(x, dst, n);
  return dst;
}

void wnk_sjlt_f16(uint64_t seed, size_t nnz, size_t k, float scale,
                  uint64_t col0, size_t length, const uint16_t *x, size_t rows,
                  size_t ldx, float *out, size_t ldo, float *work) {
  if (nnz == 0 || nnz > WNK_SJLT_SLOTS || nnz > k) return;
#define WNK_ROW_F16(r, c, n, dst) convert_row(x + (r) * ldx + (c), (n), (dst))
  WNK_SJLT_BODY(WNK_ROW_F16)
#undef WNK_ROW_F16
}

size_t wnk_sjlt_max_nnz(void) { return WNK_SJLT_SLOTS; }

size_t wnk_sjlt_work_floats(size_t k) {
  return (k + 2 * WNK_SJLT_CHUNK) * WNK_SJLT_GROUP + WNK_SJLT_CHUNK;
}
