/*
** libFuzzer driver for the C ABI: each input is a program of calls into
** libwinnow.so (the release library of `make lib`) with sizes drawn from
** small honest values and from values whose byte counts overflow size_t,
** live, freed, foreign and NULL handles, and any call order.
**
** The library promises that nothing traps and every error is a status
** (winnow.h). Findings are therefore: a signal or sanitizer report, a status
** outside the documented set, WN_ERR_INTERNAL, and a successful call whose
** outputs break the header's promises (a plan with an id outside the pool,
** a mixture that is not finite or does not sum to 1, a top-k that is not
** the k best).
**
** Memory discipline, so that every read the library makes is legitimate:
** a buffer argument points into a pool of POOL_FLOATS values; a count
** whose byte size fits the pool is backed by it, a count whose byte size
** overflows size_t is passed with the pool (the library must refuse it
** before reading), and anything in between is not called.
**
** WINNOW_FUZZ_SKIP_KNOWN=1 skips the inputs of the crashes issue 12 lists
** (see skip_known below), so that a run explores past them until their
** fixes are merged; without it the driver reaches them.
*/
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "winnow.h"

#define POOL_FLOATS (1u << 22) /* 16 MiB: a 2^20-wide row fits */
#define POOL_BYTES (POOL_FLOATS * sizeof(float))
#define MAX_IDS 64

static float *g_pool;        /* floats, also viewed as other element types */
static int g_skip_known;
static int g_trace; /* WINNOW_FUZZ_TRACE=1: print the calls that may fail */
static size_t g_physical; /* bytes of RAM: larger allocations must be refused */

/* ---- the input, read as a stream of choices (zeros once exhausted) ---- */
typedef struct {
  const uint8_t *data;
  size_t size, at;
} input;

static uint8_t u8(input *in) { return in->at < in->size ? in->data[in->at++] : 0; }
static uint64_t u64(input *in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)u8(in) << (8 * i);
  return v;
}

/* Dimensions and counts that describe no caller buffer (k, D, ranks, K,
** task counts, keep): small ones, honest large ones, overflowing ones. */
static size_t any_size(input *in) {
  static const size_t special[] = {
      0, 1, 2, 3, 4, 7, 8, 16, 64, 1u << 20, (size_t)1 << 31, (size_t)1 << 40,
      ((size_t)1 << 61), ((size_t)1 << 61) + 1, (size_t)1 << 62, ((size_t)1 << 62) + 1,
      (size_t)1 << 63, SIZE_MAX / 4 + 1, SIZE_MAX / 8 + 1, SIZE_MAX};
  uint8_t b = u8(in);
  if (b < 128) return b % 9;
  return special[b % (sizeof special / sizeof special[0])];
}

/* A count of `elem`-byte items a buffer must hold: small (backed), or one
** whose byte count overflows size_t (unbacked, must be refused). */
static size_t buffer_count(input *in, size_t elem) {
  uint8_t b = u8(in);
  if (b < 200) return b % 12;
  static const size_t over[] = {((size_t)1 << 61), ((size_t)1 << 61) + 1, ((size_t)1 << 62) + 1,
                                (size_t)1 << 63, SIZE_MAX};
  size_t v = over[b % 5];
  return v > SIZE_MAX / elem ? v : SIZE_MAX; /* always overflowing */
}

/* Whether `a * b * elem` bytes are backed by the pool (1), overflow size_t
** (0: pass, the library must refuse), or neither (-1: do not call). */
static int backing(size_t a, size_t b, size_t elem) {
  if (a != 0 && b > SIZE_MAX / a) return 0;
  size_t n = a * b;
  if (n > SIZE_MAX / elem) return 0;
  return n * elem <= POOL_BYTES ? 1 : -1;
}

static float any_float(input *in) {
  static const float values[] = {0.0f, 1.0f, -1.0f, 0.5f, 2.0f, -3.0f, 1e-30f, 1e30f,
                                 FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN, FLT_MIN};
  uint8_t b = u8(in);
  return b < 128 ? (float)(b % 17) / 4.0f - 2.0f : values[b % (sizeof values / sizeof values[0])];
}

static double any_double(input *in) {
  static const double values[] = {0.0, 1.0, -1.0, 0.05, 0.5, 1e6, 1e300, DBL_MAX, -DBL_MAX,
                                  INFINITY, -INFINITY, NAN, DBL_MIN, 1e-300, 2.5, 1024};
  uint8_t b = u8(in);
  return b < 100 ? (double)(b % 21) / 10.0 : values[b % (sizeof values / sizeof values[0])];
}

/* Writes a few fuzzed values at the start of the pool; the rest keeps its
** finite pattern. */
static void fill(input *in) {
  size_t n = u8(in) % 24;
  for (size_t i = 0; i < n; i++) g_pool[i] = any_float(in);
}

