/*
** winnow.h — the C interface of Winnow, training-time data selection.
**
** A training loop links libwinnow.so and, every epoch (or every step), asks
** which samples to train on, with what weights, in what domain mixture.
** This header is written by hand and is the library's contract; the Swift
** implementation is type-checked against it (`@c @implementation`).
**
** Conventions (the same for every object):
**
**   - Every name starts with `wn_` or `WN_`.
**   - Objects are opaque handles. `wn_X_create(&out, ...)` takes the output
**     pointer first and sets it to NULL on failure; `wn_X_free(NULL)` is a
**     no-op, and so is freeing a pointer that is not a live handle (a double
**     free, a handle of another type).
**   - Every fallible function returns an `int32_t` status: WN_OK (0) or a
**     negative WN_ERR_* code. `wn_status_string(status)` names a status;
**     `wn_X_last_error(handle)` gives the message of the last failure on a
**     handle, `wn_last_error()` that of the last failure on this thread.
**     A call that fails leaves the object's state unchanged; what it wrote
**     to output buffers is unspecified, except the required size written on
**     WN_ERR_BUFFER_TOO_SMALL where a function documents it.
**   - A NULL handle is WN_ERR_NULL_POINTER; a pointer that is not a live
**     handle of the right type (freed, or another object) is
**     WN_ERR_INVALID_ARGUMENT.
**   - Counts are `size_t`; matrices are row-major `float` arrays, named with
**     their shape (`rows x dim`). Outputs are caller-allocated and passed with
**     their capacity in elements; the matching size query says how large
**     they must be.
**   - Tunables are set by key (WN_PARAM_*), with bounds you can query, so
**     new parameters never change existing signatures.
**   - Nothing traps: NULL pointers, sizes that overflow, NaN and infinite
**     inputs, out-of-range parameters and calls out of order all come back
**     as statuses. (Pointers to too-small memory cannot be detected: the
**     sizes you pass must describe the memory you pass.)
**   - Sizes are checked before anything is allocated: a count above
**     SIZE_MAX/2 (an output's capacity too, even where any capacity would
**     be large enough) is WN_ERR_INVALID_ARGUMENT (an offset or length that
**     cannot fit a dimension is WN_ERR_SHAPE, as each function says); a
**     product of counts that overflows, or memory the library would have to
**     allocate beyond the machine's physical memory, the container's memory
**     limit (cgroup v2 memory.max) or the process's address-space limit
**     (RLIMIT_AS), is WN_ERR_OUT_OF_MEMORY, with the size and the limit in
**     the message.
**
** Thread safety: functions without a handle may be called from any thread at
** any time. A handle may be used by one thread at a time: calls on the same
** handle must be serialized by the caller; different handles are
** independent. Each function repeats the rule that applies to it.
*/
#ifndef WINNOW_H
#define WINNOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
** Versions
*/

/* The version of the library this header describes. */
#define WN_VERSION_MAJOR 0
#define WN_VERSION_MINOR 1
#define WN_VERSION_PATCH 0
#define WN_VERSION_STRING "0.1.0"

/* Bumped whenever a signature or a constant of this header changes meaning;
** compare with wn_abi_version() to detect a header/library mismatch. */
#define WN_ABI_VERSION 1

/*
** The library version, "MAJOR.MINOR.PATCH" (static storage; never free it).
** Thread safety: any thread.
*/
const char *wn_version(void);

/*
** The ABI version of the loaded library (WN_ABI_VERSION when it was built).
** Thread safety: any thread.
*/
uint32_t wn_abi_version(void);

/* ---------------------------------------------------------------------------
** Statuses and messages
*/

#define WN_OK 0
#define WN_ERR_INVALID_ARGUMENT (-1) /* a parameter is out of range */
#define WN_ERR_SHAPE (-2)            /* dimensions or counts do not agree */
#define WN_ERR_NON_FINITE (-3)       /* an input holds NaN or infinity */
#define WN_ERR_IO (-4)               /* a file cannot be opened or written */
#define WN_ERR_FORMAT (-5)           /* a file is malformed or truncated */
#define WN_ERR_OUT_OF_MEMORY (-6)    /* an allocation failed or is too large */
#define WN_ERR_BAD_STATE (-7)        /* a call out of order */
#define WN_ERR_UNSUPPORTED (-8)      /* a valid input Winnow cannot handle */
#define WN_ERR_NUMERICAL (-9)        /* a numerical routine failed */
#define WN_ERR_NULL_POINTER (-10)    /* a required pointer or handle is NULL */
#define WN_ERR_BUFFER_TOO_SMALL (-11) /* an output capacity is too small */
#define WN_ERR_INTERNAL (-99)        /* a bug in Winnow: please report it */

/*
** A short English name for a status ("ok", "null pointer", ...; "unknown
** status" for codes this library does not know). Static storage.
** Thread safety: any thread.
*/
const char *wn_status_string(int32_t status);

/*
** The message of the most recent failed call made by the calling thread
** (any function, with or without a handle), or "" if none failed yet. The
** text stays valid until the thread's next failing call; copy it to keep it.
** Thread safety: any thread; each thread has its own message.
*/
const char *wn_last_error(void);

/* ---------------------------------------------------------------------------
** BLAS
*/

/*
** The OpenBLAS kernel family chosen at load time (e.g. "SkylakeX",
** "Haswell"; see OPENBLAS_CORETYPE). Static storage.
** Thread safety: any thread.
*/
const char *wn_blas_core_name(void);

/*
** The number of threads OpenBLAS uses (process-wide).
** Thread safety: any thread.
*/
int32_t wn_blas_threads(void);

/*
** Sets the number of OpenBLAS threads for the whole process, 1 to 1024.
** Results do not depend on it (selection is deterministic for any count).
** A count above the number of CPUs OpenBLAS found is clamped to that number
** (wn_blas_threads() tells the count in effect). Under an address-space
** limit (RLIMIT_AS, `ulimit -v`) that cannot hold the new threads' buffers
** (about 192 MiB each), where OpenBLAS would hang, the count is left as it
** was and WN_ERR_OUT_OF_MEMORY is returned.
** Returns WN_OK, WN_ERR_INVALID_ARGUMENT or WN_ERR_OUT_OF_MEMORY.
** Thread safety: call while no other thread runs Winnow or BLAS work.
*/
int32_t wn_set_blas_threads(int32_t threads);

/* ---------------------------------------------------------------------------
** Dense random projection (DESIGN 2.1): phi(g) = (1/sqrt(k)) P^T g
**
** P (D x k) is keyed by (kind, seed) and by position, so features never
** depend on batch size, thread count or how a gradient is cut into pieces.
** P is cached when D*k*4 bytes fit the memory budget, else generated in
** panels on each call.
**
** Thread safety of the object: one thread at a time per projector.
*/
typedef struct wn_projector wn_projector;

#define WN_PROJECTOR_RADEMACHER 0 /* entries +-1 (default) */
#define WN_PROJECTOR_GAUSSIAN 1   /* entries standard normal */

/*
** Creates a projector from input_dim (D >= 1) to output_dim (k >= 1).
**   out            receives the handle (NULL on failure).
**   kind           WN_PROJECTOR_RADEMACHER or WN_PROJECTOR_GAUSSIAN.
**   seed           key of the random matrix.
**   memory_budget  bytes P may occupy; 0 means the default (1 GiB); at
**                  least 4*k otherwise.
** Returns WN_OK, WN_ERR_NULL_POINTER (out), WN_ERR_INVALID_ARGUMENT (kind,
** a zero or too-large dimension, a budget below one row),
** WN_ERR_OUT_OF_MEMORY (4*k overflows, or the part of P the projector will
** hold, min(D*k*4, the budget rounded down to whole rows), exceeds the
** machine's memory or address-space limit), WN_ERR_UNSUPPORTED (k above
** INT32_MAX, which BLAS cannot take, with a budget that holds a row).
** Thread safety: any thread.
*/
int32_t wn_projector_create(wn_projector **out, int32_t kind, uint64_t seed,
                            size_t input_dim, size_t output_dim,
                            size_t memory_budget);

/*
** Destroys a projector. NULL, or a pointer that is not a live projector, is
** ignored. Thread safety: not concurrently with any other call on it.
*/
void wn_projector_free(wn_projector *projector);

/*
** The message of the last failed call on `projector`, "" if none, or a fixed
** text when `projector` is NULL or not a live projector. Valid until the
** next call on the handle. Thread safety: as for the object.
*/
const char *wn_projector_last_error(const wn_projector *projector);

/*
** Writes D and k to the two outputs.
** Returns WN_OK or WN_ERR_NULL_POINTER. Thread safety: as for the object.
*/
int32_t wn_projector_dims(const wn_projector *projector,
                          size_t *out_input_dim, size_t *out_output_dim);

/*
** Projects rows x D gradients `x` into rows x k features `out`
** (overwritten; out_capacity >= rows*k floats). rows may be 0.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_BUFFER_TOO_SMALL,
** WN_ERR_NON_FINITE (x holds NaN/inf), WN_ERR_OUT_OF_MEMORY (rows*D overflows).
** Thread safety: as for the object.
*/
int32_t wn_projector_project_f32(wn_projector *projector, const float *x,
                                 size_t rows, float *out, size_t out_capacity);

