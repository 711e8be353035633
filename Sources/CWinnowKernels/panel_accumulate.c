// The dense projection's multiply, with a fixed order of operations.
//
// Projected features must not depend on how the rows are cut into blocks,
// where a block starts, how P is cut into panels (the memory budget), or the
// thread count. OpenBLAS's sgemm does not promise that: measured here
// (0.3.21), a row's result changes with the number of rows in the call and
// its position (Haswell kernels: rows in a 4-row tail tile; Cooperlake:
// the small-matrix kernel below M·N·K = 10^6). Here every element of
// T += X·P is one chain of fused multiply-adds over the panel's rows in
// order, t = fma(x[w], p[w][j], t), carried through memory between calls;
// tiling, vector width and threads only change which chains run side by
// side, never the operations of one chain. So the AVX-512, AVX2 and portable
// builds return the same bits (every path uses an IEEE fused multiply-add).
#include "winnow_kernels.h"
#include <math.h>

// Rows of P per pass over a tile: a WB × CB block of P stays in L1/L2 while
// every row tile of X streams past it.
#define WNK_PANEL_WB 128

// One full tile: RT rows × CB columns of T in registers, chains over
// w in [w0, w1).
#define WNK_PANEL_TILE(RT, CB)                                                \
  {                                                                           \
    float acc[RT][CB];                                                        \
    for (int i = 0; i < RT; i++)                                              \
      for (int j = 0; j < CB; j++) acc[i][j] = t[(r + i) * ldt + cb + j];     \
    for (size_t w = w0; w < w1; w++) {                                        \
      const float *pw = p + w * ldp + cb;                                     \
      for (int i = 0; i < RT; i++) {                                          \
        float xv = x[(r + i) * ldx + w];                                      \
        for (int j = 0; j < CB; j++)                                          \
          acc[i][j] = __builtin_fmaf(xv, pw[j], acc[i][j]);                   \
      }                                                                       \
    }                                                                         \
    for (int i = 0; i < RT; i++)                                              \
      for (int j = 0; j < CB; j++) t[(r + i) * ldt + cb + j] = acc[i][j];     \
  }

// The body for columns [c0, c1): full tiles, then leftover rows in tiles of
// 4, 2 and 1 (fewer passes than one row at a time), then a partial column
// block chained in memory.
#define WNK_PANEL_BODY(RT, CB)                                                \
  for (size_t cb = c0; cb < c1; cb += CB) {                                   \
    size_t cw = c1 - cb < CB ? c1 - cb : CB;                                  \
    for (size_t w0 = 0; w0 < n; w0 += WNK_PANEL_WB) {                         \
      size_t w1 = w0 + WNK_PANEL_WB < n ? w0 + WNK_PANEL_WB : n;              \
      size_t r = 0;                                                           \
      if (cw == CB) {                                                         \
        for (; r + RT <= rows; r += RT) WNK_PANEL_TILE(RT, CB)                \
        if (r + 4 <= rows && RT > 4) { WNK_PANEL_TILE(4, CB) r += 4; }        \
        if (r + 2 <= rows && RT > 2) { WNK_PANEL_TILE(2, CB) r += 2; }        \
        for (; r < rows; r++) WNK_PANEL_TILE(1, CB)                           \
      } else {                                                                \
        for (; r < rows; r++)                                                 \
          for (size_t w = w0; w < w1; w++) {                                  \
            float xv = x[r * ldx + w];                                        \
            const float *pw = p + w * ldp + cb;                               \
            float *tr = t + r * ldt + cb;                                     \
            for (size_t j = 0; j < cw; j++)                                   \
              tr[j] = __builtin_fmaf(xv, pw[j], tr[j]);                       \
          }                                                                   \
      }                                                                       \
    }                                                                         \
  }

#define WNK_PANEL_ARGS                                                        \
  const float *restrict x, size_t ldx, size_t rows, size_t n,                 \
      const float *restrict p, size_t ldp, size_t c0, size_t c1,              \
      float *restrict t, size_t ldt

static void panel_portable(WNK_PANEL_ARGS) { WNK_PANEL_BODY(4, 16) }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2,fma"))) static void panel_avx2(WNK_PANEL_ARGS) {
  WNK_PANEL_BODY(6, 16)
}

__attribute__((target("avx512f,avx512vl,fma"))) static void panel_avx512(
    WNK_PANEL_ARGS) {
  WNK_PANEL_BODY(6, 64)
}

static int panel_isa(void) {
  static int cached = -1;
  if (cached < 0) {
    cached = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      cached = 1;
    if (cached && __builtin_cpu_supports("avx512f")) cached = 2;
  }
  return cached;
}
#endif

int wnk_panel_accumulate_isa(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  return panel_isa();
#else
  return 0;
#endif
}

void wnk_panel_accumulate(const float *x, size_t ldx, size_t rows, size_t n,
                          const float *p, size_t ldp, size_t c0, size_t c1,
                          float *t, size_t ldt, int isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  int best = panel_isa();
  if (isa < 0 || isa > best) isa = best;
  if (isa == 2) {
    panel_avx512(x, ldx, rows, n, p, ldp, c0, c1, t, ldt);
    return;
  }
  if (isa == 1) {
    panel_avx2(x, ldx, rows, n, p, ldp, c0, c1, t, ldt);
    return;
  }
#endif
  (void)isa;
  panel_portable(x, ldx, rows, n, p, ldp, c0, c1, t, ldt);
}