/* ---- handles: live ones, freed ones, foreign pointers, NULL ---- */
enum { SLOTS = 2 };
static wn_projector *g_proj[SLOTS];
static wn_engine *g_eng[SLOTS];
static wn_scorer *g_scorer[SLOTS];
static wn_factored_projector *g_fact[SLOTS];
static int64_t g_ids[SLOTS][MAX_IDS];
static size_t g_pool_size[SLOTS];
static size_t g_proj_k[SLOTS], g_fact_k[SLOTS];

/* A handle for a call: a live slot, NULL, a freed one, or another kind's. */
static void *pick_handle(input *in, void **slots) {
  uint8_t b = u8(in);
  switch (b % 8) {
    case 6: return NULL;
    case 7: {
      void *others[] = {g_proj[0], g_eng[0], g_scorer[0], g_fact[0], (void *)g_pool,
                        (void *)(uintptr_t)0x1000};
      return others[(b >> 3) % 6];
    }
    default: return slots[b % SLOTS];
  }
}
#define PROJ(in) ((wn_projector *)pick_handle(in, (void **)g_proj))
#define ENG(in) ((wn_engine *)pick_handle(in, (void **)g_eng))
#define SCORER(in) ((wn_scorer *)pick_handle(in, (void **)g_scorer))
#define FACT(in) ((wn_factored_projector *)pick_handle(in, (void **)g_fact))

static int slot_of(void **slots, void *h) {
  for (int i = 0; i < SLOTS; i++)
    if (h && slots[i] == h) return i;
  return -1;
}

/* ---- checks on what comes back ---- */
static void check_status(int32_t s, const char *call) {
  if (g_trace) fprintf(stderr, "%s -> %d\n", call, s);
  if ((s <= 0 && s >= -11) && s != WN_ERR_INTERNAL) {
    if (wn_status_string(s) == NULL) { fprintf(stderr, "%s: no status text\n", call); abort(); }
    return;
  }
  fprintf(stderr, "%s returned status %d (%s): %s\n", call, s, wn_status_string(s), wn_last_error());
  abort();
}
#define CALL(expr) check_status((expr), #expr)

/* After a successful end_epoch: the plan holds pool ids, finite weights,
** and a finite mixture summing to 1 (issue 12 lists NaN mixtures). */
static void check_plan(wn_engine *e, int slot) {
  size_t n = 0, k = 0;
  CALL(wn_engine_plan_size(e, &n, &k));
  if (n > g_pool_size[slot] || k == 0 || k > 4096) { fprintf(stderr, "plan size %zu/%zu\n", n, k); abort(); }
  int64_t ids[MAX_IDS];
  float weights[MAX_IDS];
  double mixture[4096];
  CALL(wn_engine_plan_ids(e, ids, MAX_IDS));
  CALL(wn_engine_plan_weights(e, weights, MAX_IDS));
  for (size_t i = 0; i < n; i++) {
    int found = 0;
    for (size_t j = 0; j < g_pool_size[slot]; j++) found |= ids[i] == g_ids[slot][j];
    if (!found || !isfinite(weights[i]) || weights[i] < 0) {
      fprintf(stderr, "plan entry %zu: id %lld weight %g\n", i, (long long)ids[i], weights[i]);
      abort();
    }
  }
  CALL(wn_engine_plan_mixture(e, mixture, 4096));
  double sum = 0;
  int finite = 1;
  for (size_t d = 0; d < k; d++) { finite &= isfinite(mixture[d]) && mixture[d] >= 0; sum += mixture[d]; }
  if (!g_skip_known && (!finite || fabs(sum - 1) > 1e-6)) {
    fprintf(stderr, "plan mixture not a distribution (sum %g)\n", sum);
    abort();
  }
}

/* A top-k style selection: count indices, distinct, in range, best first. */
static void check_selection(const float *scores, size_t n, const int64_t *idx, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (idx[i] < 0 || (size_t)idx[i] >= n) { fprintf(stderr, "index %lld of %zu\n", (long long)idx[i], n); abort(); }
    if (i > 0) {
      float a = scores[idx[i - 1]], b = scores[idx[i]];
      if (a < b || (a == b && idx[i - 1] >= idx[i])) { fprintf(stderr, "selection out of order at %zu\n", i); abort(); }
    }
  }
}

/* ---- the operations ---- */
static void op_projector(input *in) {
  int slot = u8(in) % SLOTS;
  wn_projector *p = NULL;
  size_t d = any_size(in), k = any_size(in);
  static const size_t budgets[] = {0, 4, 64, 1u << 20, SIZE_MAX};
  int32_t s = wn_projector_create(u8(in) & 1 ? &p : NULL, (int32_t)(u8(in) % 3) - (u8(in) & 1),
                                  u64(in), d, k, budgets[u8(in) % 5]);
  CALL(s);
  if (s == WN_OK && p) {
    wn_projector_free(g_proj[slot]);
    g_proj[slot] = p;
    size_t dd = 0, kk = 0;
    CALL(wn_projector_dims(p, &dd, &kk));
    g_proj_k[slot] = kk;
  }
}