/*
** Projects a piece of each gradient: x is rows x length, holding columns
** offset .. offset+length-1 of the D-dimensional gradients (a layer, a
** parameter range). With accumulate != 0 the features are added to `out`,
** so the pieces of a gradient sum to the features of the whole.
** Returns as wn_projector_project_f32, plus WN_ERR_SHAPE when the piece does
** not fit in 0..D-1 or length is 0.
** Thread safety: as for the object.
*/
int32_t wn_projector_project_piece_f32(wn_projector *projector,
                                       const float *x, size_t rows,
                                       size_t offset, size_t length,
                                       float *out, size_t out_capacity,
                                       int32_t accumulate);

/*
** As wn_projector_project_f32, for IEEE half-precision input (uint16_t bit
** patterns), converted to float in panels.
** Thread safety: as for the object.
*/
int32_t wn_projector_project_f16(wn_projector *projector, const uint16_t *x,
                                 size_t rows, float *out, size_t out_capacity);

/*
** As wn_projector_project_piece_f32, for half-precision input.
** Thread safety: as for the object.
*/
int32_t wn_projector_project_piece_f16(wn_projector *projector,
                                       const uint16_t *x, size_t rows,
                                       size_t offset, size_t length,
                                       float *out, size_t out_capacity,
                                       int32_t accumulate);

/* ---------------------------------------------------------------------------
** Sparse JL projection (DESIGN 2.8): SJLT, CountSketch when nnz = 1
**
** phi(g)_h = sum_i sum_{t<nnz} [h_t(i) = h] sigma_t(i) g_i / sqrt(nnz): each
** input coordinate i has nnz nonzeros +-1/sqrt(nnz), one in each of nnz
** blocks of the k outputs, keyed by (seed, i) through the counter RNG of the
** dense projector. Nothing is generated ahead: a call is one read of the
** gradient, O(rows*length*nnz), for any D (10^8 and beyond). Features are
** bit-identical for any batch size and thread count; pieces at their global
** offsets sum to the features of the whole. A map is (seed, nnz, D, k):
** features of different maps must never be compared.
**
** Thread safety of the object: immutable; calls may run concurrently.
*/
typedef struct wn_sparse_projector wn_sparse_projector;

/*
** Creates a sparse JL map from input_dim (D >= 1) to output_dim
** (1 <= k < 2^32) with nnz nonzeros per input coordinate
** (1 <= nnz <= min(k, 4096)).
** Returns WN_OK, WN_ERR_NULL_POINTER (out), WN_ERR_INVALID_ARGUMENT (a zero
** or too-large dimension, nnz 0 or above k).
** Thread safety: any thread.
*/
int32_t wn_sparse_projector_create(wn_sparse_projector **out, uint64_t seed,
                                   size_t input_dim, size_t output_dim,
                                   size_t nnz);

/*
** Destroys a sparse projector. NULL, or a pointer that is not a live sparse
** projector, is ignored. Thread safety: not concurrently with other calls.
*/
void wn_sparse_projector_free(wn_sparse_projector *projector);

/*
** The message of the last failed call on `projector`, "" if none, or a fixed
** text when `projector` is NULL or not live. Valid until the next failed
** call on the handle. Concurrent failing calls are safe (the message is
** replaced under a lock), but the text is then that of whichever failure
** came last, from any thread, and another thread's failure ends its
** validity: with concurrent calls, read wn_last_error() (each thread's own
** message) instead. Thread safety: any thread.
*/
const char *wn_sparse_projector_last_error(
    const wn_sparse_projector *projector);

/*
** Writes D, k and nnz to the three outputs.
** Returns WN_OK or WN_ERR_NULL_POINTER. Thread safety: as for the object.
*/
int32_t wn_sparse_projector_dims(const wn_sparse_projector *projector,
                                 size_t *out_input_dim,
                                 size_t *out_output_dim, size_t *out_nnz);

/*
** Projects a piece of each gradient: x is rows x length (row-major), holding
** columns offset .. offset+length-1 of the D-dimensional gradients; the
** whole gradient is offset 0, length D. `out` (rows x k, out_capacity >=
** rows*k floats) is overwritten, or added to when accumulate != 0.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_SHAPE (the piece does not fit
** in 0..D-1, or length is 0), WN_ERR_BUFFER_TOO_SMALL, WN_ERR_NON_FINITE (a
** row's features are not finite: detected on the output, so for input that
** holds NaN/inf and for finite input whose sums overflow float alike; `out`
** is then unspecified),
** WN_ERR_OUT_OF_MEMORY (rows*length overflows).
** Thread safety: as for the object.
*/
int32_t wn_sparse_projector_project_piece_f32(wn_sparse_projector *projector,
                                              const float *x, size_t rows,
                                              size_t offset, size_t length,
                                              float *out, size_t out_capacity,
                                              int32_t accumulate);

/*
** As wn_sparse_projector_project_piece_f32, for IEEE half-precision input
** (uint16_t bit patterns). Thread safety: as for the object.
*/
int32_t wn_sparse_projector_project_piece_f16(wn_sparse_projector *projector,
                                              const uint16_t *x, size_t rows,
                                              size_t offset, size_t length,
                                              float *out, size_t out_capacity,
                                              int32_t accumulate);

/* ---------------------------------------------------------------------------
** Kronecker-factored projection of linear layers (DESIGN 2.7, LoGra)
**
** For a linear layer y = W x with W d_out x d_in, one sample's per-token
** inputs A (T x d_in) and output gradients D (T x d_out) give the weight
** gradient G = D^T A (d_out x d_in). The factored projector computes
**   phi(G) = P_out^T G P_in = (D P_out)^T (A P_in)      (k_out x k_in)
** row-major, without forming G: 2T(d_in k_in + d_out k_out + k_in k_out)
** flops instead of 2 d_in d_out k. P_in (d_in x k_in) and P_out
** (d_out x k_out) are keyed by (seed, layer id, side), scaled so that
** E|phi(G)|^2 = |G|_F^2; features never depend on batch composition or
** thread count. Several layers are concatenated in creation order: layer l
** occupies feature_offsets[l] .. feature_offsets[l] + k_out*k_in - 1.
**
** A batch of S samples is described by:
**   sample_count   S (may be 0).
**   token_counts   S values T_s >= 0 (a sample with no tokens has a zero
**                  gradient); NULL only when S == 0.
**   total_tokens   the rows of every factor matrix, which must equal
**                  sum(T_s); sample s owns the rows following those of
**                  samples 0..s-1.
**   layer_count    the number of entries of the pointer arrays.
**   inputs         layer_count pointers to A, total_tokens x d_in each.
**   output_gradients  layer_count pointers to D, total_tokens x d_out each.
** Pointer arrays are in the layer order given at creation, or, where a
** function takes `layer_ids`, in the order of those ids (each layer once;
** NULL for creation order).
**
** Thread safety of the object: one thread at a time per projector.
*/
typedef struct wn_factored_projector wn_factored_projector;

/*
** Creates a factored projector over layer_count >= 1 linear layers.
**   out            receives the handle (NULL on failure).
**   layer_ids      layer_count distinct ids; an id keys the layer's random
**                  matrices, so keep it stable across runs.
**   input_dims, output_dims    d_in, d_out >= 1 per layer.
**   input_ranks, output_ranks  k_in, k_out >= 1 per layer.
**   seed           the user seed.
**   kind           WN_PROJECTOR_RADEMACHER or WN_PROJECTOR_GAUSSIAN.
** The factor matrices, 4*sum(d_in*k_in + d_out*k_out) bytes, are generated
** here and cached.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (no layers,
** duplicate ids, a zero dimension or rank, kind), WN_ERR_OUT_OF_MEMORY (the
** matrices, or one sample's sum_l k_out*k_in features, overflow or exceed
** the machine's memory), WN_ERR_UNSUPPORTED (a dimension or rank above
** INT32_MAX, which BLAS cannot take, when the matrices fit).
** Thread safety: any thread.
*/
int32_t wn_factored_projector_create(wn_factored_projector **out,
                                     size_t layer_count,
                                     const uint64_t *layer_ids,
                                     const size_t *input_dims,
                                     const size_t *output_dims,
                                     const size_t *input_ranks,
                                     const size_t *output_ranks,
                                     uint64_t seed, int32_t kind);

/*
** Destroys a factored projector. NULL, or a pointer that is not a live
** factored projector, is ignored.
** Thread safety: not concurrently with any other call on it.
*/
void wn_factored_projector_free(wn_factored_projector *projector);

/*
** The message of the last failed call on `projector`, "" if none, or a fixed
** text when `projector` is NULL or not live. Valid until the next call on
** the handle. Thread safety: as for the object.
*/
const char *wn_factored_projector_last_error(
    const wn_factored_projector *projector);

/*
** Writes the feature dimension sum(k_out*k_in) and the layer count (either
** output may be NULL), and, when out_offsets is not NULL, each layer's first
** feature column (layer_count values; offsets_capacity >= layer_count).
** Returns WN_OK, WN_ERR_NULL_POINTER (projector), WN_ERR_BUFFER_TOO_SMALL.
** Thread safety: as for the object.
*/
int32_t wn_factored_projector_dims(const wn_factored_projector *projector,
                                   size_t *out_feature_dim,
                                   size_t *out_layer_count,
                                   size_t *out_offsets,
                                   size_t offsets_capacity);

