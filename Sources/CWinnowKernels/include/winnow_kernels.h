#ifndef WINNOW_KERNELS_H
#define WINNOW_KERNELS_H
// Hot element-wise kernels behind the Winnow Swift library.
// Not a stable API: Swift code wraps every function here; nothing leaks out.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Fills `out[r*ld + c]` (r < rows, c < cols) with the Rademacher entry
/// (±scale) at global position (row0 + r, col0 + c) of the matrix keyed by
/// `seed`. Each entry is a pure function of (seed, row, column).
void wnk_fill_rademacher(uint64_t seed, uint64_t row0, size_t rows,
                         uint64_t col0, size_t cols, float scale,
                         float *out, size_t ld);

/// As `wnk_fill_rademacher`, with standard normal entries times `scale`
/// (Box–Muller on a counter hash; columns 2p and 2p+1 share one pair).
void wnk_fill_gaussian(uint64_t seed, uint64_t row0, size_t rows,
                       uint64_t col0, size_t cols, float scale,
                       float *out, size_t ld);

/// IEEE half → single precision for `n` elements (F16C when available).
void wnk_f16_to_f32(const uint16_t *in, float *out, size_t n);

/// Single → IEEE half precision (round to nearest even) for `n` elements.
void wnk_f32_to_f16(const float *in, uint16_t *out, size_t n);

/// Number of non-finite (NaN or ±Inf) values among `n` floats.
size_t wnk_count_nonfinite(const float *x, size_t n);

/// Row-wise dot products in a fixed order of operations, so a row's results
/// never depend on which other rows share the call, its position, the
/// thread count or the CPU: `out[i*ldo + g] = x_i · dirs_g` for `rows` rows
/// of `x` (`rows × k`, row stride `ldx`) and `groups` directions (`groups × k`,
/// row-major).
void wnk_row_dots_f32(const float *x, size_t rows, size_t k, size_t ldx,
                      const float *dirs, size_t groups, float *out, size_t ldo);

/// `x · y` over `k` floats in the same order of operations as `wnk_row_dots_f32`.
float wnk_dot_f32(const float *x, const float *y, size_t k);

/// Sparse JL (SJLT / CountSketch) of columns `col0 ..< col0 + length` of the
/// map keyed by `seed`: adds `scale · σ · x[r][c]` into `out[r*ldo + h]` for
/// each of the `nnz` (bucket h, sign σ) pairs of global column `col0 + c`,
/// for `rows` rows of `x` (row stride `ldx`). Fixed order: ascending columns,
/// then nonzeros. Requires 1 ≤ nnz ≤ min(k, wnk_sjlt_max_nnz()), k < 2^32
/// (does nothing otherwise) and `work` of `wnk_sjlt_work_floats(k)` floats.
void wnk_sjlt_f32(uint64_t seed, size_t nnz, size_t k, float scale,
                  uint64_t col0, size_t length, const float *x, size_t rows,
                  size_t ldx, float *out, size_t ldo, float *work);

/// As `wnk_sjlt_f32`, for IEEE half-precision input.
void wnk_sjlt_f16(uint64_t seed, size_t nnz, size_t k, float scale,
                  uint64_t col0, size_t length, const uint16_t *x, size_t rows,
                  size_t ldx, float *out, size_t ldo, float *work);

/// The largest `nnz` the sparse JL kernels accept.
size_t wnk_sjlt_max_nnz(void);

/// The scratch floats one sparse JL call needs for output dimension `k`.
size_t wnk_sjlt_work_floats(size_t k);

/// `T += X · P` with a fixed order of operations: every element
/// `t[r*ldt + j]` (r < rows, c0 ≤ j < c1) becomes the chain
/// `t = fma(x[r*ldx + w], p[w*ldp + j], t)` for w = 0, 1, …, n−1, in order.
/// `X` is `rows × n` (row stride `ldx`), `P` is `n × (≥ c1)` (row stride
/// `ldp`). A chain never depends on the other rows or columns in the call,
/// on how `n` is split across calls, or on `isa`: 2 = AVX-512, 1 = AVX2+FMA,
/// 0 = portable, −1 = the best this CPU has (a higher value falls back).
void wnk_panel_accumulate(const float *x, size_t ldx, size_t rows, size_t n,
                          const float *p, size_t ldp, size_t c0, size_t c1,
                          float *t, size_t ldt, int isa);

/// The instruction set `wnk_panel_accumulate` uses with `isa` = −1.
int wnk_panel_accumulate_isa(void);

#ifdef __cplusplus
}
#endif
#endif