static void op_project(input *in) {
  wn_projector *p = PROJ(in);
  int slot = slot_of((void **)g_proj, p);
  size_t d = 0, k = 0;
  if (slot >= 0) wn_projector_dims(p, &d, &k);
  else d = any_size(in), k = any_size(in);
  size_t rows = buffer_count(in, 4);
  int piece = u8(in) % 3;
  size_t offset = piece ? any_size(in) : 0, length = piece ? any_size(in) : d;
  size_t elem = u8(in) & 1 ? 2 : 4;
  if (backing(rows, length, elem) < 0 || backing(rows, k, 4) < 0) return;
  /* Legal but enormous work (a 2^20 x 2^20 matrix generated panel by
  ** panel takes hours) is not a finding: only overflowing or modest sizes. */
  if (backing(length, k, 4) == -1 || (backing(length, k, 4) == 1 && length * k > ((size_t)1 << 24)))
    if (backing(rows, length, elem) == 1 && backing(rows, k, 4) == 1 && rows > 0) return;
  fill(in);
  /* The output shares no memory with the input: the second half of the pool. */
  float *out = g_pool + POOL_FLOATS / 2;
  size_t cap = backing(rows, k, 4) == 1 ? rows * k : SIZE_MAX;
  if (cap != SIZE_MAX && cap > POOL_FLOATS / 2) return;
  if (rows * length * elem > POOL_BYTES / 2 && backing(rows, length, elem) == 1) return;
  if (u8(in) % 4 == 0 && cap != SIZE_MAX && cap > 0) cap -= 1; /* too small */
  const void *x = u8(in) % 16 == 0 ? NULL : (const void *)g_pool;
  float *o = u8(in) % 16 == 0 ? NULL : out;
  if (elem == 4) {
    CALL(piece ? wn_projector_project_piece_f32(p, x, rows, offset, length, o, cap, piece == 2)
               : wn_projector_project_f32(p, x, rows, o, cap));
  } else {
    CALL(piece ? wn_projector_project_piece_f16(p, x, rows, offset, length, o, cap, piece == 2)
               : wn_projector_project_f16(p, x, rows, o, cap));
  }
}

static void op_engine(input *in) {
  int slot = u8(in) % SLOTS;
  size_t n = u8(in) % (MAX_IDS + 1);
  if (u8(in) % 32 == 0) n = buffer_count(in, 8) > MAX_IDS ? SIZE_MAX / 2 : n; /* overflowing */
  int64_t ids[MAX_IDS];
  int32_t domains[MAX_IDS];
  size_t domain_count = u8(in) % 6;
  for (size_t i = 0; i < MAX_IDS; i++) {
    ids[i] = u8(in) % 8 == 0 ? (int64_t)u64(in) : (int64_t)(i * 3 + 1);
    domains[i] = (int32_t)(u8(in) % 5) - (u8(in) % 64 == 0);
  }
  size_t k = any_size(in), tasks = u8(in) % 4;
  if (g_skip_known && k > ((size_t)1 << 30)) return; /* feature_dim 2^40 / 2^62 */
  wn_engine *e = NULL;
  int32_t s = wn_engine_create(u8(in) % 32 ? &e : NULL, u8(in) % 32 ? ids : NULL,
                               u8(in) % 2 ? domains : NULL, n, domain_count, k, tasks);
  CALL(s);
  if (s == WN_OK && e) {
    wn_engine_free(g_eng[slot]);
    g_eng[slot] = e;
    g_pool_size[slot] = n;
    memcpy(g_ids[slot], ids, sizeof ids);
  }
}

static void op_param(input *in) {
  wn_engine *e = ENG(in);
  int32_t key = (int32_t)(u8(in) % 24) - 1;
  if (u8(in) & 1) {
    CALL(wn_engine_set_param_f64(e, key, any_double(in)));
  } else {
    int64_t v = u8(in) & 1 ? (int64_t)(u8(in) % 8) : (int64_t)u64(in);
    CALL(wn_engine_set_param_i64(e, key, v));
  }
  double value, lo, hi;
  int32_t flags;
  CALL(wn_engine_get_param_f64(e, key, u8(in) % 16 ? &value : NULL));
  CALL(wn_param_bounds(key, &lo, &hi, &flags));
  CALL(wn_param_default(key, u8(in) % 16 ? &value : NULL));
  (void)wn_param_name(key);
}

