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
// coordinate is one 8-wide add into a k × 8 block (L2-resident); per chunk
// of 4096 columns each row is read in place or, when the rows are a power
// of two apart (or halves), staged on its own (one sequential stream at
// a time) into rows 4112 floats apart, then 4 coordinates of the 8 rows
// are transposed in registers (every load off one base register) and
// scattered. While a chunk is scattered the next one is prefetched into
// L2 row by row (prefetcht1, 4 lines a step), so the staging copy reads
// L2 instead of waiting on DRAM. For nnz = 1 the bucket (as an offset into
// the block) and value of each 8 coordinates are hashed in 8 lanes two
// steps ahead of their scatter and go through a small ring in memory: one
// scalar load for the offset and one broadcast load for the value at the
// scatter, rather than lane extractions, and the scatter never waits on
// the hash's latency. The k × 8 block is gathered from and scattered to
// the caller's rows with 8 × 8 register transposes.
//
// Measured on 2026-12-04 (AMD EPYC family 25 model 17, 2 cores, the
// AVX-512 clone), before → after this loop:
// - C harness outside the tree, the old and new kernels alternated in one
//   process on the same 8 × 2^25 Float32 rows laid out as the benchmark's
//   (SparseProjector's 2^18-column segments), k = 8192, one thread, best
//   of 3 CPU-time runs, three pairings: CountSketch 5.6-6.8 → 9.4-11.5
//   GB/s (1.5-1.7×); in cache ≈ 3.6 → ≈ 2.5 ns per coordinate of 8 rows.
//   The AVX2 clone alone: ≈ 9.9 → 5.5 ns. Half precision 1.7×; s = 4
//   unchanged (its loop is sjlt_hash + sjlt_scatter).
// - `cd Benchmarks && .build/release/WinnowBench --only sjlt`, binaries
//   built before and after, alternated over 4 rounds: projection.sjlt.s1
//   7.53 → 15.85 GB/s against reads of 30.9 / 31.1 GB/s (0.24× → 0.51×)
//   in the quietest round (load ≈ 1); 0.22-0.25× → 0.35-0.38× while the
//   load average was 1.2-4.1, 0.25-0.30× → 0.30-0.42× in 3 more rounds
//   at load ≈ 3 (the read is memory-bound and barely feels the load, the
//   SJLT is CPU-bound: ≈ 10-11 GB/s a core).
// Tried and dropped: reading the rows in place with the prefetch and no
// staging (≈ 0.8× of staged: 8 rows a power of two apart share L1 sets),
// the staging copy fused into the scatter loop (slower), prefetching two
// chunks ahead, chunks of 1024-8192 columns (within noise). See "Diversity
// at scale and sparse JL" in Benchmarks/README.md.
//
// Later the same day (same harness, one thread, same CPU): the staging
// copy is ≈ 25 % of the time (≈ 0.66 ns of ≈ 2.9 ns a coordinate of 8
// rows, even from a cache-resident source), and in place reads avoid it
// at most strides: 14.4-15.5 GB/s against 11.2-11.9 staged at strides of
// 2^25 floats + 16, 256, 512, 1040, 2048, 4096 or 16384 (1.25-1.4×),
// 1.17× at 2^25 + 1024, 1.1-1.5× at 2^25 + 2^16, 2^20, 2^23 or 2^24;
// only at exactly 2^25 does it lose (9.0-9.6 GB/s against 10.5-11.1
// staged), hence the rule in WNK_SJLT_BODY. Also measured and dropped,
// with rows a power of two apart: a cheaper hash (one mix64 instead of
// two: unchanged, the hash overlaps the memory work), staging transposed
// to interleaved rows (0.7-0.8×), two rows staged interleaved (0.9×), a
// double-buffered copy spread over the scatter loop (0.55-0.88×), a
// 2 × 8 × 64-float ring copied just ahead in L1 (1.0-1.2×, within the
// noise), in place with 1-4 rows staged (≈ 1.0×), and prefetch variants
// for aliased rows in place (0.68-0.84×).
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
// Tuning knobs (none changes a result; each was measured, see the header):
// CountSketch hashes WNK_SJLT_AHEAD steps of 8 coordinates before their
// scatter; WNK_SJLT_CHUNK columns are staged at a time, each row's piece
// WNK_SJLT_STAGE_LD floats from the last (the pad spreads the staged rows
// over the L1 sets); the next chunk (WNK_SJLT_PF_AHEAD on) is prefetched
// with locality hint WNK_SJLT_PF_LEVEL (2: prefetcht1) while one is
// scattered.
#ifndef WNK_SJLT_AHEAD
#define WNK_SJLT_AHEAD 2
#endif
#define WNK_SJLT_RING (WNK_SJLT_AHEAD + 1)
#ifndef WNK_SJLT_CHUNK
#define WNK_SJLT_CHUNK 4096
#endif
#ifndef WNK_SJLT_PF_AHEAD
#define WNK_SJLT_PF_AHEAD 1
#endif
#ifndef WNK_SJLT_STAGE_PAD
#define WNK_SJLT_STAGE_PAD 16
#endif
#define WNK_SJLT_STAGE_LD (WNK_SJLT_CHUNK + WNK_SJLT_STAGE_PAD)
#ifndef WNK_SJLT_PF_LEVEL
#define WNK_SJLT_PF_LEVEL 2
#endif