/*
** Projects a batch (see above) into S x feature_dim features `out`
** (overwritten; out_capacity >= S*feature_dim floats).
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_SHAPE (sum(T_s) !=
** total_tokens), WN_ERR_INVALID_ARGUMENT (layer_count or layer_ids do not
** name every layer exactly once), WN_ERR_NON_FINITE, WN_ERR_BUFFER_TOO_SMALL,
** WN_ERR_OUT_OF_MEMORY (sizes overflow).
** Thread safety: as for the object.
*/
int32_t wn_factored_projector_project_f32(
    wn_factored_projector *projector, size_t sample_count,
    const size_t *token_counts, size_t total_tokens, size_t layer_count,
    const uint64_t *layer_ids, const float *const *inputs,
    const float *const *output_gradients, float *out, size_t out_capacity);

/*
** As wn_factored_projector_project_f32, for IEEE half-precision factors
** (uint16_t bit patterns), converted to float in panels.
** Thread safety: as for the object.
*/
int32_t wn_factored_projector_project_f16(
    wn_factored_projector *projector, size_t sample_count,
    const size_t *token_counts, size_t total_tokens, size_t layer_count,
    const uint64_t *layer_ids, const uint16_t *const *inputs,
    const uint16_t *const *output_gradients, float *out, size_t out_capacity);

/* ---------------------------------------------------------------------------
** Exact gradient dot products of linear layers ("ghost" dot products)
**
** <G_i, G_j> summed over layers, from the factors, for a batch described as
** above (without ids: the pointer arrays follow input_dims/output_dims).
** Per layer, either the ghost form
**   <G_i, G_j> = sum((A_i A_j^T) o (D_i D_j^T))
** (T_i*T_j*(d_in + d_out) per pair; no gradient is formed) or
** materialization of G_s = D_s^T A_s (d_in*d_out per sample, in slabs of
** bounded memory) is used, whichever costs fewer multiply-adds, unless
** `path` forces one. Both are exact up to fp32 rounding.
**   path       WN_DOT_PATH_AUTO, _GHOST or _MATERIALIZED.
**   out_paths  NULL, or receives layer_count values: the path each layer
**              took (WN_DOT_PATH_GHOST or WN_DOT_PATH_MATERIALIZED).
** Messages go to wn_last_error(). Thread safety: any thread.
*/
#define WN_DOT_PATH_AUTO 0         /* the cheaper path, per layer */
#define WN_DOT_PATH_GHOST 1        /* from the factors' token kernels */
#define WN_DOT_PATH_MATERIALIZED 2 /* by forming each gradient */

/*
** The S x S Gram matrix <G_i, G_j> (symmetric) into `out`
** (out_capacity >= S*S).
**   input_dims, output_dims  d_in, d_out >= 1 of each of layer_count >= 1
**                            layers.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (no layers, a
** zero dim, path), WN_ERR_UNSUPPORTED (a dim above INT32_MAX, which BLAS
** cannot take), WN_ERR_SHAPE (sum(T_s) != total_tokens),
** WN_ERR_NON_FINITE, WN_ERR_BUFFER_TOO_SMALL, WN_ERR_OUT_OF_MEMORY (sizes
** overflow, or scratch exceeds the machine: the S x S sums, a ghost token
** kernel T_i x T_j, a materialized slab of at least one row of every
** sample's gradient, S x d_in, whatever the slab budget).
*/
int32_t wn_ghost_gram_f32(size_t layer_count, const size_t *input_dims,
                          const size_t *output_dims, size_t sample_count,
                          const size_t *token_counts, size_t total_tokens,
                          const float *const *inputs,
                          const float *const *output_gradients, int32_t path,
                          float *out, size_t out_capacity, int32_t *out_paths);

/*
** The S dot products <G_i, G_target> with one target gradient into `out`
** (out_capacity >= S). The target of layer l is given
**   explicitly, when target_gradients != NULL and target_gradients[l] !=
**     NULL: G_t, d_out x d_in (the ghost path then computes
**     sum((D_i G_t) o A_i), never costlier than materializing);
**   else by factors: target_token_counts[l] = T_t tokens, with
**     target_inputs[l] (T_t x d_in) and target_output_gradients[l]
**     (T_t x d_out); G_t = D_t^T A_t.
** target_token_counts, target_inputs and target_output_gradients may be NULL
** when every layer's target is explicit; target_gradients may be NULL when
** none is.
** Returns as wn_ghost_gram_f32 (WN_ERR_NULL_POINTER also when a layer has
** neither form of target; WN_ERR_OUT_OF_MEMORY also for a token kernel
** T_i x T_t, or a target by factors formed as d_out x d_in on the
** materialized path).
*/
int32_t wn_ghost_target_dots_f32(
    size_t layer_count, const size_t *input_dims, const size_t *output_dims,
    size_t sample_count, const size_t *token_counts, size_t total_tokens,
    const float *const *inputs, const float *const *output_gradients,
    const size_t *target_token_counts, const float *const *target_inputs,
    const float *const *target_output_gradients,
    const float *const *target_gradients, int32_t path, float *out,
    size_t out_capacity, int32_t *out_paths);

/*
** Step mode from factors (no engine): projects the batch and the target
** with `projector`, then keeps `keep` of the S samples as wn_select_step
** does on the features (the same picks).
**   target_tokens   T_t, the rows of every target factor matrix; the target
**                   gradient is sum_t d_t a_t^T over them (concatenate the
**                   tokens of several validation samples to target their
**                   summed gradient).
**   target_inputs, target_output_gradients  layer_count pointers each, in
**                   the same order as the batch's.
** Returns as wn_factored_projector_project_f32 and wn_select_step.
** Thread safety: as for the projector.
*/
int32_t wn_select_step_factors(
    wn_factored_projector *projector, size_t sample_count,
    const size_t *token_counts, size_t total_tokens, size_t layer_count,
    const uint64_t *layer_ids, const float *const *inputs,
    const float *const *output_gradients, size_t target_tokens,
    const float *const *target_inputs,
    const float *const *target_output_gradients, size_t keep, float step_size,
    int64_t *out_indices, float *out_weights, size_t capacity);

/* ---------------------------------------------------------------------------
** Kronecker-factored curvature: K-FAC and EK-FAC influence (DESIGN 2.9)
**
** Per linear layer, C = sum(a a^T)/tokens (d_in x d_in) and
** S = sum(d d^T)/tokens (d_out x d_out) over a fit set, eigendecomposed
** with LAPACKE_ssyevd: C = Q_C diag(e_C) Q_C^T, S = Q_S diag(e_S) Q_S^T.
** Then two kinds of preconditioned features, whose dot products estimate
** the influence g_i^T (H + damping)^-1 g_j:
**   whitened factors  A (C + l_C I)^-1/2 and D (S + l_S I)^-1/2 (K-FAC with
**                     the damping per factor): same shapes as A and D, so
**                     wn_factored_projector_project_f32 projects them
**                     without forming G (the cheap path, any model size);
**   eigenbasis features  (Q_S^T G Q_C) / sqrt(L + l) per layer, d_out*d_in
**                     floats (G formed in the eigenbasis): L = e_S x e_C
**                     (WN_CURVATURE_KFAC, kronfluence's "kfac") or the fitted
**                     second moments of each sample's rotated gradient
**                     (WN_CURVATURE_EKFAC, kronfluence's "ekfac"), costing
**                     2T(d_in^2 + d_out^2 + d_in d_out) flops per sample.
** A batch is described as for the factored projector (token_counts,
** total_tokens, layer_count, layer_ids, inputs, output_gradients); D holds
** the gradients of each sample's loss with respect to the layer's output.
** Factors are float32. Damping: WN_DAMPING_RELATIVE makes l a fraction of
** the mean eigenvalue (per layer, per factor for whitening; 0.1 is
** kronfluence's default), WN_DAMPING_ABSOLUTE uses the value itself.
**
** Sequence: create, accumulate (fit set), fit, optionally
** accumulate_corrections (fit set again, for EK-FAC); then whiten or
** features; save/load at any point. A call out of this order is
** WN_ERR_BAD_STATE. A refused batch leaves the fit unchanged.
**
** Thread safety of the object: one thread at a time per curvature.
*/
typedef struct wn_curvature wn_curvature;

#define WN_CURVATURE_KFAC 0  /* eigenvalues e_S x e_C */
#define WN_CURVATURE_EKFAC 1 /* fitted eigenvalue corrections */

#define WN_DAMPING_RELATIVE 0 /* damping x mean eigenvalue */
#define WN_DAMPING_ABSOLUTE 1 /* damping as is */

#define WN_CURVATURE_ACCUMULATING 0 /* phase before wn_curvature_fit */
#define WN_CURVATURE_FITTED 1       /* phase after it */