static void op_mixture(input *in) {
  wn_engine *e = ENG(in);
  double w[8];
  for (int i = 0; i < 8; i++) w[i] = any_double(in);
  size_t count = u8(in) % 9;
  if (u8(in) % 32 == 0) count = SIZE_MAX / 4 + 1;
  if (g_skip_known) for (int i = 0; i < 8; i++) if (fabs(w[i]) > 1e300) return; /* DBL_MAX mixture */
  CALL(wn_engine_set_initial_mixture(e, u8(in) % 16 ? w : NULL, count));
}

static void op_epoch(input *in) {
  wn_engine *e = ENG(in);
  if (u8(in) & 1) {
    int64_t epoch = u8(in) % 4 == 0 ? (int64_t)u64(in) : (int64_t)u8(in) % 16;
    CALL(wn_engine_begin_epoch(e, epoch, any_double(in)));
  } else {
    size_t selected = 0;
    int32_t s = wn_engine_end_epoch(e, u8(in) % 8 ? &selected : NULL);
    CALL(s);
    int slot = slot_of((void **)g_eng, e);
    if (s == WN_OK && slot >= 0) check_plan(e, slot);
  }
}

static void op_target(input *in) {
  wn_engine *e = ENG(in);
  size_t k = 0;
  int slot = slot_of((void **)g_eng, e);
  if (slot >= 0) wn_engine_dims(e, NULL, NULL, &k, NULL);
  size_t dim = u8(in) % 4 ? k : any_size(in), rows = buffer_count(in, 4);
  int proj = u8(in) % 3 == 0;
  wn_projector *p = proj ? PROJ(in) : NULL;
  size_t pk = 0;
  if (proj && slot_of((void **)g_proj, p) >= 0) wn_projector_dims(p, &dim, &pk);
  if (backing(rows, dim, 4) < 0) return;
  /* Known: a projector to k = 2^20 makes add_target_gradients allocate 4 TiB. */
  if (g_skip_known && proj && pk > (1u << 16)) return;
  fill(in);
  const float *x = u8(in) % 16 ? g_pool : NULL;
  size_t task = u8(in) % 4;
  CALL(proj ? wn_engine_add_target_gradients(e, p, task, x, rows, dim)
            : wn_engine_add_target(e, task, x, rows, dim));
}

static void op_candidates(input *in) {
  wn_engine *e = ENG(in);
  int slot = slot_of((void **)g_eng, e);
  size_t k = 0, count = buffer_count(in, 8);
  if (slot >= 0) wn_engine_dims(e, NULL, NULL, &k, NULL);
  int64_t ids[MAX_IDS];
  size_t start = u8(in);
  for (size_t i = 0; i < MAX_IDS; i++)
    ids[i] = slot >= 0 && u8(in) % 16 ? g_ids[slot][(start + i) % (g_pool_size[slot] ? g_pool_size[slot] : 1)]
                                      : (int64_t)u8(in);
  /* Known: count * 8 overflows in wn_engine_add_candidates (issue 12). */
  if (g_skip_known && count > SIZE_MAX / 8) return;
  if (count > MAX_IDS && count <= SIZE_MAX / 8) return;
  int proj = u8(in) % 3 == 0;
  wn_projector *p = proj ? PROJ(in) : NULL;
  size_t dim = u8(in) % 4 ? k : any_size(in), pk = 0;
  if (proj && slot_of((void **)g_proj, p) >= 0) wn_projector_dims(p, &dim, &pk);
  if (g_skip_known && proj && pk > (1u << 16)) return;
  int features = u8(in) % 4 != 0;
  if (features && backing(count, dim, 4) < 0) return;
  fill(in);
  const float *f = features ? g_pool : NULL;
  const float *losses = u8(in) % 2 ? g_pool + 8 : NULL, *refs = u8(in) % 2 ? g_pool + 16 : NULL;
  /* An overflowing count comes with the 64 ids: valid ones, so the library
  ** gets past them before anything else can stop it. */
  CALL(proj ? wn_engine_add_candidate_gradients(e, p, ids, count, f, dim, losses, refs)
            : wn_engine_add_candidates(e, ids, count, f, dim, losses, refs));
}

