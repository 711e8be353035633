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
//
// The loop (issue 15): rows in groups of 8 with interleaved outputs, so a
// coordinate is one 8-wide add; per chunk of 8192 columns each row is
// staged on its own (one sequential stream at a time), then 4 coordinates
// of the 8 rows are transposed in registers and scattered; for nnz = 1 the
// hash of each 8 coordinates runs beside their scatter. See "Diversity at
// scale and sparse JL" in Benchmarks/README.md for the measurements.
#include "counter_rng.h"
#include "winnow_kernels.h"
#include <string.h>

#define WNK_DOMAIN_SJLT 0xBB67AE8584CAA73Bull
// Nonzeros hashed at a time (buckets + values stay in L1/L2); also the
// largest nnz.
#define WNK_SJLT_SLOTS 4096

// Buckets and signed values of coordinates col0 ..< col0 + n into
// bucket[i·nnz + t], value[i·nnz + t] (nnz > 1; CountSketch hashes inside
// its scatter, sjlt_hash_scatter1).
WNK_MULTIVERSION
static void sjlt_hash(uint64_t key, uint64_t col0, size_t n, size_t nnz,
                      size_t k, float scale, uint32_t *bucket, float *value) {
  const uint32_t mag = wnk_float_to_bits(scale);
  uint64_t rk[WNK_SJLT_SLOTS];
  for (size_t i = 0; i < n; i++) rk[i] = wnk_row_key(key, col0 + i);
  for (size_t t = 0; t < nnz; t++) {
    const uint64_t lo = (uint64_t)t * k / nnz;
    const uint64_t width = (uint64_t)(t + 1) * k / nnz - lo;
    for (size_t i = 0; i < n; i++) {
      uint64_t w = wnk_word_at(rk[i], t);
      // width ≤ k < 2^32: a 32 × 32 → 64-bit product.
      bucket[i * nnz + t] = (uint32_t)(
          lo + (((uint64_t)(uint32_t)(w >> 32) * (uint32_t)width) >> 32));
      value[i * nnz + t] = wnk_bits_to_float(mag | ((uint32_t)(w & 1u) << 31));
    }
  }
}

// Rows go in groups of WNK_SJLT_GROUP = 8, interleaved: the outputs as
// ot[h][r], so one 8-wide add serves every row of the group at a
// coordinate. The group's x values of 4 coordinates are transposed in
// registers (two 128-bit loads per row pair, then 8 in-lane shuffles) and
// scattered at once: the input is read once, straight from the rows, with
// no transposed copy. Each lane does exactly what a lone row would (one
// IEEE multiply, one add, in ascending coordinate order), so a row's
// features do not depend on its group.
#define WNK_SJLT_GROUP 8

typedef float wnk_v8 __attribute__((vector_size(32)));
typedef float wnk_v4 __attribute__((vector_size(16)));

// The helpers below pass 8-float vectors by value; they are always inlined
// into the per-ISA clones, so no call ever uses that ABI.
#pragma clang diagnostic ignored "-Wpsabi"

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

static inline __attribute__((always_inline)) wnk_v4 sjlt_load4(const float *p) {
  wnk_v4 v;
  memcpy(&v, p, sizeof v);
  return v;
}

// [a | b]: a in the low 128 bits.
static inline __attribute__((always_inline)) wnk_v8 sjlt_pair(const float *a, const float *b) {
  return __builtin_shufflevector(sjlt_load4(a), sjlt_load4(b), 0, 1, 2, 3, 4,
                                 5, 6, 7);
}

// The nonzeros of one coordinate: ot[bucket[t]][·] += value[t] · v.
static inline __attribute__((always_inline)) void
sjlt_add(wnk_v8 v, size_t nnz, const uint32_t *restrict bucket,
         const float *restrict value, float *restrict ot) {
  for (size_t t = 0; t < nnz; t++) {
    float *o = ot + (size_t)bucket[t] * WNK_SJLT_GROUP;
    wnk_v8 acc;
    memcpy(&acc, o, sizeof acc);
    acc += value[t] * v;
    memcpy(o, &acc, sizeof acc);
  }
}