/*
** Starts an empty fit over layer_count >= 1 linear layers (ids distinct,
** dims >= 1).
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT,
** WN_ERR_OUT_OF_MEMORY (the 4*sum(2 d_in^2 + 2 d_out^2 + d_out d_in) bytes it
** holds overflow or exceed the machine), WN_ERR_UNSUPPORTED (a dim above
** INT32_MAX). Thread safety: any thread.
*/
int32_t wn_curvature_create(wn_curvature **out, size_t layer_count,
                            const uint64_t *layer_ids,
                            const size_t *input_dims,
                            const size_t *output_dims);

/*
** Destroys a curvature. NULL, or a pointer that is not a live curvature, is
** ignored. Thread safety: not concurrently with any other call on it.
*/
void wn_curvature_free(wn_curvature *curvature);

/*
** The message of the last failed call on `curvature`, "" if none, or a
** fixed text when it is NULL or not live. Thread safety: as for the object.
*/
const char *wn_curvature_last_error(const wn_curvature *curvature);

/*
** Writes the phase (WN_CURVATURE_*), the tokens and samples accumulated,
** the samples of the EK-FAC corrections (the most of any layer: corrections
** may cover some layers only; 0 for none), the eigenbasis feature dimension
** sum(d_out*d_in) of every layer and the layer count; any output may be NULL.
** Returns WN_OK, WN_ERR_NULL_POINTER (curvature).
*/
int32_t wn_curvature_info(const wn_curvature *curvature, int32_t *out_phase,
                          size_t *out_tokens, size_t *out_samples,
                          size_t *out_correction_samples,
                          size_t *out_feature_dim, size_t *out_layer_count);

/*
** Writes each layer's id, d_in and d_out (capacity >= layer count each; any
** array may be NULL), in creation order: how a loaded fit describes itself.
** Returns WN_OK, WN_ERR_NULL_POINTER (curvature), WN_ERR_BUFFER_TOO_SMALL.
*/
int32_t wn_curvature_layers(const wn_curvature *curvature, uint64_t *out_ids,
                            size_t *out_input_dims, size_t *out_output_dims,
                            size_t capacity);

/*
** Adds a batch of the fit set to C and S (cblas_ssyrk).
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_SHAPE, WN_ERR_INVALID_ARGUMENT
** (layers), WN_ERR_NON_FINITE, WN_ERR_BAD_STATE (after wn_curvature_fit).
*/
int32_t wn_curvature_accumulate_f32(
    wn_curvature *curvature, size_t sample_count, const size_t *token_counts,
    size_t total_tokens, size_t layer_count, const uint64_t *layer_ids,
    const float *const *inputs, const float *const *output_gradients);

/*
** Eigendecomposes C and S of every layer (LAPACKE_ssyevd); negative
** eigenvalues from rounding become 0.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_BAD_STATE (fitted already, or
** no token accumulated), WN_ERR_NON_FINITE (a covariance overflowed float),
** WN_ERR_NUMERICAL (no convergence).
*/
int32_t wn_curvature_fit(wn_curvature *curvature);

/*
** Adds a batch of the fit set to the EK-FAC corrections: each sample's
** (Q_S^T G Q_C)^2, elementwise. Any subset of the layers may be given with
** layer_ids (each once): EK-FAC for the layers where it is affordable, the
** whitened K-FAC for the others; each layer counts its own samples.
** Returns as wn_curvature_accumulate_f32; WN_ERR_BAD_STATE before
** wn_curvature_fit.
*/
int32_t wn_curvature_accumulate_corrections_f32(
    wn_curvature *curvature, size_t sample_count, const size_t *token_counts,
    size_t total_tokens, size_t layer_count, const uint64_t *layer_ids,
    const float *const *inputs, const float *const *output_gradients);

/*
** Whitens factors (K-FAC with damping per factor): for each of layer_count
** layers (layer_ids as for the factored projector, except that any subset
** of the layers may be given, each once), out_inputs[i] receives
** A (C + l_C I)^-1/2 and out_output_gradients[i] D (S + l_S I)^-1/2, each
** total_tokens rows of its layer's width; out_rows_capacity (>= total_tokens)
** is the rows every output buffer holds. The inverse roots are computed once
** per damping and kept in the handle.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_SHAPE, WN_ERR_INVALID_ARGUMENT
** (layers, damping < 0 or not finite, damping_kind), WN_ERR_NON_FINITE,
** WN_ERR_BUFFER_TOO_SMALL, WN_ERR_BAD_STATE (not fitted), WN_ERR_NUMERICAL
** (a damped eigenvalue is not positive: zero damping of a singular factor).
*/
int32_t wn_curvature_whiten_f32(wn_curvature *curvature, double damping,
                                int32_t damping_kind, size_t total_tokens,
                                size_t layer_count, const uint64_t *layer_ids,
                                const float *const *inputs,
                                const float *const *output_gradients,
                                float *const *out_inputs,
                                float *const *out_output_gradients,
                                size_t out_rows_capacity);

/*
** A new factored projector *out whose maps have the whitening folded in:
** P_in' = (C + l_C I)^-1/2 P_in and P_out' = (S + l_S I)^-1/2 P_out for each
** layer of `base` (which must be layers of the curvature, same dims). It
** projects raw factors to the features of the whitened factors (as
** wn_curvature_whiten_f32 then `base` would, to rounding) at the cost of a
** plain projection, and works wherever a factored projector does (the
** engine's *_factors calls, wn_select_step_factors). Free it with
** wn_factored_projector_free; it does not refer to the curvature.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (base not a
** live factored projector, a layer the curvature lacks or with other dims,
** damping), WN_ERR_BAD_STATE (not fitted), WN_ERR_NUMERICAL.
*/
int32_t wn_curvature_whitened_projector(wn_curvature *curvature,
                                        double damping, int32_t damping_kind,
                                        const wn_factored_projector *base,
                                        wn_factored_projector **out);

/*
** Eigenbasis features of a batch: per sample, the d_out x d_in block
** (row-major) of each given layer, in the curvature's layer order: with
** every layer, S x feature_dim floats with layer l at the sum of the previous
** layers' d_out*d_in; with a subset (layer_ids, each once), S x the sum of
** the given layers' d_out*d_in. out_capacity >= that many floats. method
** WN_CURVATURE_KFAC or WN_CURVATURE_EKFAC (which needs the layers'
** corrections).
** Returns as wn_curvature_whiten_f32; WN_ERR_INVALID_ARGUMENT for method;
** WN_ERR_BAD_STATE for EK-FAC without corrections; WN_ERR_NUMERICAL also
** when the damping is 0 and an eigenvalue is at rounding level (below one
** float ulp of the largest: a direction the fit set never moved).
*/
int32_t wn_curvature_features_f32(
    wn_curvature *curvature, int32_t method, double damping,
    int32_t damping_kind, size_t sample_count, const size_t *token_counts,
    size_t total_tokens, size_t layer_count, const uint64_t *layer_ids,
    const float *const *inputs, const float *const *output_gradients,
    float *out, size_t out_capacity);

/*
** Writes the fit, in any phase, to `path` (replaced atomically; one file:
** a magic, a JSON header with the layers and counts, float32 arrays, and
** XXH3-128 checksums of both).
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_IO.
*/
int32_t wn_curvature_save(wn_curvature *curvature, const char *path);

/*
** Reads a fit written by wn_curvature_save into a new handle *out.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_IO, WN_ERR_FORMAT (not a
** curvature file, truncated, or a checksum disagrees: the message names the
** file and the problem), WN_ERR_OUT_OF_MEMORY. Thread safety: any thread.
*/
int32_t wn_curvature_load(wn_curvature **out, const char *path);

/* ---------------------------------------------------------------------------
** Selection over a score array (DESIGN 2.4)
**
** Each writes indices into `scores` (0-based, as int64_t), best first: by
** descending score, ties by ascending index, so results are deterministic.
** A score of -INFINITY marks an excluded sample (a row the scorer skipped,
** see wn_scorer_create's skip_nonfinite): it is never selected and does not
** count towards the pool's eligible rows E. NaN or +INFINITY is
** WN_ERR_NON_FINITE; n == 0 or E == 0 (every score -INFINITY) is
** WN_ERR_INVALID_ARGUMENT. Size query: with out_indices == NULL and
** capacity == 0, only *out_count is written (the number of indices the call
** would return) and WN_OK is returned. When 0 < capacity < that number, or
** out_indices is NULL with a nonzero capacity, the call returns
** WN_ERR_BUFFER_TOO_SMALL / WN_ERR_NULL_POINTER; on WN_ERR_BUFFER_TOO_SMALL
** *out_count holds the size needed. Messages go to wn_last_error().
** Thread safety: any thread.
*/

/*
** The k best of n scores, 1 <= k <= E (the eligible count, at most n).
** Returns WN_OK, WN_ERR_NULL_POINTER (scores, out_count), WN_ERR_INVALID_ARGUMENT
** (n == 0, k out of range), WN_ERR_NON_FINITE, WN_ERR_BUFFER_TOO_SMALL.
*/
int32_t wn_select_top_k(const float *scores, size_t n, size_t k,
                        int64_t *out_indices, size_t capacity,
                        size_t *out_count);

/*
** The best round(fraction*E) (at least 1; halves round away from zero) of
** n scores, E the eligible count, fraction in (0, 1].
** Returns as wn_select_top_k (WN_ERR_INVALID_ARGUMENT for the fraction).
*/
int32_t wn_select_top_fraction(const float *scores, size_t n, double fraction,
                               int64_t *out_indices, size_t capacity,
                               size_t *out_count);