static void op_plan_copy(input *in) {
  wn_engine *e = ENG(in);
  size_t cap = u8(in) % 8 ? MAX_IDS : any_size(in) % (MAX_IDS + 1);
  void *out = u8(in) % 16 ? (void *)(g_pool + POOL_FLOATS / 2) : NULL;
  switch (u8(in) % 10) {
    case 0: CALL(wn_engine_plan_ids(e, out, cap)); break;
    case 1: CALL(wn_engine_plan_weights(e, out, cap)); break;
    case 2: CALL(wn_engine_plan_probabilities(e, out, cap)); break;
    case 3: CALL(wn_engine_plan_mixture(e, out, cap)); break;
    case 4: CALL(wn_engine_plan_mixture_average(e, out, cap)); break;
    case 5: CALL(wn_engine_plan_domain_counts(e, out, cap)); break;
    case 6: CALL(wn_engine_pool_probabilities(e, out, cap)); break;
    case 7: CALL(wn_engine_scores(e, out, cap)); break;
    case 8: {
      int64_t epoch; int32_t kind, policy; size_t n, d, k, t;
      CALL(wn_engine_plan_info(e, &epoch, &kind, &policy));
      CALL(wn_engine_dims(e, &n, &d, &k, &t));
      if (wn_engine_last_error(e) == NULL) abort();
      break;
    }
    default: wn_engine_free(e); {
      int slot = slot_of((void **)g_eng, e);
      if (slot >= 0) g_eng[slot] = NULL; /* the freed pointer may come back as a foreign one */
    }
  }
}

static void op_select(input *in) {
  size_t n = buffer_count(in, 4);
  if (backing(n, 1, 8) < 0) return;
  fill(in);
  int64_t *out = (int64_t *)(g_pool + POOL_FLOATS / 2);
  size_t cap = u8(in) % 4 ? (n < 4096 ? n : 4096) : any_size(in) % 8, count = 0;
  int64_t *o = u8(in) % 8 ? out : NULL;
  size_t *c = u8(in) % 16 ? &count : NULL;
  int32_t s;
  switch (u8(in) % 4) {
    case 0: {
      size_t k = u8(in) % 2 ? any_size(in) : u8(in) % 12;
      s = wn_select_top_k(g_pool, n, k, o, cap, c);
      CALL(s);
      if (s == WN_OK && o && cap && c) check_selection(g_pool, n, out, count);
      break;
    }
    case 1: s = wn_select_top_fraction(g_pool, n, any_double(in), o, cap, c); CALL(s);
      if (s == WN_OK && o && cap && c) check_selection(g_pool, n, out, count);
      break;
    case 2: CALL(wn_select_threshold(g_pool, n, any_float(in), o, cap, c)); break;
    default: {
      size_t dim = any_size(in), keep = u8(in) % 6;
      if (backing(n, dim, 4) < 0 || backing(dim, 1, 4) < 0) return;
      wn_engine *e = u8(in) % 2 ? ENG(in) : NULL;
      float *w = u8(in) % 2 ? g_pool + POOL_FLOATS / 2 + 8192 : NULL;
      CALL(e ? wn_engine_select_step(e, g_pool, n, dim, g_pool + 4, keep, any_float(in), o, w, cap)
             : wn_select_step(g_pool, n, dim, g_pool + 4, keep, any_float(in), o, w, cap));
    }
  }
}

/* A selection object over candidates (any rule, value and pool count), its
** indices into any capacity, the rule's count, and store opening errors
** (files are not written or read here: the C tests do that). */
static void op_selection(input *in) {
  size_t n = buffer_count(in, 4);
  if (backing(n, 1, 12) < 0) return;
  fill(in);
  int32_t rule = (int32_t)(u8(in) % 4);
  double value = u8(in) % 2 ? any_double(in) : (double)(u8(in) % 12);
  size_t eligible = u8(in) % 2 ? any_size(in) : 0, count = 0;
  if (u8(in) % 4 == 0) {
    CALL(wn_selection_count(rule, value, eligible, u8(in) % 8 ? &count : NULL));
    return;
  }
  if (u8(in) % 8 == 0) {
    wn_store *store = NULL;
    CALL(wn_store_open(u8(in) % 2 ? &store : NULL, u8(in) % 2 ? "/nonexistent" : NULL,
                       (int64_t)u64(in), (int32_t)(u8(in) % 4)));
    wn_store_free(store);
    return;
  }
  wn_selection *sel = NULL;
  int32_t s = wn_selection_create(&sel, u8(in) % 16 ? g_pool : NULL, n, rule, value, eligible);
  CALL(s);
  if ((s == WN_OK) != (sel != NULL)) abort();
  int64_t *out = (int64_t *)(g_pool + POOL_FLOATS / 2);
  size_t cap = u8(in) % 4 ? (n < 4096 ? n : 4096) : any_size(in) % 8;
  s = wn_selection_indices(sel, u8(in) % 8 ? out : NULL, cap, u8(in) % 16 ? &count : NULL);
  CALL(s);
  if (s == WN_OK && cap && count) check_selection(g_pool, n, out, count);
  if (!wn_selection_last_error(sel)) abort();
  wn_selection_free(sel);
}