typedef float wnk_v8 __attribute__((vector_size(32)));
typedef float wnk_v4 __attribute__((vector_size(16)));

// The helpers below pass 8-float vectors by value; they are always inlined
// into the per-ISA clones, so no call ever uses that ABI.
#pragma clang diagnostic ignored "-Wpsabi"

static inline __attribute__((always_inline)) wnk_v8 sjlt_load8(const float *p) {
  wnk_v8 v;
  memcpy(&v, p, sizeof v);
  return v;
}

// dst[j·ldd + i] = src[i·lds + j] for i, j < 8 (an 8 × 8 transpose).
static inline __attribute__((always_inline)) void
sjlt_transpose8x8(const float *src, size_t lds, float *dst, size_t ldd) {
  wnk_v8 a[8], t[8], u[8];
  for (int i = 0; i < 8; i++) a[i] = sjlt_load8(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shufflevector(a[i], a[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = __builtin_shufflevector(a[i], a[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4)
    for (int h = 0; h < 2; h++) {
      u[i + 2 * h] = __builtin_shufflevector(t[i + h], t[i + 2 + h], 0, 1, 8, 9, 4, 5, 12, 13);
      u[i + 2 * h + 1] = __builtin_shufflevector(t[i + h], t[i + 2 + h], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  // u[0..3]: rows 0-3, columns (0,4), (1,5), (2,6), (3,7); u[4..7]: rows 4-7.
  for (int j = 0; j < 4; j++) {
    wnk_v8 lo = __builtin_shufflevector(u[j], u[4 + j], 0, 1, 2, 3, 8, 9, 10, 11);
    wnk_v8 hi = __builtin_shufflevector(u[j], u[4 + j], 4, 5, 6, 7, 12, 13, 14, 15);
    memcpy(dst + j * ldd, &lo, sizeof lo);
    memcpy(dst + (j + 4) * ldd, &hi, sizeof hi);
  }
}

// ot[h][r] ↔ out[r][h] for the group's `g` rows (zeros in the unused lanes).
WNK_MULTIVERSION
static void sjlt_gather_out(const float *out, size_t ldo, size_t g, size_t k,
                            float *ot) {
  size_t h0 = 0;
  if (g == WNK_SJLT_GROUP)
    for (; h0 + 8 <= k; h0 += 8)
      sjlt_transpose8x8(out + h0, ldo, ot + h0 * WNK_SJLT_GROUP, WNK_SJLT_GROUP);
  memset(ot + h0 * WNK_SJLT_GROUP, 0, (k - h0) * WNK_SJLT_GROUP * sizeof(float));
  for (size_t r = 0; r < g; r++)
    for (size_t h = h0; h < k; h++) ot[h * WNK_SJLT_GROUP + r] = out[r * ldo + h];
}

WNK_MULTIVERSION
static void sjlt_scatter_out(const float *ot, size_t g, size_t k, float *out,
                             size_t ldo) {
  size_t h0 = 0;
  if (g == WNK_SJLT_GROUP)
    for (; h0 + 8 <= k; h0 += 8)
      sjlt_transpose8x8(ot + h0 * WNK_SJLT_GROUP, WNK_SJLT_GROUP, out + h0, ldo);
  for (size_t r = 0; r < g; r++)
    for (size_t h = h0; h < k; h++) out[r * ldo + h] = ot[h * WNK_SJLT_GROUP + r];
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

// sjlt_transpose4 for the staged rows, WNK_SJLT_STAGE_LD floats apart:
// every load from one base register.
static inline __attribute__((always_inline)) void
sjlt_transpose4s(const float *x, wnk_v8 c[4]) {
  const float *const r[WNK_SJLT_GROUP] = {
      x, x + WNK_SJLT_STAGE_LD, x + 2 * WNK_SJLT_STAGE_LD,
      x + 3 * WNK_SJLT_STAGE_LD, x + 4 * WNK_SJLT_STAGE_LD,
      x + 5 * WNK_SJLT_STAGE_LD, x + 6 * WNK_SJLT_STAGE_LD,
      x + 7 * WNK_SJLT_STAGE_LD};
  sjlt_transpose4(r, 0, c);
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

// Software prefetch of the next chunk's rows while the current one is
// scattered: the group's rows walked one after the other (one sequential
// stream at a time, as the staging copy did), 4 cache lines a step from
// p up to e, then the next row.
typedef struct {
  const char *row[WNK_SJLT_GROUP];
  const char *p, *e;
  size_t rows, r, bytes;
} sjlt_prefetch_t;

static inline __attribute__((always_inline)) void
sjlt_prefetch4(sjlt_prefetch_t *pf) {
  if (pf->p < pf->e) {
    __builtin_prefetch(pf->p, 0, WNK_SJLT_PF_LEVEL);
    __builtin_prefetch(pf->p + 64, 0, WNK_SJLT_PF_LEVEL);
    __builtin_prefetch(pf->p + 128, 0, WNK_SJLT_PF_LEVEL);
    __builtin_prefetch(pf->p + 192, 0, WNK_SJLT_PF_LEVEL);
    pf->p += 256;
    if (pf->p >= pf->e && ++pf->r < pf->rows) {
      pf->p = pf->row[pf->r];
      pf->e = pf->p + pf->bytes;
    }
  }
}

// `steps` of sjlt_prefetch4.
static inline __attribute__((always_inline)) void
sjlt_prefetch_steps(sjlt_prefetch_t *pf, size_t steps) {
  for (size_t q = 0; q < steps; q++) sjlt_prefetch4(pf);
}

typedef uint64_t wnk_u64x8 __attribute__((vector_size(64)));
typedef uint32_t wnk_u32x8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) wnk_u64x8 sjlt_mix8(wnk_u64x8 z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// CountSketch (nnz = 1): the bucket and value of each 8 coordinates hashed
// (8 lanes) right beside their scatter, so the hash's vector arithmetic
// overlaps the scatter's loads and stores; the same buckets and values as
// sjlt_hash.
//
// The group's rows come either staged (`xs`, rows WNK_SJLT_STAGE_LD floats
// apart, every load from one base register) or in place (`xr`, eight row
// pointers, when `xs` is NULL); the wrappers below fix which at compile
// time.
static inline __attribute__((always_inline)) void
sjlt_hash_scatter1_body(uint64_t key, uint64_t col0, size_t k, float scale,
                        const float *xs, const float *const *xr, size_t n,
                        float *restrict ot, sjlt_prefetch_t *pfp) {
  const uint32_t mag = wnk_float_to_bits(scale);
  const wnk_u64x8 lane = {1, 2, 3, 4, 5, 6, 7, 8};
  sjlt_prefetch_t pf = *pfp;
  // Buckets (as offsets into ot, bucket · 8 floats, so the scatter adds
  // them to its base with no shift) and values go through a ring in
  // memory, hashed WNK_SJLT_AHEAD steps of 8 coordinates before their
  // scatter reads them: one load each at the scatter rather than a lane
  // extraction, and the scatter never waits for the hash's latency.
  uint64_t offset[WNK_SJLT_RING][8] __attribute__((aligned(64)));
  uint32_t value[WNK_SJLT_RING][8] __attribute__((aligned(32)));
  const size_t n8 = n / 8 * 8;
#define WNK_SJLT_HASH8(at, slot)                                               \
  do {                                                                        \
    const wnk_u64x8 w_ = sjlt_mix8(                                           \
        sjlt_mix8(key + (col0 + (at) + lane) * WNK_GAMMA_ROW) + WNK_GAMMA);    \
    const wnk_u64x8 o_ = (((w_ >> 32) * (uint64_t)(uint32_t)k) >> 32)         \
                         << 3;                                                \
    const wnk_u32x8 v_ = (__builtin_convertvector(w_, wnk_u32x8) << 31) | mag; \
    memcpy(offset[(slot)], &o_, sizeof o_);                                   \
    memcpy(value[(slot)], &v_, sizeof v_);                                    \
  } while (0)
  for (size_t a = 0; a < WNK_SJLT_AHEAD && a * 8 < n8; a++) WNK_SJLT_HASH8(a * 8, a);
  size_t i = 0, slot = 0;
  for (; i < n8; i += 8) {
    const size_t ahead = i + WNK_SJLT_AHEAD * 8;
    if (ahead < n8) WNK_SJLT_HASH8(ahead, (slot + WNK_SJLT_AHEAD) % WNK_SJLT_RING);
    __asm__("" : "+m"(offset), "+m"(value));
    wnk_v8 c[8];
    if (xs) {
      sjlt_transpose4s(xs + i, c);
      sjlt_transpose4s(xs + i + 4, c + 4);
    } else {
      sjlt_transpose4(xr, i, c);
      sjlt_transpose4(xr, i + 4, c + 4);
    }
    for (int j = 0; j < 8; j++) {
      float *o = ot + offset[slot][j];
      wnk_v8 acc;
      memcpy(&acc, o, sizeof acc);
      acc += wnk_bits_to_float(value[slot][j]) * c[j];
      memcpy(o, &acc, sizeof acc);
    }
    sjlt_prefetch4(&pf);
    slot = (slot + 1) % WNK_SJLT_RING;
  }
#undef WNK_SJLT_HASH8
  // The last n mod 8 coordinates, one at a time, from either layout.
  const float *staged_rows[WNK_SJLT_GROUP];
  if (xs)
    for (int r = 0; r < WNK_SJLT_GROUP; r++) staged_rows[r] = xs + r * WNK_SJLT_STAGE_LD;
  const float *const *rows = xs ? staged_rows : xr;
  for (; i < n; i++) {
    const uint64_t w = wnk_word_at(wnk_row_key(key, col0 + i), 0);
    const uint32_t bucket = (uint32_t)(((w >> 32) * (uint64_t)(uint32_t)k) >> 32);
    const float value = wnk_bits_to_float(mag | ((uint32_t)w << 31));
    sjlt_add(sjlt_column(rows, i), 1, &bucket, &value, ot);
  }
}

WNK_MULTIVERSION
static void sjlt_hash_scatter1(uint64_t key, uint64_t col0, size_t k,
                               float scale, const float *xs, size_t n,
                               float *restrict ot, sjlt_prefetch_t *pf) {
  sjlt_hash_scatter1_body(key, col0, k, scale, xs, NULL, n, ot, pf);
}

WNK_MULTIVERSION
static void sjlt_hash_scatter1_rows(uint64_t key, uint64_t col0, size_t k,
                                    float scale, const float *const *xr,
                                    size_t n, float *restrict ot,
                                    sjlt_prefetch_t *pf) {
  sjlt_hash_scatter1_body(key, col0, k, scale, NULL, xr, n, ot, pf);
}

// The prefetch plan for columns c ..< c + n of rows r0 ..< r0 + g
// (nothing when n = 0); sets `steps` to its number of sjlt_prefetch4 steps.
#define WNK_SJLT_PLAN(pf, RAW, ESZ, r0, g, c, n, steps)                       \
  do {                                                                        \
    for (size_t r_ = 0; r_ < (g); r_++)                                       \
      (pf).row[r_] =                                                          \
          (const char *)((uintptr_t)RAW((r0) + r_, (c)) & ~(uintptr_t)63);    \
    (pf).rows = (n) ? (g) : 0;                                                \
    (pf).r = 0;                                                               \
    (pf).bytes = ((n) * (ESZ) + 63 + 255) / 256 * 256;                        \
    (pf).p = (pf).row[0];                                                     \
    (pf).e = (n) ? (pf).p + (pf).bytes : (pf).p;                              \
    (steps) = (pf).rows * ((pf).bytes / 256);                                 \
  } while (0)

// Rows `bytes` apart that alias in every cache and TLB index below their
// stride: a power of two of 4 KiB or more (see WNK_SJLT_BODY).
static inline int sjlt_aliased_stride(size_t bytes) {
  return bytes >= 4096 && (bytes & (bytes - 1)) == 0;
}

// The shared loop over groups and chunks; `ROW(r, c, n, dst)` copies or
// converts the Float32 values of columns c ..< c + n of row r into `dst`,
// `RAW(r, c)` is the address of that input and `ESZ` its element size.
// Each row's piece of a chunk is staged on its own (one sequential stream
// at a time; the rows may lie a power of two apart, which the memory
// system handles badly when they are read interleaved), from L2 since the
// piece was prefetched while the previous chunk was scattered. Staged rows
// past the group's end hold zeros.
//
// Float32 rows are read in place instead (`IN_PLACE(g)` true, `FROW(r, c)`
// their address) unless their stride is a power of two of 4 KiB or more:
// in place runs at ≈ 0.85× of staged there, and at 1.1-1.5× at every
// other stride measured, 4 KiB multiples included (the staging copy was
// ≈ 25 % of the time). The arithmetic is the same either way.
#define WNK_SJLT_BODY(ROW, RAW, ESZ, IN_PLACE, FROW)                          \
  const uint64_t key = wnk_mix64(seed ^ WNK_DOMAIN_SJLT);                     \
  const size_t per = WNK_SJLT_SLOTS / nnz;                                    \
  uint32_t bucket[WNK_SJLT_SLOTS];                                            \
  float value[WNK_SJLT_SLOTS];                                                \
  float *staged = work + k * WNK_SJLT_GROUP;                                  \
  for (size_t r0 = 0; r0 < rows; r0 += WNK_SJLT_GROUP) {                      \
    size_t g = rows - r0 < WNK_SJLT_GROUP ? rows - r0 : WNK_SJLT_GROUP;       \
    sjlt_gather_out(out + r0 * ldo, ldo, g, k, work);                         \
    if (g < WNK_SJLT_GROUP)                                                   \
      memset(staged + g * WNK_SJLT_STAGE_LD, 0,                               \
             (WNK_SJLT_GROUP - g) * WNK_SJLT_STAGE_LD * sizeof(float));       \
    const int in_place = (IN_PLACE(g));                                       \
    for (size_t c = 0; c < length; c += WNK_SJLT_CHUNK) {                     \
      size_t n = length - c < WNK_SJLT_CHUNK ? length - c : WNK_SJLT_CHUNK;   \
      size_t c2 = c + WNK_SJLT_PF_AHEAD * WNK_SJLT_CHUNK, n2 = 0;            \
      if (c2 < length)                                                        \
        n2 = length - c2 < WNK_SJLT_CHUNK ? length - c2 : WNK_SJLT_CHUNK;     \
      const float *src[WNK_SJLT_GROUP];                                       \
      for (size_t r = 0; r < WNK_SJLT_GROUP; r++) {                           \
        src[r] = staged + r * WNK_SJLT_STAGE_LD;                              \
        if (r < g && in_place)                                                \
          src[r] = FROW(r0 + r, c);                                           \
        else if (r < g)                                                       \
          ROW(r0 + r, c, n, staged + r * WNK_SJLT_STAGE_LD);                  \
      }                                                                       \
      sjlt_prefetch_t pf;                                                     \
      size_t steps;                                                           \
      WNK_SJLT_PLAN(pf, RAW, ESZ, r0, g, c2, n2, steps);                      \
      if (nnz == 1 && in_place) {                                             \
        sjlt_hash_scatter1_rows(key, col0 + c, k, scale, src, n, work, &pf);  \
        continue;                                                             \
      }                                                                       \
      if (nnz == 1) {                                                         \
        sjlt_hash_scatter1(key, col0 + c, k, scale, staged, n, work, &pf);    \
        continue;                                                             \
      }                                                                       \
      const size_t subs = (n + per - 1) / per;                                \
      const size_t per_sub = (steps + subs - 1) / subs;                       \
      for (size_t c1 = 0; c1 < n; c1 += per) {                                \
        const size_t m = n - c1 < per ? n - c1 : per;                         \
        const float *sub[WNK_SJLT_GROUP];                                     \
        for (size_t r = 0; r < WNK_SJLT_GROUP; r++) sub[r] = src[r] + c1;     \
        sjlt_hash(key, col0 + c + c1, m, nnz, k, scale, bucket, value);       \
        sjlt_prefetch_steps(&pf, per_sub);                                    \
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
#define WNK_RAW_F32(r, c) (x + (r) * ldx + (c))
#define WNK_IN_PLACE_F32(g) ((g) == 1 || !sjlt_aliased_stride(ldx * sizeof(float)))
  WNK_SJLT_BODY(WNK_ROW_F32, WNK_RAW_F32, sizeof(float), WNK_IN_PLACE_F32,
                WNK_RAW_F32)
#undef WNK_ROW_F32
#undef WNK_RAW_F32
#undef WNK_IN_PLACE_F32
}

void wnk_sjlt_f16(uint64_t seed, size_t nnz, size_t k, float scale,
                  uint64_t col0, size_t length, const uint16_t *x, size_t rows,
                  size_t ldx, float *out, size_t ldo, float *work) {
  if (nnz == 0 || nnz > WNK_SJLT_SLOTS || nnz > k || k > UINT32_MAX) return;
#define WNK_ROW_F16(r, c, n, dst) wnk_f16_to_f32(x + (r) * ldx + (c), (dst), (n))
#define WNK_RAW_F16(r, c) (x + (r) * ldx + (c))
// Halves are always staged: the copy converts them.
#define WNK_IN_PLACE_F16(g) 0
#define WNK_NO_ROW(r, c) ((const float *)NULL)
  WNK_SJLT_BODY(WNK_ROW_F16, WNK_RAW_F16, sizeof(uint16_t), WNK_IN_PLACE_F16,
                WNK_NO_ROW)
#undef WNK_ROW_F16
#undef WNK_RAW_F16
#undef WNK_IN_PLACE_F16
#undef WNK_NO_ROW
}

size_t wnk_sjlt_max_nnz(void) { return WNK_SJLT_SLOTS; }

// The interleaved outputs (k × 8) and the staged rows (8 × STAGE_LD).
size_t wnk_sjlt_work_floats(size_t k) {
  return (k + WNK_SJLT_STAGE_LD) * WNK_SJLT_GROUP;
}