/*
** Every index whose score is >= threshold (finite); possibly none
** (WN_OK with *out_count == 0).
** Returns as wn_select_top_k.
*/
int32_t wn_select_threshold(const float *scores, size_t n, float threshold,
                            int64_t *out_indices, size_t capacity,
                            size_t *out_count);

/*
** Step mode without an engine (DESIGN 2.4, GREATS): keeps `keep` of `rows`
** candidate rows by greedy maximization of
** eta*<g_i, target> - eta^2 * sum_{j in S} <g_i, g_j>.
**   features     rows x dim per-sample (projected) gradients.
**   target       dim values, the target (validation) gradient.
**   keep         1 <= keep <= rows.   step_size  eta >= 0, finite.
**   out_indices  receives `keep` row indices in pick order (capacity >= keep).
**   out_weights  NULL, or receives `keep` weights (all 1 under GREATS).
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_SHAPE (rows or dim 0),
** WN_ERR_INVALID_ARGUMENT (keep, step_size), WN_ERR_NON_FINITE,
** WN_ERR_BUFFER_TOO_SMALL, WN_ERR_OUT_OF_MEMORY (rows * dim overflows, or
** the greedy's scratch cannot be held).
** Thread safety: any thread.
*/
int32_t wn_select_step(const float *features, size_t rows, size_t dim,
                       const float *target, size_t keep, float step_size,
                       int64_t *out_indices, float *out_weights,
                       size_t capacity);

/* ---------------------------------------------------------------------------
** The training-time engine
**
** An engine holds a fixed candidate pool (N distinct sample ids, each in one
** of K domains) and the state that carries across epochs. Each epoch:
**
**   wn_engine_begin_epoch
**   wn_engine_add_target[_gradients|_factors]      for every task, before
**                                                  candidates
**   wn_engine_add_candidate[s|_gradients|_factors] in batches, each id once
**                                                  per epoch
**   wn_engine_end_epoch                   -> the plan for the next epoch
**   wn_engine_plan_*                      copy the plan out
**
** Parameters can change only between epochs, and while an open epoch's
** last wn_engine_end_epoch failed (to fix what made it fail). A call out of
** this order returns WN_ERR_BAD_STATE and changes nothing.
**
** Thread safety of the object: one thread at a time per engine.
*/
typedef struct wn_engine wn_engine;

/* Parameter keys (wn_engine_set_param_*). Their ranges, flags and defaults
** are the library's to say: wn_param_bounds, wn_param_default. */
#define WN_PARAM_POLICY 1                 /* WN_POLICY_* */
#define WN_PARAM_SELECT_FRACTION 2        /* fraction of the pool a plan keeps */
#define WN_PARAM_TEMPERATURE 3            /* stochastic softmax tau */
#define WN_PARAM_EXPLORATION_FLOOR 4      /* epsilon: p <- (1-eps)p + eps/N */
#define WN_PARAM_SEED 5                   /* any uint64_t */
#define WN_PARAM_SCORE_COMBINATION 6      /* WN_COMBINE_* */
#define WN_PARAM_EMA_DECAY 7              /* beta of WN_COMBINE_MOVING_AVERAGE */
#define WN_PARAM_SELECT_EVERY 8           /* re-plan every n epochs */
#define WN_PARAM_WARMUP_EPOCHS 9          /* epochs before the first plan */
#define WN_PARAM_WARMUP_FRACTION 10       /* fraction a warm-up plan keeps */
#define WN_PARAM_MIXTURE_RULE 11          /* WN_MIXTURE_* */
#define WN_PARAM_ALIGNMENT_CLIP 12        /* clip c of the alignment W_d */
#define WN_PARAM_ALIGNMENT_TEMPERATURE 13 /* mu */
#define WN_PARAM_EXCESS_LOSS_STEP_SIZE 14 /* DoReMi eta */
#define WN_PARAM_MIXTURE_SMOOTHING 15     /* DoReMi epsilon */
#define WN_PARAM_WEIGHTING 16             /* WN_WEIGHTING_* (see below) */
#define WN_PARAM_WEIGHT_TEMPERATURE 17    /* tau_w of self-normalized weights */
#define WN_PARAM_WEIGHT_MIN 18            /* lower clip of self-normalized weights */
#define WN_PARAM_WEIGHT_MAX 19            /* upper clip of self-normalized weights */
#define WN_PARAM_DIVERSITY_STEP_SIZE 20   /* GREATS eta */
#define WN_PARAM_DIVERSITY_METHOD 21      /* WN_DIVERSITY_* */

#define WN_POLICY_TOP_FRACTION 0
#define WN_POLICY_DOMAIN_QUOTA 1
#define WN_POLICY_STOCHASTIC 2
#define WN_POLICY_DIVERSITY 3

#define WN_COMBINE_LR_WEIGHTED 0
#define WN_COMBINE_MOVING_AVERAGE 1

#define WN_MIXTURE_FIXED 0
#define WN_MIXTURE_GRADIENT_ALIGNMENT 1
#define WN_MIXTURE_EXCESS_LOSS 2
#define WN_MIXTURE_BANDIT 3

/* WN_WEIGHTING_UNBIASED (Horvitz-Thompson n/(N*pi)) needs
** WN_POLICY_STOCHASTIC, the one policy with inclusion probabilities below 1:
** wn_engine_begin_epoch refuses it under any other policy with
** WN_ERR_INVALID_ARGUMENT (either key may be set first). */
#define WN_WEIGHTING_AUTOMATIC 0 /* unbiased for stochastic, else uniform */
#define WN_WEIGHTING_UNIFORM 1
#define WN_WEIGHTING_SELF_NORMALIZED 2
#define WN_WEIGHTING_UNBIASED 3

/* Diversity policy algorithm: AUTO runs the exact sequential greedy while
** n*N*k <= 2^32 multiply-adds and the blocked greedy (b ~ sqrt(N/2) picks
** per pass over the pool, O(ceil(n/b)*N*k)) beyond; both pick the same
** rows for any thread count. */
#define WN_DIVERSITY_AUTO 0
#define WN_DIVERSITY_SEQUENTIAL 1
#define WN_DIVERSITY_BLOCKED 2

#define WN_PLAN_PLANNED 0 /* chosen by the policy */
#define WN_PLAN_WARMUP 1  /* a warm-up epoch: full pool or a random subset,
                          ** in pool order; its policy reads TOP_FRACTION */
#define WN_PLAN_REUSED 2  /* the last planned selection (select_every) */

/* Flags written by wn_param_bounds. */
#define WN_PARAM_FLAG_INTEGER 1    /* only whole numbers are accepted */
#define WN_PARAM_FLAG_LOWER_OPEN 2 /* the lower bound itself is excluded */

/*
** The accepted range of a parameter key: [*out_min, *out_max] (or
** (*out_min, *out_max] with WN_PARAM_FLAG_LOWER_OPEN) and its flags.
** wn_engine_set_param_f64 accepts exactly the values inside; a value
** outside is refused with WN_ERR_INVALID_ARGUMENT and a last error that
** names the key and these bounds. For WN_PARAM_SEED the range is every
** uint64_t: *out_max is the largest double below 2^64, and the _i64 setter
** reaches the whole values above it by bit pattern.
** Returns WN_OK, WN_ERR_NULL_POINTER (any output NULL), WN_ERR_INVALID_ARGUMENT
** (unknown key); on failure the outputs are not written.
** Thread safety: any thread.
*/
int32_t wn_param_bounds(int32_t key, double *out_min, double *out_max,
                        int32_t *out_flags);

/*
** The value a new engine starts with for a parameter key, in *out_value.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (unknown key);
** on failure *out_value is not written.
** Thread safety: any thread.
*/
int32_t wn_param_default(int32_t key, double *out_value);

/*
** The snake-case name of a parameter key ("select_fraction"), as written in
** audit logs, or NULL for an unknown key. Static storage. Keys run from 1
** without gaps, so a caller enumerates them all by counting up from 1 until
** this returns NULL.
** Thread safety: any thread.
*/
const char *wn_param_name(int32_t key);

/*
** Creates an engine over a pool.
**   out           receives the handle (NULL on failure).
**   ids           pool_size distinct sample ids.
**   domains       pool_size domain indices in 0..domain_count-1, or NULL:
**                 every sample in domain 0 (K is then domain_count, or 1
**                 when domain_count is 0; domains 1..K-1 stay empty).
**   domain_count  K in 1..2^20; 0 means the largest domain index + 1.
**   feature_dim   k >= 1, the dimension of every feature row fed; at most
**                 INT32_MAX (BLAS takes 32-bit sizes).
**   task_count    T in 1..1024, the number of target tasks fed each epoch.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (empty pool,
** duplicate id, domain out of range, K above 2^20 (given or implied), k of
** 0, T), WN_ERR_OUT_OF_MEMORY (the engine's state, N x T scores and
** (T + K + 1) x k sums, overflows or exceeds the machine; under
** WN_POLICY_DIVERSITY, N x k features are checked the same way at
** wn_engine_begin_epoch), WN_ERR_UNSUPPORTED (k above INT32_MAX, when the
** state fits).
** Thread safety: any thread.
*/
int32_t wn_engine_create(wn_engine **out, const int64_t *ids,
                         const int32_t *domains, size_t pool_size,
                         size_t domain_count, size_t feature_dim,
                         size_t task_count);