static void op_scorer(input *in) {
  int slot = u8(in) % SLOTS;
  if (u8(in) % 3 == 0) { /* score */
    wn_scorer *sc = SCORER(in);
    size_t c = 0, g = 0, rows = buffer_count(in, 4);
    int live = slot_of((void **)g_scorer, sc) >= 0;
    if (live) CALL(wn_scorer_dims(sc, &c, &g));
    if (backing(rows, 16, 4) < 0) return; /* live scorers have k <= 8, C <= 8 */
    fill(in);
    const float *train[8];
    for (int i = 0; i < 8; i++) train[i] = g_pool + i;
    size_t skipped = 0, cap = u8(in) % 4 ? rows : any_size(in);
    CALL(wn_scorer_score_f32(sc, u8(in) % 16 ? train : NULL, rows, g_pool + POOL_FLOATS / 2,
                             cap > POOL_FLOATS / 2 ? POOL_FLOATS / 2 : cap, u8(in) % 2 ? &skipped : NULL));
    return;
  }
  size_t c = u8(in) % 4, m = u8(in) % 6;
  if (u8(in) % 16 == 0) c = buffer_count(in, 8);
  if (g_skip_known && c > SIZE_MAX / 8) return; /* known: checkpoint count 2^61 */
  if (c > 8 && c <= SIZE_MAX / 8) return;
  size_t dims[8];
  const float *targets[8];
  double weights[8];
  int64_t groups[8];
  for (int i = 0; i < 8; i++) {
    dims[i] = u8(in) % 8 ? (size_t)(u8(in) % 8) : any_size(in);
    if (dims[i] > 8 && backing(m ? m : 1, dims[i], 4) != 0) dims[i] = 1; /* small or overflowing */
    targets[i] = u8(in) % 32 ? g_pool + i : NULL;
    weights[i] = any_double(in);
    groups[i] = (int64_t)(u8(in) % 3) - 1;
  }
  if (m > 8) return;
  fill(in);
  wn_scorer *sc = NULL;
  wn_scorer **o = u8(in) % 32 ? &sc : NULL;
  int32_t measure = (int32_t)(u8(in) % 4) - 1;
  const float *const *t = u8(in) % 32 ? targets : NULL;
  const size_t *k = u8(in) % 32 ? dims : NULL;
  const double *w = u8(in) % 2 ? weights : NULL;
  const int64_t *g = u8(in) % 2 ? groups : NULL;
  int skip = u8(in) & 1;
  if (g_trace) {
    fprintf(stderr, "wn_scorer_create(measure %d, C %zu, targets %s, M %zu, weights %s, groups %s)\n",
            measure, c, t ? "set" : "NULL", m, w ? "set" : "NULL", g ? "set" : "NULL");
    for (size_t i = 0; t && k && i < c && i < 8; i++)
      fprintf(stderr, "  c=%zu: k %zu, target %p (pool %+td)\n", i, k[i], (void *)t[i],
              t[i] ? t[i] - g_pool : 0);
  }
  int32_t s = wn_scorer_create(o, measure, c, t, k, m, w, g, skip);
  CALL(s);
  if (s == WN_OK && sc) {
    wn_scorer_free(g_scorer[slot]);
    g_scorer[slot] = sc;
  } else if (u8(in) % 4 == 0) {
    wn_scorer_free(SCORER(in)); /* frees, double frees, foreign pointers */
    for (int i = 0; i < SLOTS; i++) if (!u8(in)) g_scorer[i] = NULL;
  }
}