// c[j] = [rows 0-3 | rows 4-7] of the group at coordinate i + j, j < 4:
// a_r = [row r | row r+4] at coordinates i ..< i + 4 (two 128-bit loads),
// then an in-lane 4 × 4 transpose.
static inline __attribute__((always_inline)) void
sjlt_transpose4(const float *const x[WNK_SJLT_GROUP], size_t i, wnk_v8 c[4]) {
  wnk_v8 a0 = sjlt_pair(x[0] + i, x[4] + i), a1 = sjlt_pair(x[1] + i, x[5] + i);
  wnk_v8 a2 = sjlt_pair(x[2] + i, x[6] + i), a3 = sjlt_pair(x[3] + i, x[7] + i);
  wnk_v8 t0 = __builtin_shufflevector(a0, a1, 0, 8, 1, 9, 4, 12, 5, 13);
  wnk_v8 t1 = __builtin_shufflevector(a0, a1, 2, 10, 3, 11, 6, 14, 7, 15);
  wnk_v8 t2 = __builtin_shufflevector(a2, a3, 0, 8, 1, 9, 4, 12, 5, 13);
  wnk_v8 t3 = __builtin_shufflevector(a2, a3, 2, 10, 3, 11, 6, 14, 7, 15);
  c[0] = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
  c[1] = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
  c[2] = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
  c[3] = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
}

static inline __attribute__((always_inline)) wnk_v8
sjlt_column(const float *const x[WNK_SJLT_GROUP], size_t i) {
  return (wnk_v8){x[0][i], x[1][i], x[2][i], x[3][i],
                  x[4][i], x[5][i], x[6][i], x[7][i]};
}

// Coordinates 0 ..< n of the group's rows `x[0..7]` into ot, with the
// buckets and values of their nonzeros (`nnz` a coordinate).
static inline __attribute__((always_inline)) void
sjlt_scatter_body(const float *const x[WNK_SJLT_GROUP], size_t n, size_t nnz,
                  const uint32_t *restrict bucket,
                  const float *restrict value, float *restrict ot) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    wnk_v8 c[4];
    sjlt_transpose4(x, i, c);
    for (size_t j = 0; j < 4; j++)
      sjlt_add(c[j], nnz, bucket + (i + j) * nnz, value + (i + j) * nnz, ot);
  }
  for (; i < n; i++)
    sjlt_add(sjlt_column(x, i), nnz, bucket + i * nnz, value + i * nnz, ot);
}

WNK_MULTIVERSION
static void sjlt_scatter(const float *const x[WNK_SJLT_GROUP], size_t n,
                         size_t nnz, const uint32_t *restrict bucket,
                         const float *restrict value, float *restrict ot) {
  sjlt_scatter_body(x, n, nnz, bucket, value, ot);
}

typedef uint64_t wnk_u64x8 __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) wnk_u64x8 sjlt_mix8(wnk_u64x8 z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// CountSketch (nnz = 1): the bucket and value of each 8 coordinates hashed
// (8 lanes) right beside their scatter, so the hash's vector arithmetic
// overlaps the scatter's loads and stores; the same buckets and values as
// sjlt_hash.
static inline __attribute__((always_inline)) void
sjlt_hash_scatter1_body(uint64_t key, uint64_t col0, size_t k, float scale,
                        const float *const x[WNK_SJLT_GROUP], size_t n,
                        float *restrict ot) {
  const uint32_t mag = wnk_float_to_bits(scale);
  const wnk_u64x8 lane = {1, 2, 3, 4, 5, 6, 7, 8};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const wnk_u64x8 w =
        sjlt_mix8(sjlt_mix8(key + (col0 + i + lane) * WNK_GAMMA_ROW) + WNK_GAMMA);
    const wnk_u64x8 b = ((w >> 32) * (uint64_t)(uint32_t)k) >> 32;
    const wnk_u64x8 v = ((w << 63) >> 32) | mag;
    uint32_t bucket[8];
    float value[8];
    for (int j = 0; j < 8; j++) {
      bucket[j] = (uint32_t)b[j];
      value[j] = wnk_bits_to_float((uint32_t)v[j]);
    }
    wnk_v8 c[8];
    sjlt_transpose4(x, i, c);
    sjlt_transpose4(x, i + 4, c + 4);
    for (int j = 0; j < 8; j++) sjlt_add(c[j], 1, bucket + j, value + j, ot);
  }
  for (; i < n; i++) {
    const uint64_t w = wnk_word_at(wnk_row_key(key, col0 + i), 0);
    const uint32_t bucket = (uint32_t)(((w >> 32) * (uint64_t)(uint32_t)k) >> 32);
    const float value = wnk_bits_to_float(mag | ((uint32_t)w << 31));
    sjlt_add(sjlt_column(x, i), 1, &bucket, &value, ot);
  }
}

WNK_MULTIVERSION
static void sjlt_hash_scatter1(uint64_t key, uint64_t col0, size_t k,
                               float scale,
                               const float *const x[WNK_SJLT_GROUP], size_t n,
                               float *restrict ot) {
  sjlt_hash_scatter1_body(key, col0, k, scale, x, n, ot);
}
// Columns staged at a time: each row's piece of a chunk is first copied
// (or converted) into `work` on its own, so the memory system sees one
// sequential stream at a time rather than 8 interleaved ones (rows a
// power of two apart contend for the same DRAM banks); the transposes then
// read the copies from L2.
#ifndef WNK_SJLT_CHUNK
#define WNK_SJLT_CHUNK 8192
#endif