/*
** Destroys an engine. NULL, or a pointer that is not a live engine, is
** ignored. Thread safety: not concurrently with any other call on it.
*/
void wn_engine_free(wn_engine *engine);

/*
** The message of the last failed call on `engine`, "" if none, or a fixed
** text when `engine` is NULL or not a live engine. Valid until the next call
** on the handle. Thread safety: as for the object.
*/
const char *wn_engine_last_error(const wn_engine *engine);

/*
** Writes N, K, k and T (any output may be NULL to skip it).
** Returns WN_OK or WN_ERR_NULL_POINTER (engine).
** Thread safety: as for the object.
*/
int32_t wn_engine_dims(const wn_engine *engine, size_t *out_pool_size,
                       size_t *out_domain_count, size_t *out_feature_dim,
                       size_t *out_task_count);

/*
** Sets a parameter (see WN_PARAM_*; wn_param_bounds gives the range). The
** _i64 form takes integer keys exactly; WN_PARAM_SEED, whose range is every
** uint64_t, takes the value's bit pattern (-1 is UINT64_MAX), and the _f64
** form takes its whole values up to the largest double below 2^64;
** real-valued keys get the value converted to double.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (unknown key,
** value out of range, NaN, not whole for an integer key), WN_ERR_BAD_STATE
** (an epoch is open, unless its last wn_engine_end_epoch failed).
** Thread safety: as for the object.
*/
int32_t wn_engine_set_param_f64(wn_engine *engine, int32_t key, double value);
int32_t wn_engine_set_param_i64(wn_engine *engine, int32_t key, int64_t value);

/*
** Reads a parameter as a double (the seed exactly only below 2^53).
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (unknown key).
** Thread safety: as for the object.
*/
int32_t wn_engine_get_param_f64(const wn_engine *engine, int32_t key,
                                double *out_value);

/*
** Sets the starting domain mixture: `count` == K positive finite weights,
** normalized here (scaled by the largest first, so DBL_MAX weights are
** fine; a weight below DBL_MIN times the largest becomes 0); the mixture
** rules restart from it. Every rule keeps a finite mixture summing to 1 for
** any finite inputs (losses of +-FLT_MAX, smoothing 0, any step size).
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_SHAPE (count != K),
** WN_ERR_INVALID_ARGUMENT, WN_ERR_BAD_STATE (an epoch is open, unless its
** last wn_engine_end_epoch failed).
** Thread safety: as for the object.
*/
int32_t wn_engine_set_initial_mixture(wn_engine *engine,
                                      const double *weights, size_t count);

/*
** Appends one JSON line per plan to the file at `path` (created if needed)
** from the next wn_engine_end_epoch on; NULL stops logging. The line holds
** the epoch, policy, every parameter, counts, mixture and an FNV-1a 64
** checksum of the selected ids and weights.
** Returns WN_OK or WN_ERR_NULL_POINTER (engine). Write failures surface as
** WN_ERR_IO from wn_engine_end_epoch.
** Thread safety: as for the object.
*/
int32_t wn_engine_set_audit_log(wn_engine *engine, const char *path);

/*
** Opens an epoch. `epoch` must exceed every earlier epoch (it keys the
** seeded random choices); learning_rate > 0 weights this epoch's scores.
** An open epoch whose last wn_engine_end_epoch failed is abandoned here
** (`epoch` must then exceed it too): the scores of the candidates it was fed
** are kept, its mixture signals are dropped, and it makes no plan.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (a negative
** epoch, a learning rate that is not > 0 and finite, WN_WEIGHTING_UNBIASED
** under a policy other than WN_POLICY_STOCHASTIC), WN_ERR_BAD_STATE (an
** epoch is open and its end did not fail, or epoch does not increase),
** WN_ERR_OUT_OF_MEMORY (under WN_POLICY_DIVERSITY, the epoch's N x k
** features overflow or exceed the machine).
** Thread safety: as for the object.
*/
int32_t wn_engine_begin_epoch(wn_engine *engine, int64_t epoch,
                              double learning_rate);

/*
** Adds target rows for one task: features is rows x dim (dim == k).
** Targets of every task come before the epoch's first candidate features.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (task, rows
** == 0), WN_ERR_SHAPE (dim != k), WN_ERR_NON_FINITE, WN_ERR_BAD_STATE.
** Thread safety: as for the object.
*/
int32_t wn_engine_add_target(wn_engine *engine, size_t task,
                             const float *features, size_t rows, size_t dim);

/*
** As wn_engine_add_target from raw gradients (rows x dim, dim == the
** projector's D), projected with `projector` (whose k must equal the
** engine's). Returns as wn_engine_add_target, plus WN_ERR_OUT_OF_MEMORY when
** the rows x k projected features would overflow or exceed the machine
** (2^20 rows of D = 1 through a 1 -> 2^20 projector ask for 4 TiB); the
** open epoch, the task and the order (targets before candidates) are
** checked first, before anything is projected.
** Thread safety: as for both objects.
*/
int32_t wn_engine_add_target_gradients(wn_engine *engine,
                                       wn_projector *projector, size_t task,
                                       const float *gradients, size_t rows,
                                       size_t dim);

/*
** Adds a batch of `count` candidates by sample id.
**   features         count x dim projected features (dim == k), or NULL to
**                    feed losses only (dim is then ignored). Rows (and
**                    target rows) are scaled to unit norm; a zero row, or
**                    one whose norm is below about 2.9e-39 (1/norm
**                    overflows float), counts as a zero row: it scores 0.
**   losses           count per-sample training losses, or NULL.
**   reference_losses count reference-model losses, or NULL (needs losses).
** Each id may be fed once per epoch, so count <= the pool size.
** Returns WN_OK, WN_ERR_NULL_POINTER (engine, ids when count > 0),
** WN_ERR_INVALID_ARGUMENT (unknown id, reference losses without losses,
** count above the pool size: checked before `ids` is read),
** WN_ERR_OUT_OF_MEMORY (count x 8 or count x dim x 4 bytes overflow),
** WN_ERR_SHAPE, WN_ERR_NON_FINITE, WN_ERR_BAD_STATE (no epoch open, an id
** fed twice, a task without targets).
** Thread safety: as for the object.
*/
int32_t wn_engine_add_candidates(wn_engine *engine, const int64_t *ids,
                                 size_t count, const float *features,
                                 size_t dim, const float *losses,
                                 const float *reference_losses);

/*
** As wn_engine_add_candidates from raw gradients (count x dim, dim == the
** projector's D, not NULL), projected with `projector`. As there, ids may
** be NULL when count == 0, and the open epoch, count <= the pool size and
** every task's targets are checked before any gradient is read or
** projected (after the NULL pointers and the dims).
** Returns as wn_engine_add_candidates, plus WN_ERR_NULL_POINTER (projector,
** gradients), WN_ERR_INVALID_ARGUMENT (projector not a live projector),
** WN_ERR_SHAPE (dim != D or the projector's k != the engine's),
** WN_ERR_OUT_OF_MEMORY (the count x k projected features exceed the
** machine).
** Thread safety: as for both objects.
*/
int32_t wn_engine_add_candidate_gradients(wn_engine *engine,
                                          wn_projector *projector,
                                          const int64_t *ids, size_t count,
                                          const float *gradients, size_t dim,
                                          const float *losses,
                                          const float *reference_losses);

/*
** Closes the epoch and computes the plan for the next one; writes the
** number of selected samples to *out_selected (may be NULL).
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_BAD_STATE (no epoch open, no
** features ever fed, WN_POLICY_DIVERSITY set after the epoch began so its
** features were not kept), WN_ERR_INVALID_ARGUMENT (an unbiased weight
** n/(N*pi) overflows float: raise WN_PARAM_EXPLORATION_FLOOR), WN_ERR_IO
** (audit log). On error the epoch stays open and nothing else changes; the
** caller recovers by feeding more and calling again, by changing parameters
** (allowed now) and calling again, or by abandoning the epoch with
** wn_engine_begin_epoch.
** Thread safety: as for the object.
*/
int32_t wn_engine_end_epoch(wn_engine *engine, size_t *out_selected);

/*
** Sizes of the last plan: selected samples n and domains K (outputs may be
** NULL). Returns WN_OK, WN_ERR_NULL_POINTER (engine), WN_ERR_BAD_STATE (no
** plan yet). Thread safety: as for the object.
*/
int32_t wn_engine_plan_size(const wn_engine *engine, size_t *out_selected,
                            size_t *out_domain_count);

/*
** The last plan's epoch, kind (WN_PLAN_*) and policy (WN_POLICY_*); outputs
** may be NULL. Returns as wn_engine_plan_size.
** Thread safety: as for the object.
*/
int32_t wn_engine_plan_info(const wn_engine *engine, int64_t *out_epoch,
                            int32_t *out_kind, int32_t *out_policy);