/* Factored projectors over 1-2 layers, with dims and ranks from any_size;
** a batch of factors is projected, or selected from in step mode. */
static void op_factored(input *in) {
  int slot = u8(in) % SLOTS;
  size_t layers = u8(in) % 3;
  uint64_t ids[2] = {u8(in) % 3, u8(in) % 3};
  size_t din[2], dout[2], kin[2], kout[2];
  for (int l = 0; l < 2; l++) {
    din[l] = any_size(in), dout[l] = any_size(in);
    kin[l] = any_size(in), kout[l] = any_size(in);
  }
  if (u8(in) % 2) { /* create */
    if (g_skip_known) /* known: ranks 2^20 x 2^20 allocate 4 TiB in select_step_factors */
      for (int l = 0; l < 2; l++) if (kin[l] > (1u << 12) || kout[l] > (1u << 12)) return;
    /* The matrices' bytes: sent when they fit 1 GiB or exceed the machine
    ** (the library must refuse those), not in between (legal but slow). */
    size_t bytes = 0;
    int over = 0;
    for (size_t l = 0; l < layers; l++) {
      size_t parts[2][2] = {{din[l], kin[l]}, {dout[l], kout[l]}};
      for (int q = 0; q < 2; q++) {
        if (parts[q][0] && parts[q][1] > SIZE_MAX / 4 / parts[q][0]) over = 1;
        else if (bytes > SIZE_MAX - 4 * parts[q][0] * parts[q][1]) over = 1;
        else bytes += 4 * parts[q][0] * parts[q][1];
      }
    }
    if (!over && bytes > ((size_t)1 << 30) && bytes <= g_physical) return;
    wn_factored_projector *f = NULL;
    int32_t s = wn_factored_projector_create(u8(in) % 32 ? &f : NULL, layers, u8(in) % 32 ? ids : NULL,
                                             din, dout, kin, kout, u64(in), (int32_t)(u8(in) % 3));
    CALL(s);
    if (s == WN_OK && f) {
      wn_factored_projector_free(g_fact[slot]);
      g_fact[slot] = f;
      size_t fk = 0, lc = 0, offsets[2];
      CALL(wn_factored_projector_dims(f, &fk, &lc, offsets, 2));
      g_fact_k[slot] = fk;
    }
    return;
  }
  wn_factored_projector *f = FACT(in);
  int live = slot_of((void **)g_fact, f);
  size_t fk = live >= 0 ? g_fact_k[live] : any_size(in), lc = layers;
  size_t samples = u8(in) % 4, tokens[4], total = 0;
  for (int s = 0; s < 4; s++) {
    tokens[s] = u8(in) % 16 ? 0 : any_size(in);
    if (s < (int)samples) total += tokens[s];
  }
  if (u8(in) % 4 == 0) total = any_size(in);
  /* Factors are total_tokens x d rows; with 0 tokens nothing is read, and a
  ** total that is not the sum of the counts must be refused first. Only
  ** zero-token batches (honest) and mismatched ones are sent. */
  int honest = total == 0;
  int mismatched = 1;
  { size_t sum = 0; int over = 0;
    for (size_t s = 0; s < samples; s++) { over |= tokens[s] > SIZE_MAX - sum; sum += tokens[s]; }
    mismatched = over || sum != total; }
  if (!honest && !mismatched) return;
  const float *a[2] = {g_pool, g_pool}, *d[2] = {g_pool, g_pool};
  size_t cap = u8(in) % 4 ? POOL_FLOATS / 2 : any_size(in);
  if (cap > POOL_FLOATS / 2) cap = POOL_FLOATS / 2;
  float *out = g_pool + POOL_FLOATS / 2;
  if (u8(in) % 2) {
    if (fk != 0 && samples > cap / fk) return; /* would need a larger output than we have */
    CALL(wn_factored_projector_project_f32(f, samples, u8(in) % 16 ? tokens : NULL, total, lc,
                                           u8(in) % 2 ? ids : NULL, a, d, out, cap));
  } else {
    size_t keep = u8(in) % 4;
    int64_t *idx = (int64_t *)out;
    CALL(wn_select_step_factors(f, samples, tokens, total, lc, NULL, a, d, 0, a, d, keep,
                                any_float(in), idx, (float *)(idx + 64), keep));
  }
}

