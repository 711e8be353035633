// Row-wise dot products with a fixed order of operations.
//
// Scores must not depend on how a pool is cut into blocks, shards, threads
// or machines. OpenBLAS's sgemm does not promise that: measured here
// (0.3.21, Cooperlake and Haswell kernels), a row's result changes with the
// number of rows in the call, its position and the thread count. These
// kernels give every row the same sequence of IEEE operations wherever it
// is: 16 lanes of products and sums (no fused multiply-add; the target is
// built with -ffp-contract=off), then a fixed pairwise reduction. The AVX2
// build only widens the registers, so both builds return the same bits.
#include "winnow_kernels.h"

#define WNK_LANES 16

// Adds lane sums of x·d over k elements into acc (WNK_LANES wide); the tail
// goes to the first lanes, in order.
#define WNK_ACCUMULATE(acc, x, d, k)                                  \
  do {                                                                \
    size_t j_ = 0;                                                    \
    for (; j_ + WNK_LANES <= (k); j_ += WNK_LANES)                    \
      for (int l_ = 0; l_ < WNK_LANES; l_++)                          \
        (acc)[l_] += (x)[j_ + l_] * (d)[j_ + l_];                     \
    for (int l_ = 0; j_ + l_ < (k); l_++)                             \
      (acc)[l_] += (x)[j_ + l_] * (d)[j_ + l_];                       \
  } while (0)

static inline float wnk_reduce_lanes(float *acc) {
  for (int w = WNK_LANES / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; l++) acc[l] += acc[l + w];
  return acc[0];
}

// The body, compiled twice (portable and AVX2). Rows go in tiles of four so
// each direction block is loaded once per tile; a row's operations are the
// same in a tile and alone.
#define WNK_ROW_DOTS_BODY                                                    \
  size_t i = 0;                                                              \
  for (; i + 4 <= rows; i += 4) {                                            \
    const float *x0 = x + i * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx,           \
                *x3 = x2 + ldx;                                              \
    for (size_t g = 0; g < groups; g++) {                                    \
      const float *d = dirs + g * k;                                         \
      float a0[WNK_LANES] = {0}, a1[WNK_LANES] = {0}, a2[WNK_LANES] = {0},   \
            a3[WNK_LANES] = {0};                                             \
      size_t j = 0;                                                          \
      for (; j + WNK_LANES <= k; j += WNK_LANES)                             \
        for (int l = 0; l < WNK_LANES; l++) {                                \
          float dv = d[j + l];                                               \
          a0[l] += x0[j + l] * dv;                                           \
          a1[l] += x1[j + l] * dv;                                           \
          a2[l] += x2[j + l] * dv;                                           \
          a3[l] += x3[j + l] * dv;                                           \
        }                                                                    \
      for (int l = 0; j + l < k; l++) {                                      \
        float dv = d[j + l];                                                 \
        a0[l] += x0[j + l] * dv;                                             \
        a1[l] += x1[j + l] * dv;                                             \
        a2[l] += x2[j + l] * dv;                                             \
        a3[l] += x3[j + l] * dv;                                             \
      }                                                                      \
      out[(i + 0) * ldo + g] = wnk_reduce_lanes(a0);                         \
      out[(i + 1) * ldo + g] = wnk_reduce_lanes(a1);                         \
      out[(i + 2) * ldo + g] = wnk_reduce_lanes(a2);                         \
      out[(i + 3) * ldo + g] = wnk_reduce_lanes(a3);                         \
    }                                                                        \
  }                                                                          \
  for (; i < rows; i++)                                                      \
    for (size_t g = 0; g < groups; g++) {                                    \
      float a[WNK_LANES] = {0};                                              \
      WNK_ACCUMULATE(a, x + i * ldx, dirs + g * k, k);                       \
      out[i * ldo + g] = wnk_reduce_lanes(a);                                \
    }

static void row_dots_portable(const float *x, size_t rows, size_t k,
                              size_t ldx, const float *dirs, size_t groups,
                              float *out, size_t ldo) {
  WNK_ROW_DOTS_BODY
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) static void row_dots_avx2(
    const float *x, size_t rows, size_t k, size_t ldx, const float *dirs,
    size_t groups, float *out, size_t ldo) {
  WNK_ROW_DOTS_BODY
}

static int has_avx2(void) {
  static int cached = -1;
  if (cached < 0) cached = __builtin_cpu_supports("avx2") ? 1 : 0;
  return cached;
}
#endif

void wnk_row_dots_f32(const float *x, size_t rows, size_t k, size_t ldx,
                      const float *dirs, size_t groups, float *out,
                      size_t ldo) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (has_avx2()) {
    row_dots_avx2(x, rows, k, ldx, dirs, groups, out, ldo);
    return;
  }
#endif
  row_dots_portable(x, rows, k, ldx, dirs, groups, out, ldo);
}

float wnk_dot_f32(const float *x, const float *y, size_t k) {
  float a[WNK_LANES] = {0};
  WNK_ACCUMULATE(a, x, y, k);
  return wnk_reduce_lanes(a);
}