// The shared loop over groups and chunks; `ROW(r, c, n, dst)` copies or
// converts the Float32 values of columns c ..< c + n of row r into `dst`.
// Rows past the group's end read zeros.
#define WNK_SJLT_BODY(ROW)                                                    \
  const uint64_t key = wnk_mix64(seed ^ WNK_DOMAIN_SJLT);                     \
  const size_t per = WNK_SJLT_SLOTS / nnz;                                    \
  uint32_t bucket[WNK_SJLT_SLOTS];                                            \
  float value[WNK_SJLT_SLOTS];                                                \
  float *staged = work + k * WNK_SJLT_GROUP;                                  \
  float *zeros = staged + WNK_SJLT_CHUNK * WNK_SJLT_GROUP;                    \
  memset(zeros, 0, WNK_SJLT_CHUNK * sizeof(float));                           \
  for (size_t r0 = 0; r0 < rows; r0 += WNK_SJLT_GROUP) {                      \
    size_t g = rows - r0 < WNK_SJLT_GROUP ? rows - r0 : WNK_SJLT_GROUP;       \
    sjlt_gather_out(out + r0 * ldo, ldo, g, k, work);                         \
    for (size_t c = 0; c < length; c += WNK_SJLT_CHUNK) {                     \
      size_t n = length - c < WNK_SJLT_CHUNK ? length - c : WNK_SJLT_CHUNK;   \
      const float *src[WNK_SJLT_GROUP];                                       \
      for (size_t r = 0; r < WNK_SJLT_GROUP; r++) {                           \
        src[r] = zeros;                                                       \
        if (r < g) {                                                          \
          ROW(r0 + r, c, n, staged + r * WNK_SJLT_CHUNK);                     \
          src[r] = staged + r * WNK_SJLT_CHUNK;                               \
        }                                                                     \
      }                                                                       \
      if (nnz == 1) {                                                         \
        sjlt_hash_scatter1(key, col0 + c, k, scale, src, n, work);            \
        continue;                                                             \
      }                                                                       \
      for (size_t c1 = 0; c1 < n; c1 += per) {                                \
        const size_t m = n - c1 < per ? n - c1 : per;                         \
        const float *sub[WNK_SJLT_GROUP];                                     \
        for (size_t r = 0; r < WNK_SJLT_GROUP; r++) sub[r] = src[r] + c1;     \
        sjlt_hash(key, col0 + c + c1, m, nnz, k, scale, bucket, value);       \
        sjlt_scatter(sub, m, nnz, bucket, value, work);                       \
      }                                                                       \
    }                                                                         \
    sjlt_scatter_out(work, g, k, out + r0 * ldo, ldo);                        \
  }

void wnk_sjlt_f32(uint64_t seed, size_t nnz, size_t k, float scale,
                  uint64_t col0, size_t length, const float *x, size_t rows,
                  size_t ldx, float *out, size_t ldo, float *work) {
  if (nnz == 0 || nnz > WNK_SJLT_SLOTS || nnz > k || k > UINT32_MAX) return;
#define WNK_ROW_F32(r, c, n, dst) \
  memcpy((dst), x + (r) * ldx + (c), (n) * sizeof(float))
  WNK_SJLT_BODY(WNK_ROW_F32)
#undef WNK_ROW_F32
}

void wnk_sjlt_f16(uint64_t seed, size_t nnz, size_t k, float scale,
                  uint64_t col0, size_t length, const uint16_t *x, size_t rows,
                  size_t ldx, float *out, size_t ldo, float *work) {
  if (nnz == 0 || nnz > WNK_SJLT_SLOTS || nnz > k || k > UINT32_MAX) return;
#define WNK_ROW_F16(r, c, n, dst) wnk_f16_to_f32(x + (r) * ldx + (c), (dst), (n))
  WNK_SJLT_BODY(WNK_ROW_F16)
#undef WNK_ROW_F16
}

size_t wnk_sjlt_max_nnz(void) { return WNK_SJLT_SLOTS; }

// The interleaved outputs (k × 8), staged rows (8 × CHUNK) and a row of
// zeros (CHUNK).
size_t wnk_sjlt_work_floats(size_t k) {
  return (k + WNK_SJLT_CHUNK) * WNK_SJLT_GROUP + WNK_SJLT_CHUNK;
}