/* K-FAC curvatures over 1-2 layers: created with fuzzed dims (small ones
** run for real: accumulate, fit, corrections, whiten, features, a whitened
** projector), or fed batches whose counts disagree; files that do not exist. */
static void op_curvature(input *in) {
  size_t layers = u8(in) % 3;
  uint64_t ids[2] = {u8(in) % 3, u8(in) % 3};
  size_t din[2], dout[2];
  int small = u8(in) % 4 != 0;
  for (int l = 0; l < 2; l++) {
    din[l] = small ? (size_t)(u8(in) % 9) : any_size(in);
    dout[l] = small ? (size_t)(u8(in) % 9) : any_size(in);
    /* Legal but large (up to the machine's memory) would only be slow. */
    if (!small && din[l] < ((size_t)1 << 20) && dout[l] < ((size_t)1 << 20)) return;
  }
  if (u8(in) % 16 == 0) {
    wn_curvature *c = NULL;
    CALL(wn_curvature_load(u8(in) % 2 ? &c : NULL, u8(in) % 2 ? "/nonexistent/fit" : NULL));
    wn_curvature_free(c);
    return;
  }
  wn_curvature *c = NULL;
  int32_t s = wn_curvature_create(u8(in) % 32 ? &c : NULL, layers, u8(in) % 32 ? ids : NULL,
                                  u8(in) % 32 ? din : NULL, dout);
  CALL(s);
  if (s != WN_OK || !c) return;
  size_t tokens[4], samples = u8(in) % 4, total = 0;
  for (int i = 0; i < 4; i++) {
    tokens[i] = u8(in) % 8;
    if (i < (int)samples) total += tokens[i];
  }
  if (u8(in) % 8 == 0) total = any_size(in); /* disagrees: refused before reading */
  if (total > 64) total = u8(in) % 2 ? total : 0;
  if (total <= 64 && backing(total, 16, 4) < 0) { wn_curvature_free(c); return; }
  fill(in);
  const float *a[2] = {g_pool, g_pool + 7}, *d[2] = {g_pool + 3, g_pool + 11};
  float *oa[2] = {g_pool + POOL_FLOATS / 2, g_pool + POOL_FLOATS / 2 + 1024};
  float *od[2] = {g_pool + POOL_FLOATS / 2 + 2048, g_pool + POOL_FLOATS / 2 + 3072};
  for (int step = 0; step < 6; step++) {
    double damping = u8(in) % 4 ? (double)(u8(in) % 3) / 10.0 : any_double(in);
    int32_t kind = (int32_t)(u8(in) % 3), method = (int32_t)(u8(in) % 3);
    const uint64_t *order = u8(in) % 2 ? ids : NULL;
    switch (u8(in) % 7) {
      case 0: CALL(wn_curvature_accumulate_f32(c, samples, tokens, total, layers, order, a, d)); break;
      case 1: CALL(wn_curvature_fit(c)); break;
      case 2: CALL(wn_curvature_accumulate_corrections_f32(c, samples, tokens, total, layers, order, a, d)); break;
      case 3: if (total > 64) break; /* rows are read as given: keep them in the pool */
        CALL(wn_curvature_whiten_f32(c, damping, kind, total, layers, order, a, d, oa, od,
                                           u8(in) % 4 ? 64 : any_size(in))); break;
      case 4: CALL(wn_curvature_features_f32(c, method, damping, kind, samples, tokens, total, layers,
                                             order, a, d, g_pool + POOL_FLOATS / 2,
                                             u8(in) % 4 ? 4096 : any_size(in) % 4096)); break;
      case 5: {
        wn_factored_projector *f = NULL;
        CALL(wn_curvature_whitened_projector(c, damping, kind, FACT(in), u8(in) % 8 ? &f : NULL));
        wn_factored_projector_free(f);
        break;
      }
      default: {
        int32_t phase = 0;
        size_t n = 0, fd = 0, lc = 0;
        CALL(wn_curvature_info(c, &phase, &n, NULL, NULL, &fd, &lc));
        CALL(wn_curvature_save(c, u8(in) % 2 ? "/nonexistent/fit" : NULL));
      }
    }
    if (!wn_curvature_last_error(c)) abort();
  }
  wn_curvature_free(c);
  wn_curvature_free(c); /* a freed handle is ignored */
}

static void op_misc(input *in) {
  switch (u8(in) % 4) {
    case 0: CALL(wn_set_blas_threads((int32_t)(u8(in) % 4) - 1)); break;
    case 1: if (!wn_status_string((int32_t)u64(in))) abort(); break;
    case 2: wn_projector_free(PROJ(in)); break; /* live, double, foreign, NULL */
    default: wn_factored_projector_free(FACT(in)); break;
  }
  if (!wn_last_error() || !wn_version() || wn_abi_version() != WN_ABI_VERSION) abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  g_pool = malloc(POOL_BYTES);
  if (!g_pool) abort();
  for (size_t i = 0; i < POOL_FLOATS; i++) g_pool[i] = (float)((i * 7919) % 13) / 8.0f - 0.75f;
  {
    const char *skip = getenv("WINNOW_FUZZ_SKIP_KNOWN");
    g_skip_known = skip != NULL && skip[0] != '\0' && strcmp(skip, "0") != 0;
  }
  g_trace = getenv("WINNOW_FUZZ_TRACE") != NULL;
  g_physical = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
  wn_set_blas_threads(1); /* deterministic and fast under the fuzzer */
  return 0;
}

/* Each input is one program; handles live only for its duration, so every
** input replays alone (libFuzzer's reproducers are self-contained). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  input in = {data, size, 0};
  static void (*const ops[])(input *) = {op_projector, op_project, op_engine, op_param,
                                         op_mixture, op_epoch, op_target, op_candidates,
                                         op_plan_copy, op_select, op_scorer, op_factored, op_misc,
                                         op_selection, op_curvature};
  for (int steps = 0; in.at < in.size && steps < 64; steps++)
    ops[u8(&in) % (sizeof ops / sizeof ops[0])](&in);
  for (int i = 0; i < SLOTS; i++) {
    wn_projector_free(g_proj[i]);
    wn_engine_free(g_eng[i]);
    wn_scorer_free(g_scorer[i]);
    wn_factored_projector_free(g_fact[i]);
    g_proj[i] = NULL, g_eng[i] = NULL, g_scorer[i] = NULL, g_fact[i] = NULL;
    g_pool_size[i] = g_proj_k[i] = g_fact_k[i] = 0;
  }
  /* Restore the start of the pool fill() overwrites. */
  for (size_t i = 0; i < 64; i++) g_pool[i] = (float)((i * 7919) % 13) / 8.0f - 0.75f;
  return 0;
}