/*
** Copy the last plan out. Each writes exactly the plan's count of values
** (n for ids/weights/probabilities, K for mixtures and domain counts) and
** returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_BAD_STATE (no plan yet),
** WN_ERR_INVALID_ARGUMENT (capacity above SIZE_MAX/2) or
** WN_ERR_BUFFER_TOO_SMALL (capacity below the count).
**   ids            selected sample ids: best first (by combined score, ties
**                  by pool position) for planned top-fraction and quota
**                  plans, pick order for diversity, and in pool order
**                  (ascending pool position, not id) for stochastic and
**                  warm-up plans; a reused plan keeps the order of the plan
**                  it reuses. A warm-up plan reports WN_POLICY_TOP_FRACTION
**                  (wn_engine_plan_info) but is in pool order.
**   weights        one training weight per selected sample.
**   probabilities  each selected sample's inclusion probability.
**   mixture        the domain mixture for the next epoch (sums to 1).
**   mixture_average  the time average of the mixtures (DoReMi's output).
**   domain_counts  selected samples per domain.
** Thread safety: as for the object.
*/
int32_t wn_engine_plan_ids(const wn_engine *engine, int64_t *out,
                           size_t capacity);
int32_t wn_engine_plan_weights(const wn_engine *engine, float *out,
                               size_t capacity);
int32_t wn_engine_plan_probabilities(const wn_engine *engine, double *out,
                                     size_t capacity);
int32_t wn_engine_plan_mixture(const wn_engine *engine, double *out,
                               size_t capacity);
int32_t wn_engine_plan_mixture_average(const wn_engine *engine, double *out,
                                       size_t capacity);
int32_t wn_engine_plan_domain_counts(const wn_engine *engine, int64_t *out,
                                     size_t capacity);

/*
** Every pool position's inclusion probability in the last plan (N values,
** in pool order). Returns as the plan copies.
** Thread safety: as for the object.
*/
int32_t wn_engine_pool_probabilities(const wn_engine *engine, double *out,
                                     size_t capacity);

/*
** The combined score of every pool position (N values, in pool order).
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_BUFFER_TOO_SMALL,
** WN_ERR_INVALID_ARGUMENT (capacity above SIZE_MAX/2), WN_ERR_BAD_STATE (no
** features fed yet).
** Thread safety: as for the object.
*/
int32_t wn_engine_scores(const wn_engine *engine, float *out,
                         size_t capacity);

/*
** Step mode on an engine: as wn_select_step, with dim == the engine's k.
** Independent of epochs: may be called at any time.
** Thread safety: as for the object.
*/
int32_t wn_engine_select_step(wn_engine *engine, const float *features,
                              size_t rows, size_t dim, const float *target,
                              size_t keep, float step_size,
                              int64_t *out_indices, float *out_weights,
                              size_t capacity);

/*
** As wn_engine_add_target from linear-layer factors: each of the
** sample_count (>= 1) target samples, described as for
** wn_factored_projector_project_f32, becomes one target row, projected with
** `projector` (whose feature_dim must equal the engine's k).
** Returns as wn_engine_add_target and wn_factored_projector_project_f32.
** Thread safety: as for both objects.
*/
int32_t wn_engine_add_target_factors(
    wn_engine *engine, wn_factored_projector *projector, size_t task,
    size_t sample_count, const size_t *token_counts, size_t total_tokens,
    size_t layer_count, const uint64_t *layer_ids, const float *const *inputs,
    const float *const *output_gradients);

/*
** As wn_engine_add_candidates from linear-layer factors: candidate ids[s]
** owns token_counts[s] rows of every factor matrix (count samples, described
** as for wn_factored_projector_project_f32), projected with `projector`
** (whose feature_dim must equal the engine's k). losses and
** reference_losses as for wn_engine_add_candidates.
** Thread safety: as for both objects.
*/
int32_t wn_engine_add_candidate_factors(
    wn_engine *engine, wn_factored_projector *projector, const int64_t *ids,
    size_t count, const size_t *token_counts, size_t total_tokens,
    size_t layer_count, const uint64_t *layer_ids, const float *const *inputs,
    const float *const *output_gradients, const float *losses,
    const float *reference_losses);

/*
** Step mode on an engine from factors: as wn_select_step_factors, with the
** projector's feature_dim == the engine's k. Independent of epochs.
** Thread safety: as for both objects.
*/
int32_t wn_engine_select_step_factors(
    wn_engine *engine, wn_factored_projector *projector, size_t sample_count,
    const size_t *token_counts, size_t total_tokens, size_t layer_count,
    const uint64_t *layer_ids, const float *const *inputs,
    const float *const *output_gradients, size_t target_tokens,
    const float *const *target_inputs,
    const float *const *target_output_gradients, size_t keep, float step_size,
    int64_t *out_indices, float *out_weights, size_t capacity);

/* ---------------------------------------------------------------------------
** Scoring a pool piece by piece (DESIGN 2.2): the scores of `winnow score`
** for any rows, in any order, on any machine.
**
** A scorer holds the targets reduced to one direction per target group and
** checkpoint. For train rows phi_c (one row per checkpoint c):
**   cosine  S_c = <phi_c/|phi_c|, v/|v|>     dot  S_c = <phi_c, v>
**   score   = max over groups g of mean_{v in g} sum_c eta_c S_c
** with eta_c the weights renormalized to sum to 1. A row's score depends
** only on its own features: scoring a pool's shards separately gives the
** same bits as `winnow score` on the whole pool (row dot products run in a
** fixed order of operations, independent of blocks, threads and CPUs).
** Influence needs the Gram matrix of the whole pool and is not available
** piecewise (WN_ERR_UNSUPPORTED): use `winnow score --measure influence`.
**
** Thread safety of the object: one thread at a time per scorer.
*/
typedef struct wn_scorer wn_scorer;

#define WN_MEASURE_COSINE 0    /* LESS's default */
#define WN_MEASURE_DOT 1       /* raw inner products */
#define WN_MEASURE_INFLUENCE 2 /* whole-pool only: WN_ERR_UNSUPPORTED here */

/*
** Creates a scorer from the targets of `checkpoints` checkpoints.
**   out            receives the handle (NULL on failure).
**   measure        WN_MEASURE_COSINE or WN_MEASURE_DOT.
**   checkpoints    C >= 1.
**   targets        C pointers; targets[c] is target_rows x dims[c] floats,
**                  row-major (plain projected gradients, finite).
**   dims           C feature dimensions k_c >= 1.
**   target_rows    M >= 1 (the same for every checkpoint).
**   weights        C weights eta_c (finite, >= 0, positive sum), or NULL
**                  for equal weights; renormalized to sum to 1 (scaled by
**                  the largest first when their sum overflows, so
**                  {DBL_MAX, DBL_MAX} is {1/2, 1/2}).
**   target_groups  M integer subtask labels (any values; groups may differ
**                  in size), or NULL for a single group.
**   skip_nonfinite nonzero: train rows holding NaN/inf score -inf (excluded
**                  from selection) instead of failing the call.
** Returns WN_OK, WN_ERR_NULL_POINTER (out, targets, a targets[c], dims),
** WN_ERR_INVALID_ARGUMENT (measure, C or M or a k_c of 0, weights),
** WN_ERR_UNSUPPORTED (WN_MEASURE_INFLUENCE), WN_ERR_NON_FINITE (a target
** row), WN_ERR_OUT_OF_MEMORY (C, or the C x M x k_c floats copied, overflow
** or exceed the machine: checked before `targets`, `dims` are read).
** Thread safety: any thread.
*/
int32_t wn_scorer_create(wn_scorer **out, int32_t measure, size_t checkpoints,
                         const float *const *targets, const size_t *dims,
                         size_t target_rows, const double *weights,
                         const int64_t *target_groups, int32_t skip_nonfinite);

/*
** Destroys a scorer. NULL, or a pointer that is not a live scorer, is
** ignored. Thread safety: not concurrently with any other call on it.
*/
void wn_scorer_free(wn_scorer *scorer);

/*
** The message of the last failed call on `scorer`, "" if none, or a fixed
** text when `scorer` is NULL or not a live scorer. Valid until the next
** call on the handle. Thread safety: as for the object.
*/
const char *wn_scorer_last_error(const wn_scorer *scorer);

/*
** Writes the number of checkpoints C and of target groups G.
** Returns WN_OK or WN_ERR_NULL_POINTER. Thread safety: as for the object.
*/
int32_t wn_scorer_dims(const wn_scorer *scorer, size_t *out_checkpoints,
                       size_t *out_groups);

/*
** Scores `rows` train rows (rows >= 1).
**   train        C pointers; train[c] is rows x dims[c] floats, row-major.
**   out_scores   receives `rows` scores (capacity >= rows); -inf marks a
**                row skipped for NaN/inf (with skip_nonfinite).
**   out_skipped  NULL, or receives the number of skipped rows.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (rows == 0),
** WN_ERR_BUFFER_TOO_SMALL, WN_ERR_NON_FINITE (a train row holds NaN/inf;
** the message names it, counted from 0 in this call), WN_ERR_NUMERICAL (a
** score overflows, or a group's is NaN, e.g. +inf from one checkpoint and
** -inf from another, whatever the other groups score),
** WN_ERR_OUT_OF_MEMORY (sizes overflow).
** Thread safety: as for the object.
*/
int32_t wn_scorer_score_f32(wn_scorer *scorer, const float *const *train,
                            size_t rows, float *out_scores,
                            size_t out_capacity, size_t *out_skipped);

/* ---------------------------------------------------------------------------
** Factor matrices for a first stage on another device (DESIGN 2.10)
**
** A training framework can run A*P_in and D*P_out on its own accelerator
** with the very matrices a wn_factored_projector uses, so that only the
** projected data crosses to the host and the features equal the CPU path.
** ------------------------------------------------------------------------- */

#define WN_FACTOR_INPUT 0  /* P_in,  d_in x k_in */
#define WN_FACTOR_OUTPUT 1 /* P_out, d_out x k_out */

/*
** Fills `out` with the factor matrix that a factored projector created with
** `seed` and `kind` uses for layer `layer_id`: rows x cols floats, row-major,
** scaled by 1/sqrt(cols). Pass (d_in, k_in) for WN_FACTOR_INPUT and
** (d_out, k_out) for WN_FACTOR_OUTPUT. Entries depend only on (seed,
** layer_id, side) and the position, so a caller may cache the matrix per
** (layer id, side, rows, cols).
**   capacity       floats available at out (>= rows * cols).
** Returns WN_OK, WN_ERR_NULL_POINTER (out), WN_ERR_INVALID_ARGUMENT (kind,
** side, rows or cols of 0), WN_ERR_BUFFER_TOO_SMALL, WN_ERR_OUT_OF_MEMORY
** (rows * cols overflows).
** Complexity: O(rows * cols). Thread safety: any thread.
*/
int32_t wn_factored_matrix_fill(int32_t kind, uint64_t seed, uint64_t layer_id,
                                int32_t side, size_t rows, size_t cols,
                                float *out, size_t capacity);

/* ---------------------------------------------------------------------------
** A selection and its files (DESIGN 3): the rule of `winnow select`, and the
** ids, listing and manifest it writes, for any caller. `winnow.ray` cuts a
** sharded pool across workers, collects the candidates at or above the cut
** and lets this object choose and write, so a distributed selection is
** byte-identical to `winnow select` on one machine.
**
** Thread safety of the object: one thread at a time per selection.
*/
typedef struct wn_selection wn_selection;

#define WN_RULE_TOP_K 0     /* value: k, a whole number >= 1 */
#define WN_RULE_FRACTION 1  /* value: fraction in (0, 1]: round(fraction*E) */
#define WN_RULE_THRESHOLD 2 /* value: threshold, finite as a float */

/*
** Applies `rule` to n candidate scores (rules and -INFINITY as for
** wn_select_top_k: best first, ties by ascending position in `scores`).
**   pool_eligible  0: the candidates are the whole pool. Otherwise the
**                  eligible count E of the pool they were cut from (a
**                  fraction and k's bound refer to it); the candidates must
**                  then be, in pool order, every eligible row above the cut
**                  plus enough rows equal to it.
** Returns WN_OK, WN_ERR_NULL_POINTER (out, scores), WN_ERR_INVALID_ARGUMENT
** (rule, value, n == 0, E == 0, k > E, pool_eligible below the candidates'
** eligible count, fewer candidates than the rule keeps), WN_ERR_NON_FINITE,
** WN_ERR_OUT_OF_MEMORY. On failure *out is NULL and the message is in
** wn_last_error().
** Complexity: O(n + s log s) for s selected. Thread safety: any thread.
*/
int32_t wn_selection_create(wn_selection **out, const float *scores, size_t n,
                            int32_t rule, double value, size_t pool_eligible);

/*
** How many rows `rule` keeps of a pool with `eligible` eligible rows: k,
** or round(fraction*eligible) (at least 1); for WN_RULE_THRESHOLD, eligible
** (the most a threshold can keep). Checks `value` as wn_selection_create does.
** Returns WN_OK, WN_ERR_NULL_POINTER (out_count), WN_ERR_INVALID_ARGUMENT
** (rule, value, eligible == 0, k > eligible).
** Thread safety: any thread.
*/
int32_t wn_selection_count(int32_t rule, double value, size_t eligible,
                           size_t *out_count);

/* Destroys a selection. NULL, or a pointer that is not a live selection,
** is ignored. */
void wn_selection_free(wn_selection *selection);

/* The message of the last failed call on `selection` (as wn_scorer_last_error). */
const char *wn_selection_last_error(const wn_selection *selection);

/*
** The selected positions into the candidates' `scores`, best first.
** Size query: out_indices == NULL with capacity == 0 writes only *out_count.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_BUFFER_TOO_SMALL (*out_count
** then holds the size needed).
*/
int32_t wn_selection_indices(const wn_selection *selection,
                             int64_t *out_indices, size_t capacity,
                             size_t *out_count);

/*
** Writes the selection's files, each atomically (temporary, fsync, rename):
**   ids_path       the selected ids, <i8 .npy, best first (required).
**   ids            n ids, one per candidate; NULL writes the positions.
**   listing_path   NULL, or a CSV listing "rank,id,score".
**   manifest_path  NULL, or a JSON manifest: the caller's `fields` (a JSON
**                  object text, e.g. {"tool": ..., "inputs": ..., "poolSize":
**                  ...}; NULL for none) with the library's rule, tieBreak,
**                  selected, winnowVersion, outputs and outputsSHA256 (the
**                  SHA-256 of the ids and listing, computed as written).
** Returns WN_OK, WN_ERR_NULL_POINTER (selection, ids_path),
** WN_ERR_INVALID_ARGUMENT (malformed fields, a field naming a library key,
** two outputs at one path), WN_ERR_SHAPE (n_ids is not the candidates'
** count), WN_ERR_IO.
*/
int32_t wn_selection_write(wn_selection *selection, const int64_t *ids,
                           size_t n_ids, const char *ids_path,
                           const char *listing_path,
                           const char *manifest_path, const char *fields);

/* ---------------------------------------------------------------------------
** Reading a feature store (DESIGN 3): the directory `winnow project --store`
** and `winnow store import` write, read row by row with its checksums
** verified, e.g. by a worker that scores one shard (`winnow.ray`).
**
** Thread safety of the object: one thread at a time per store.
*/
typedef struct wn_store wn_store;

#define WN_VERIFY_NONE 0          /* checksums not checked */
#define WN_VERIFY_WHILE_READING 1 /* each shard hashed as its rows are read */
#define WN_VERIFY_WHEN_OPENED 2   /* every file hashed before open returns */

/*
** Opens the store in `directory`: the whole store with shard < 0, or only
** shard `shard` of its manifest (its rows are then the store's rows 0...).
** Every shard's shape and dtype are checked against the manifest when
** opened; checksums as `verify` says. With WN_VERIFY_WHILE_READING a read
** that reaches a shard's last row fails on a mismatch (WN_ERR_FORMAT, the
** shard's file named), and wn_store_finish_verification hashes what was not
** read: call it before acting on what was read.
** Returns WN_OK, WN_ERR_NULL_POINTER (out, directory), WN_ERR_INVALID_ARGUMENT
** (verify, shard past the manifest's), WN_ERR_IO (missing files),
** WN_ERR_FORMAT (malformed manifest, a file that does not match it),
** WN_ERR_UNSUPPORTED. On failure *out is NULL; message in wn_last_error().
** Thread safety: any thread.
*/
int32_t wn_store_open(wn_store **out, const char *directory, int64_t shard,
                      int32_t verify);

/* Destroys a store. NULL, or a pointer that is not a live store, is ignored. */
void wn_store_free(wn_store *store);

/* The message of the last failed call on `store` (as wn_scorer_last_error). */
const char *wn_store_last_error(const wn_store *store);

/*
** The store's rows, feature dimension k and shards (outputs may be NULL).
** Returns WN_OK or WN_ERR_NULL_POINTER (store).
*/
int32_t wn_store_dims(const wn_store *store, size_t *out_rows, size_t *out_k,
                      size_t *out_shards);

/*
** Copies rows [row, row + rows) as float32 (float16 stores are converted)
** into out (capacity floats, >= rows * k), row-major.
** Returns WN_OK, WN_ERR_NULL_POINTER, WN_ERR_INVALID_ARGUMENT (rows == 0),
** WN_ERR_SHAPE (past the last row), WN_ERR_BUFFER_TOO_SMALL, WN_ERR_IO,
** WN_ERR_FORMAT (a checksum mismatch, see wn_store_open).
*/
int32_t wn_store_read_f32(wn_store *store, size_t row, size_t rows, float *out,
                          size_t capacity);

/*
** Copies the sample ids of rows [row, row + rows) into out (capacity >= rows).
** Returns as wn_store_read_f32.
*/
int32_t wn_store_ids(wn_store *store, size_t row, size_t rows, int64_t *out,
                     size_t capacity);

/*
** With WN_VERIFY_WHILE_READING, hashes every shard's rows not read yet and
** returns WN_ERR_FORMAT (naming the shard's file) on the first mismatch;
** WN_OK otherwise, and always for the other modes.
*/
int32_t wn_store_finish_verification(wn_store *store);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* WINNOW_H */
