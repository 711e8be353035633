/*
** Drives every error path of the C ABI: NULL handles and pointers, zero and
** overflowing sizes, wrong dimensions, NaN inputs, out-of-range parameters,
** calls out of order, stale handles. Each call must return its documented
** status, and the process must survive all of them.
*/
#define _DEFAULT_SOURCE /* fork, setrlimit, alarm for the child-process test */
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

enum { N = 40, D = 64, K = 8 };

static int64_t ids[N];
static int32_t domains[N];
static float features[N * K], gradients[N * D], targets[2 * K];

static void make_inputs(void) {
  uint64_t s = 5;
  for (int i = 0; i < N; i++) ids[i] = i * 10, domains[i] = i % 2;
  for (int i = 0; i < N * K; i++) features[i] = uniform(&s);
  for (int i = 0; i < N * D; i++) gradients[i] = uniform(&s);
  for (int i = 0; i < 2 * K; i++) targets[i] = uniform(&s);
}

static void test_statuses(void) {
  const int32_t codes[] = {WN_OK, WN_ERR_INVALID_ARGUMENT, WN_ERR_SHAPE,
                           WN_ERR_NON_FINITE, WN_ERR_IO, WN_ERR_FORMAT,
                           WN_ERR_OUT_OF_MEMORY, WN_ERR_BAD_STATE,
                           WN_ERR_UNSUPPORTED, WN_ERR_NUMERICAL,
                           WN_ERR_NULL_POINTER, WN_ERR_BUFFER_TOO_SMALL,
                           WN_ERR_INTERNAL};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *s = wn_status_string(codes[i]);
    EXPECT_TRUE(s && *s && strcmp(s, "unknown status") != 0);
  }
  EXPECT_TRUE(strcmp(wn_status_string(-1234), "unknown status") == 0);
  EXPECT_TRUE(strcmp(wn_status_string(7), "unknown status") == 0);
  EXPECT_STATUS(wn_set_blas_threads(0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_set_blas_threads(-3), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strstr(wn_last_error(), "thread") != NULL);
  double lo, hi;
  int32_t flags;
  EXPECT_OK(wn_param_bounds(WN_PARAM_SELECT_FRACTION, &lo, &hi, &flags));
  EXPECT_TRUE(lo == 0 && hi == 1 && flags == WN_PARAM_FLAG_LOWER_OPEN);
  EXPECT_OK(wn_param_bounds(WN_PARAM_POLICY, &lo, &hi, &flags));
  EXPECT_TRUE(hi == 3 && flags == WN_PARAM_FLAG_INTEGER);
  EXPECT_STATUS(wn_param_bounds(0, &lo, &hi, &flags), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_param_bounds(WN_PARAM_SEED, NULL, &hi, &flags), WN_ERR_NULL_POINTER);
  EXPECT_TRUE(strcmp(wn_param_name(WN_PARAM_EMA_DECAY), "ema_decay") == 0);
  EXPECT_TRUE(wn_param_name(999) == NULL);
}

static void test_selection_errors(void) {
  const float good[4] = {1, 2, 3, 4};
  const float bad[4] = {1, NAN, 3, 4};
  int64_t out[4];
  size_t n = 99;
  EXPECT_STATUS(wn_select_top_k(NULL, 4, 2, out, 4, &n), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_select_top_k(good, 4, 2, out, 4, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_select_top_k(good, 4, 2, NULL, 4, &n), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_select_top_k(good, 0, 1, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_top_k(good, 4, 0, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_top_k(good, 4, 5, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_top_k(good, 4, SIZE_MAX, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_top_k(good, SIZE_MAX, 1, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_top_k(bad, 4, 2, out, 4, &n), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_select_top_k(good, 4, 3, out, 2, &n), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_TRUE(n == 3); /* the size needed */
  EXPECT_STATUS(wn_select_top_fraction(good, 4, 0.0, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_top_fraction(good, 4, 1.5, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_top_fraction(good, 4, NAN, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_top_fraction(good, 0, 0.5, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_threshold(good, 4, NAN, out, 4, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_threshold(bad, 4, 0, out, 4, &n), WN_ERR_NON_FINITE);
  /* An empty pool is an error for every rule, as in `winnow select`. */
  EXPECT_STATUS(wn_select_threshold(good, 0, 0, NULL, 0, &n), WN_ERR_INVALID_ARGUMENT);
  EXPECT_OK(wn_select_threshold(good, 4, 100, out, 4, &n));
  EXPECT_TRUE(n == 0);

  int64_t kept[4];
  EXPECT_STATUS(wn_select_step(NULL, 4, K, targets, 2, 0.1f, kept, NULL, 4), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_select_step(features, 4, K, NULL, 2, 0.1f, kept, NULL, 4), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_select_step(features, 4, K, targets, 2, 0.1f, NULL, NULL, 4), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_select_step(features, 0, K, targets, 1, 0.1f, kept, NULL, 4), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_select_step(features, 4, 0, targets, 1, 0.1f, kept, NULL, 4), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_select_step(features, 4, K, targets, 0, 0.1f, kept, NULL, 4), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_step(features, 4, K, targets, 5, 0.1f, kept, NULL, 4), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_step(features, 4, K, targets, 2, NAN, kept, NULL, 4), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_step(features, 4, K, targets, 2, -1.0f, kept, NULL, 4), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_step(features, 4, K, targets, 3, 0.1f, kept, NULL, 2), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_STATUS(wn_select_step(features, SIZE_MAX / 2, K, targets, 1, 0.1f, kept, NULL, 4), WN_ERR_OUT_OF_MEMORY);
  float nan_target[K];
  memcpy(nan_target, targets, sizeof nan_target);
  nan_target[3] = INFINITY;
  EXPECT_STATUS(wn_select_step(features, 4, K, nan_target, 2, 0.1f, kept, NULL, 4), WN_ERR_NON_FINITE);
}

static void test_projector_errors(void) {
  wn_projector *p = (wn_projector *)&p; /* must be reset to NULL on failure */
  float out[N * K];
  const float nan_row[D] = {[5] = NAN};
  EXPECT_STATUS(wn_projector_create(NULL, 0, 1, D, K, 0), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_projector_create(&p, 7, 1, D, K, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(p == NULL);
  EXPECT_STATUS(wn_projector_create(&p, -1, 1, D, K, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_projector_create(&p, 0, 1, 0, K, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_projector_create(&p, 0, 1, D, 0, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_projector_create(&p, 0, 1, SIZE_MAX, K, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_projector_create(&p, 0, 1, D, SIZE_MAX / 2, 0), WN_ERR_OUT_OF_MEMORY);
  EXPECT_STATUS(wn_projector_create(&p, 0, 1, D, K, 3), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strlen(wn_last_error()) > 0);

  EXPECT_OK(wn_projector_create(&p, WN_PROJECTOR_GAUSSIAN, 1, D, K, 0));
  EXPECT_STATUS(wn_projector_project_f32(NULL, gradients, 1, out, K), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_projector_project_f32(p, NULL, 1, out, K), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_projector_project_f32(p, gradients, 1, NULL, K), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_projector_project_f32(p, gradients, 2, out, K), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_TRUE(strstr(wn_projector_last_error(p), "out") != NULL);
  EXPECT_STATUS(wn_projector_project_f32(p, nan_row, 1, out, K), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_projector_project_f32(p, gradients, SIZE_MAX / 8, out, K), WN_ERR_OUT_OF_MEMORY);
  EXPECT_STATUS(wn_projector_project_f32(p, gradients, SIZE_MAX, out, K), WN_ERR_INVALID_ARGUMENT);
  EXPECT_OK(wn_projector_project_f32(p, gradients, 0, out, 0)); /* zero rows */
  EXPECT_STATUS(wn_projector_project_piece_f32(p, gradients, 1, 60, 8, out, K, 0), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_projector_project_piece_f32(p, gradients, 1, 0, 0, out, K, 0), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_projector_project_piece_f32(p, gradients, 1, SIZE_MAX - 1, 4, out, K, 0), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_projector_project_piece_f32(p, gradients, 1, D, 1, out, K, 0), WN_ERR_SHAPE);
  uint16_t halves[D];
  for (int i = 0; i < D; i++) halves[i] = 0x3C00;
  halves[9] = 0x7E00; /* NaN */
  EXPECT_STATUS(wn_projector_project_f16(p, halves, 1, out, K), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_projector_project_f16(p, NULL, 1, out, K), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_projector_project_piece_f16(p, halves, 1, 1, D, out, K, 0), WN_ERR_SHAPE);
  size_t d;
  EXPECT_STATUS(wn_projector_dims(p, NULL, &d), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_projector_dims(NULL, &d, &d), WN_ERR_NULL_POINTER);

  /* Stale and foreign handles are refused, not dereferenced. */
  wn_projector *stale = p;
  wn_projector_free(p);
  wn_projector_free(stale); /* a double free is ignored */
  wn_projector_free(NULL);
  EXPECT_STATUS(wn_projector_dims(stale, &d, &d), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strlen(wn_projector_last_error(stale)) > 0);
  EXPECT_TRUE(strlen(wn_projector_last_error(NULL)) > 0);
  wn_engine *e = NULL;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, K, 1));
  EXPECT_STATUS(wn_projector_dims((wn_projector *)e, &d, &d), WN_ERR_INVALID_ARGUMENT);
  wn_projector_free((wn_projector *)e); /* not a projector: ignored */
  EXPECT_OK(wn_engine_dims(e, &d, NULL, NULL, NULL));
  EXPECT_TRUE(d == N);
  wn_engine_free(e);
}

static void test_engine_create_errors(void) {
  wn_engine *e = NULL;
  int64_t dup[3] = {1, 2, 1};
  int32_t far[N];
  for (int i = 0; i < N; i++) far[i] = i == 7 ? -1 : 0;
  EXPECT_STATUS(wn_engine_create(NULL, ids, NULL, N, 0, K, 1), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_create(&e, NULL, NULL, N, 0, K, 1), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_create(&e, ids, NULL, 0, 0, K, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_create(&e, ids, NULL, SIZE_MAX, 0, K, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_create(&e, ids, NULL, SIZE_MAX / 4, 0, K, 1), WN_ERR_OUT_OF_MEMORY);
  EXPECT_STATUS(wn_engine_create(&e, dup, NULL, 3, 0, K, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_create(&e, ids, far, N, 0, K, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_create(&e, ids, domains, N, 1, K, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_create(&e, ids, NULL, N, 0, 0, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_create(&e, ids, NULL, N, 0, K, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_create(&e, ids, NULL, N, 0, K, 5000), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(e == NULL);
  EXPECT_TRUE(strstr(wn_last_error(), "task") != NULL);
}

static void test_engine_errors(void) {
  wn_engine *e = NULL;
  wn_projector *p = NULL, *wrong = NULL;
  size_t n = 0;
  int64_t out_ids[N];
  double mix[2];
  float losses[N], bad[N * K];
  for (int i = 0; i < N; i++) losses[i] = 1;
  memcpy(bad, features, sizeof bad);
  bad[17] = NAN;
  EXPECT_OK(wn_engine_create(&e, ids, domains, N, 0, K, 2));
  EXPECT_OK(wn_projector_create(&p, 0, 1, D, K, 0));
  EXPECT_OK(wn_projector_create(&wrong, 0, 1, D, K + 1, 0));

  /* Parameters: unknown keys, NaN, out of range, fractional integers. */
  EXPECT_STATUS(wn_engine_set_param_f64(NULL, WN_PARAM_TEMPERATURE, 1), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_set_param_f64(e, 0, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_f64(e, 999, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_TEMPERATURE, NAN), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_TEMPERATURE, INFINITY), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 1.01), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_POLICY, 1.5), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_i64(e, WN_PARAM_POLICY, 4), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_i64(e, WN_PARAM_SELECT_EVERY, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_EMA_DECAY, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strstr(wn_engine_last_error(e), "ema_decay") != NULL);
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_SEED, -1)); /* any bit pattern */
  double v = 0;
  EXPECT_OK(wn_engine_get_param_f64(e, WN_PARAM_SELECT_FRACTION, &v));
  EXPECT_TRUE(v == 0.05);
  EXPECT_STATUS(wn_engine_get_param_f64(e, WN_PARAM_SELECT_FRACTION, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_get_param_f64(e, 77, &v), WN_ERR_INVALID_ARGUMENT);
  double w3[3] = {1, 1, 1}, wneg[2] = {1, -1};
  EXPECT_STATUS(wn_engine_set_initial_mixture(e, w3, 3), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_engine_set_initial_mixture(e, wneg, 2), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_initial_mixture(e, NULL, 2), WN_ERR_NULL_POINTER);

  /* Out of order: nothing before begin_epoch; no plan before end_epoch. */
  EXPECT_STATUS(wn_engine_add_target(e, 0, targets, 1, K), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, N, features, K, NULL, NULL), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_plan_ids(e, out_ids, N), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_plan_size(e, &n, NULL), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_pool_probabilities(e, mix, 2), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_scores(e, losses, N), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 0, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 0, NAN), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_begin_epoch(e, -1, 1), WN_ERR_INVALID_ARGUMENT);

  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  EXPECT_STATUS(wn_engine_begin_epoch(e, 1, 1), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_TEMPERATURE, 2), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_set_initial_mixture(e, w3, 2), WN_ERR_BAD_STATE);
  /* Targets: task range, zero rows, wrong dim, NaN, NULL. */
  EXPECT_STATUS(wn_engine_add_target(e, 2, targets, 1, K), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_target(e, SIZE_MAX, targets, 1, K), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_target(e, 0, targets, 0, K), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_target(e, 0, targets, 1, K - 1), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_engine_add_target(e, 0, bad + 16, 1, K), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_engine_add_target(e, 0, NULL, 1, K), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_add_target(e, 0, targets, SIZE_MAX / 2, K), WN_ERR_OUT_OF_MEMORY);
  EXPECT_STATUS(wn_engine_add_target_gradients(e, NULL, 0, gradients, 1, D), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_add_target_gradients(e, wrong, 0, gradients, 1, D), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_engine_add_target_gradients(e, p, 0, gradients, 1, D - 1), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_engine_add_target_gradients(e, (wn_projector *)e, 0, gradients, 1, D), WN_ERR_INVALID_ARGUMENT);
  EXPECT_OK(wn_engine_add_target(e, 0, targets, 1, K));
  /* Candidates before task 1 has targets. */
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, 4, features, K, NULL, NULL), WN_ERR_BAD_STATE);
  EXPECT_OK(wn_engine_add_target_gradients(e, p, 1, gradients, 2, D));
  /* Candidates: NULL ids, unknown id, wrong dim, NaN, references alone. */
  int64_t unknown[2] = {0, 5};
  EXPECT_STATUS(wn_engine_add_candidates(e, NULL, 4, features, K, NULL, NULL), WN_ERR_NULL_POINTER);
  EXPECT_OK(wn_engine_add_candidates(e, NULL, 0, features, K, NULL, NULL)); /* empty batch */
  EXPECT_STATUS(wn_engine_add_candidates(e, unknown, 2, features, K, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, 4, features, K + 1, NULL, NULL), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, 4, bad, K, NULL, NULL), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, 4, features, K, NULL, losses), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, SIZE_MAX / 2, features, K, NULL, NULL), WN_ERR_OUT_OF_MEMORY);
  losses[2] = NAN;
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, 4, features, K, losses, NULL), WN_ERR_NON_FINITE);
  losses[2] = 1;
  EXPECT_STATUS(wn_engine_add_candidate_gradients(e, p, ids, 4, NULL, D, NULL, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_add_candidate_gradients(e, p, NULL, 4, gradients, D, NULL, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_add_candidate_gradients(e, wrong, ids, 4, gradients, D, NULL, NULL), WN_ERR_SHAPE);
  /* A failed batch feeds nothing: the same ids go through afterwards. */
  EXPECT_OK(wn_engine_add_candidates(e, ids, N / 2, features, K, losses, NULL));
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, 1, features, K, NULL, NULL), WN_ERR_BAD_STATE);
  int64_t twice[2] = {ids[N - 1], ids[N - 1]};
  EXPECT_STATUS(wn_engine_add_candidates(e, twice, 2, features, K, NULL, NULL), WN_ERR_BAD_STATE);
  EXPECT_OK(wn_engine_add_candidate_gradients(e, p, ids + N / 2, N / 2, gradients, D, losses, losses));
  /* An audit log that cannot be written: the epoch stays open (a later
  ** epoch could abandon it: test_contract.c; the same epoch cannot). */
  EXPECT_OK(wn_engine_set_audit_log(e, "/nonexistent-dir/winnow/audit.jsonl"));
  EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_IO);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 0, 1), WN_ERR_BAD_STATE);
  EXPECT_OK(wn_engine_set_audit_log(e, NULL));
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_BAD_STATE);
  /* Plan copies: NULL outputs and short capacities. */
  EXPECT_STATUS(wn_engine_plan_ids(e, NULL, N), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_plan_ids(e, out_ids, n - 1), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_STATUS(wn_engine_plan_ids(e, out_ids, SIZE_MAX), WN_ERR_INVALID_ARGUMENT); /* a count > SIZE_MAX/2 */
  EXPECT_STATUS(wn_engine_plan_mixture(e, mix, 1), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_OK(wn_engine_plan_mixture(e, mix, 2));
  EXPECT_OK(wn_engine_plan_size(e, NULL, NULL));
  EXPECT_STATUS(wn_engine_plan_info(NULL, NULL, NULL, NULL), WN_ERR_NULL_POINTER);
  /* Epochs must increase. */
  EXPECT_STATUS(wn_engine_begin_epoch(e, 0, 1), WN_ERR_BAD_STATE);
  /* Step mode with the wrong dim for this engine. */
  int64_t kept[4];
  EXPECT_STATUS(wn_engine_select_step(e, features, 4, K + 1, targets, 2, 0.1f, kept, NULL, 4), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_engine_select_step(NULL, features, 4, K, targets, 2, 0.1f, kept, NULL, 4), WN_ERR_NULL_POINTER);
  EXPECT_OK(wn_engine_select_step(e, features, 4, K, targets, 2, 0.1f, kept, NULL, 4));
  EXPECT_TRUE(strlen(wn_engine_last_error(e)) > 0);
  EXPECT_TRUE(strlen(wn_engine_last_error(NULL)) > 0);

  wn_projector_free(wrong);
  wn_projector_free(p);
  wn_engine_free(e);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 5, 1), WN_ERR_INVALID_ARGUMENT);
  wn_engine_free(e);
  wn_engine_free(NULL);
}

/* The factored projector, ghost dot products and factor-fed engine calls:
** NULL pointers, wrong dims, mismatched token counts, unknown layer ids, NaN,
** short outputs, stale handles, a feature dim the engine does not have. */
enum { FT = 7 }; /* tokens of the factor batch: samples of 3 and 4 */

static void test_factored_errors(void) {
  const uint64_t lids[2] = {3, 8};
  const size_t din[2] = {6, 5}, dout[2] = {4, 7}, kin[2] = {2, 3}, kout[2] = {3, 2};
  const size_t zero[2] = {6, 0}, huge[2] = {SIZE_MAX / 2, 5};
  const uint64_t dup_ids[2] = {3, 3}, unknown_ids[2] = {3, 9}, swapped[2] = {8, 3};
  static float a0[FT * 6], a1[FT * 5], d0[FT * 4], d1[FT * 7], nan_a[FT * 6];
  uint64_t s = 17;
  for (int i = 0; i < FT * 6; i++) a0[i] = uniform(&s), nan_a[i] = a0[i];
  for (int i = 0; i < FT * 5; i++) a1[i] = uniform(&s);
  for (int i = 0; i < FT * 4; i++) d0[i] = uniform(&s);
  for (int i = 0; i < FT * 7; i++) d1[i] = uniform(&s);
  nan_a[11] = NAN;
  const float *as[2] = {a0, a1}, *ds[2] = {d0, d1}, *bad_as[2] = {nan_a, a1};
  const float *null_as[2] = {a0, NULL};
  const size_t counts[2] = {3, 4}, big_counts[2] = {SIZE_MAX, 8};
  const size_t neg_counts[2] = {(size_t)-2, 9};
  float out[2 * 12], gram[4];
  size_t dim = 0, layers = 0, offsets[2];
  int32_t paths[2];

  wn_factored_projector *p = (wn_factored_projector *)&p;
  EXPECT_STATUS(wn_factored_projector_create(NULL, 2, lids, din, dout, kin, kout, 1, 0), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_factored_projector_create(&p, 2, NULL, din, dout, kin, kout, 1, 0), WN_ERR_NULL_POINTER);
  EXPECT_TRUE(p == NULL);
  EXPECT_STATUS(wn_factored_projector_create(&p, 2, lids, din, NULL, kin, kout, 1, 0), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_factored_projector_create(&p, 0, lids, din, dout, kin, kout, 1, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_create(&p, 2, lids, din, dout, kin, kout, 1, 5), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_create(&p, 2, dup_ids, din, dout, kin, kout, 1, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_create(&p, 2, lids, zero, dout, kin, kout, 1, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_create(&p, 2, lids, din, dout, zero, kout, 1, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_create(&p, 2, lids, huge, dout, kin, kout, 1, 0), WN_ERR_OUT_OF_MEMORY);
  EXPECT_STATUS(wn_factored_projector_create(&p, SIZE_MAX, lids, din, dout, kin, kout, 1, 0), WN_ERR_INVALID_ARGUMENT);
  const size_t vast[1] = {(size_t)1 << 40}, one[1] = {1};
  EXPECT_STATUS(wn_factored_projector_create(&p, 1, lids, vast, one, one, one, 1, 0), WN_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(p == NULL);

  EXPECT_OK(wn_factored_projector_create(&p, 2, lids, din, dout, kin, kout, 1, WN_PROJECTOR_GAUSSIAN));
  EXPECT_OK(wn_factored_projector_dims(p, &dim, &layers, offsets, 2));
  EXPECT_TRUE(dim == 12 && layers == 2 && offsets[0] == 0 && offsets[1] == 6);
  EXPECT_OK(wn_factored_projector_dims(p, NULL, NULL, NULL, 0));
  EXPECT_STATUS(wn_factored_projector_dims(p, &dim, &layers, offsets, 1), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_STATUS(wn_factored_projector_dims(NULL, &dim, NULL, NULL, 0), WN_ERR_NULL_POINTER);

  EXPECT_OK(wn_factored_projector_project_f32(p, 2, counts, FT, 2, NULL, as, ds, out, 24));
  EXPECT_OK(wn_factored_projector_project_f32(p, 2, counts, FT, 2, swapped, (const float *[]){a1, a0}, (const float *[]){d1, d0}, out, 24));
  EXPECT_OK(wn_factored_projector_project_f32(p, 0, NULL, 0, 2, NULL, as, ds, out, 0)); /* empty batch */
  EXPECT_STATUS(wn_factored_projector_project_f32(NULL, 2, counts, FT, 2, NULL, as, ds, out, 24), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, NULL, FT, 2, NULL, as, ds, out, 24), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 2, NULL, NULL, ds, out, 24), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 2, NULL, null_as, ds, out, 24), WN_ERR_NULL_POINTER);
  EXPECT_TRUE(strstr(wn_factored_projector_last_error(p), "inputs[1]") != NULL);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 2, NULL, as, ds, NULL, 24), WN_ERR_NULL_POINTER);
  /* Mismatched token counts: their sum is not the factors' rows. */
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT + 1, 2, NULL, as, ds, out, 24), WN_ERR_SHAPE);
  EXPECT_TRUE(strstr(wn_factored_projector_last_error(p), "total_tokens") != NULL);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 1, counts, FT, 2, NULL, as, ds, out, 24), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, big_counts, FT, 2, NULL, as, ds, out, 24), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, neg_counts, FT, 2, NULL, as, ds, out, 24), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 0, NULL, FT, 2, NULL, as, ds, out, 24), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, (const size_t[]){1, SIZE_MAX / 8}, SIZE_MAX / 8 + 1, 2, NULL, as, ds, out, 24), WN_ERR_OUT_OF_MEMORY);
  /* Layers: unknown ids, duplicates, a wrong count. */
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 2, unknown_ids, as, ds, out, 24), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strstr(wn_factored_projector_last_error(p), "9 is unknown") != NULL);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 2, dup_ids, as, ds, out, 24), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 1, NULL, as, ds, out, 24), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 1, lids, as, ds, out, 24), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 3, lids, as, ds, out, 24), WN_ERR_INVALID_ARGUMENT);
  /* NaN, short outputs. */
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 2, NULL, bad_as, ds, out, 24), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_factored_projector_project_f32(p, 2, counts, FT, 2, NULL, as, ds, out, 23), WN_ERR_BUFFER_TOO_SMALL);
  uint16_t h0[FT * 6], h1[FT * 5], g0[FT * 4], g1[FT * 7];
  for (int i = 0; i < FT * 7; i++) {
    if (i < FT * 6) h0[i] = 0x3C00;
    if (i < FT * 5) h1[i] = 0xBC00; /* -1 */
    if (i < FT * 4) g0[i] = 0x3800; /* 0.5 */
    g1[i] = 0x3C00;
  }
  const uint16_t *hs[2] = {h0, h1}, *gs[2] = {g0, g1};
  EXPECT_OK(wn_factored_projector_project_f16(p, 2, counts, FT, 2, NULL, hs, gs, out, 24));
  h0[4] = 0x7C00; /* +inf */
  EXPECT_STATUS(wn_factored_projector_project_f16(p, 2, counts, FT, 2, NULL, hs, gs, out, 24), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_factored_projector_project_f16(p, 2, counts, FT, 2, NULL, hs, NULL, out, 24), WN_ERR_NULL_POINTER);

  /* Ghost dot products. */
  EXPECT_OK(wn_ghost_gram_f32(2, din, dout, 2, counts, FT, as, ds, WN_DOT_PATH_AUTO, gram, 4, paths));
  EXPECT_TRUE((paths[0] == WN_DOT_PATH_GHOST || paths[0] == WN_DOT_PATH_MATERIALIZED) && gram[1] == gram[2]);
  EXPECT_STATUS(wn_ghost_gram_f32(0, din, dout, 2, counts, FT, as, ds, 0, gram, 4, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_ghost_gram_f32(2, NULL, dout, 2, counts, FT, as, ds, 0, gram, 4, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_ghost_gram_f32(2, zero, dout, 2, counts, FT, as, ds, 0, gram, 4, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_ghost_gram_f32(2, din, dout, 2, counts, FT, as, ds, 3, gram, 4, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_ghost_gram_f32(2, din, dout, 2, counts, FT - 1, as, ds, 0, gram, 4, NULL), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_ghost_gram_f32(2, din, dout, 2, counts, FT, bad_as, ds, 0, gram, 4, NULL), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_ghost_gram_f32(2, din, dout, 2, counts, FT, as, ds, 0, gram, 3, NULL), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_STATUS(wn_ghost_gram_f32(2, din, dout, 2, counts, FT, as, ds, 0, NULL, 4, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_ghost_gram_f32(2, huge, dout, 2, counts, FT, as, ds, 0, gram, 4, NULL), WN_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(strlen(wn_last_error()) > 0);
  float dots[2];
  const size_t t_counts[2] = {2, 3};
  const float *explicit_g[2] = {NULL, d1}; /* layer 1: a 7 x 5 gradient */
  EXPECT_OK(wn_ghost_target_dots_f32(2, din, dout, 2, counts, FT, as, ds, t_counts, as, ds, NULL, 0, dots, 2, paths));
  EXPECT_OK(wn_ghost_target_dots_f32(2, din, dout, 2, counts, FT, as, ds, t_counts, as, ds, explicit_g, 0, dots, 2, paths));
  EXPECT_TRUE(paths[1] == WN_DOT_PATH_GHOST);
  EXPECT_STATUS(wn_ghost_target_dots_f32(2, din, dout, 2, counts, FT, as, ds, NULL, as, ds, explicit_g, 0, dots, 2, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_ghost_target_dots_f32(2, din, dout, 2, counts, FT, as, ds, t_counts, NULL, ds, NULL, 0, dots, 2, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_ghost_target_dots_f32(2, din, dout, 2, counts, FT, as, ds, t_counts, bad_as, ds, NULL, 0, dots, 2, NULL), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_ghost_target_dots_f32(2, din, dout, 2, counts, FT, as, ds, t_counts, as, ds, NULL, 0, dots, 1, NULL), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_STATUS(wn_ghost_target_dots_f32(2, din, dout, 2, counts, FT + 2, as, ds, t_counts, as, ds, NULL, 0, dots, 2, NULL), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_ghost_target_dots_f32(2, din, dout, 2, counts, FT, as, ds, (const size_t[]){SIZE_MAX / 2, 1}, as, ds, NULL, 0, dots, 2, NULL), WN_ERR_OUT_OF_MEMORY);

  /* Step mode from factors. */
  int64_t kept[2];
  EXPECT_OK(wn_select_step_factors(p, 2, counts, FT, 2, NULL, as, ds, 3, as, ds, 1, 0.1f, kept, NULL, 2));
  EXPECT_STATUS(wn_select_step_factors(p, 2, counts, FT, 2, NULL, as, ds, 3, NULL, ds, 1, 0.1f, kept, NULL, 2), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_select_step_factors(p, 2, counts, FT, 2, NULL, as, ds, 3, bad_as, ds, 1, 0.1f, kept, NULL, 2), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_select_step_factors(p, 2, counts, FT, 2, NULL, as, ds, 3, as, ds, 3, 0.1f, kept, NULL, 2), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_step_factors(p, 2, counts, FT, 2, NULL, as, ds, 3, as, ds, 1, NAN, kept, NULL, 2), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_select_step_factors(p, 2, counts, FT, 2, NULL, as, ds, 3, as, ds, 2, 0.1f, kept, NULL, 1), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_STATUS(wn_select_step_factors(p, 0, NULL, 0, 2, NULL, as, ds, 3, as, ds, 1, 0.1f, kept, NULL, 2), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_select_step_factors(p, 2, counts, FT, 2, unknown_ids, as, ds, 3, as, ds, 1, 0.1f, kept, NULL, 2), WN_ERR_INVALID_ARGUMENT);

  /* The engine: the projector's feature dim must be the engine's. */
  wn_engine *e = NULL, *wrong = NULL;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, 12, 1));
  EXPECT_OK(wn_engine_create(&wrong, ids, NULL, N, 0, K, 1));
  EXPECT_STATUS(wn_engine_add_target_factors(e, p, 0, 2, counts, FT, 2, NULL, as, ds), WN_ERR_BAD_STATE);
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  EXPECT_OK(wn_engine_begin_epoch(wrong, 0, 1));
  EXPECT_STATUS(wn_engine_add_target_factors(wrong, p, 0, 2, counts, FT, 2, NULL, as, ds), WN_ERR_SHAPE);
  EXPECT_TRUE(strstr(wn_engine_last_error(wrong), "feature dim") != NULL);
  EXPECT_STATUS(wn_engine_add_target_factors(e, NULL, 0, 2, counts, FT, 2, NULL, as, ds), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_add_target_factors(e, (wn_factored_projector *)e, 0, 2, counts, FT, 2, NULL, as, ds), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_target_factors(e, p, 1, 2, counts, FT, 2, NULL, as, ds), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_target_factors(e, p, 0, 0, NULL, 0, 2, NULL, as, ds), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_target_factors(e, p, 0, 2, counts, FT, 2, NULL, bad_as, ds), WN_ERR_NON_FINITE);
  EXPECT_OK(wn_engine_add_target_factors(e, p, 0, 2, counts, FT, 2, NULL, as, ds));
  EXPECT_STATUS(wn_engine_add_candidate_factors(wrong, p, ids, 2, counts, FT, 2, NULL, as, ds, NULL, NULL), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_engine_add_candidate_factors(e, p, NULL, 2, counts, FT, 2, NULL, as, ds, NULL, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_engine_add_candidate_factors(e, p, ids, 2, counts, FT - 1, 2, NULL, as, ds, NULL, NULL), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_engine_add_candidate_factors(e, p, ids, 2, counts, FT, 2, unknown_ids, as, ds, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
  const int64_t strangers[2] = {ids[0], 12345};
  EXPECT_STATUS(wn_engine_add_candidate_factors(e, p, strangers, 2, counts, FT, 2, NULL, as, ds, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_OK(wn_engine_add_candidate_factors(e, p, NULL, 0, NULL, 0, 2, NULL, as, ds, NULL, NULL));
  EXPECT_OK(wn_engine_add_candidate_factors(e, p, ids, 2, counts, FT, 2, NULL, as, ds, NULL, NULL));
  EXPECT_STATUS(wn_engine_add_candidate_factors(e, p, ids, 2, counts, FT, 2, NULL, as, ds, NULL, NULL), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_select_step_factors(wrong, p, 2, counts, FT, 2, NULL, as, ds, 3, as, ds, 1, 0.1f, kept, NULL, 2), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_engine_select_step_factors(NULL, p, 2, counts, FT, 2, NULL, as, ds, 3, as, ds, 1, 0.1f, kept, NULL, 2), WN_ERR_NULL_POINTER);
  EXPECT_OK(wn_engine_select_step_factors(e, p, 2, counts, FT, 2, NULL, as, ds, 3, as, ds, 1, 0.1f, kept, NULL, 2));
  wn_engine_free(wrong);
  wn_engine_free(e);

  /* Stale and foreign handles. */
  wn_factored_projector *stale = p;
  wn_factored_projector_free(p);
  wn_factored_projector_free(stale);
  wn_factored_projector_free(NULL);
  EXPECT_STATUS(wn_factored_projector_dims(stale, &dim, NULL, NULL, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_projector_project_f32(stale, 2, counts, FT, 2, NULL, as, ds, out, 24), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strlen(wn_factored_projector_last_error(stale)) > 0);
  EXPECT_TRUE(strlen(wn_factored_projector_last_error(NULL)) > 0);
}

/* An engine that never saw candidate features has nothing to rank. */
static void test_no_features(void) {
  wn_engine *e = NULL;
  float losses[N];
  size_t n;
  for (int i = 0; i < N; i++) losses[i] = 1;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, K, 1));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  EXPECT_OK(wn_engine_add_candidates(e, ids, N, NULL, 0, losses, NULL));
  EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_BAD_STATE);
  wn_engine_free(e);
}

/* wn_scorer_*: every argument checked, influence refused, NaN rows named. */
static void test_scorer_errors(void) {
  enum { K = 8, M = 3, R = 4 };
  float t0[M * K], t1[M * K], x0[R * K], x1[R * K], scores[R];
  for (int i = 0; i < M * K; i++) t0[i] = t1[i] = (float)((i * 7) % 5) - 2.0f;
  for (int i = 0; i < R * K; i++) x0[i] = x1[i] = (float)((i * 3) % 7) - 3.0f;
  const float *targets[2] = {t0, t1}, *train[2] = {x0, x1};
  const float *null_target[2] = {t0, NULL};
  size_t dims[2] = {K, K}, zero_dims[2] = {K, 0};
  double weights[2] = {1, 3}, bad_weights[2] = {1, -1};
  int64_t groups[M] = {5, 5, 2};
  wn_scorer *s = (wn_scorer *)0x1;

  EXPECT_STATUS(wn_scorer_create(NULL, WN_MEASURE_COSINE, 2, targets, dims, M, NULL, NULL, 0),
                WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_scorer_create(&s, 7, 2, targets, dims, M, NULL, NULL, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(s == NULL);
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_INFLUENCE, 2, targets, dims, M, NULL, NULL, 0),
                WN_ERR_UNSUPPORTED);
  EXPECT_TRUE(strstr(wn_last_error(), "winnow") || strstr(wn_last_error(), "whole"));
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_DOT, 0, targets, dims, M, NULL, NULL, 0),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_DOT, 2, NULL, dims, M, NULL, NULL, 0),
                WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_DOT, 2, null_target, dims, M, NULL, NULL, 0),
                WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_DOT, 2, targets, zero_dims, M, NULL, NULL, 0),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_DOT, 2, targets, dims, 0, NULL, NULL, 0),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_DOT, 2, targets, dims, M, bad_weights, NULL, 0),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_DOT, 2, targets, dims, (size_t)-1, NULL, NULL, 0),
                WN_ERR_INVALID_ARGUMENT);
  t1[4] = NAN;
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_COSINE, 2, targets, dims, M, NULL, NULL, 0),
                WN_ERR_NON_FINITE);
  t1[4] = 1;

  EXPECT_OK(wn_scorer_create(&s, WN_MEASURE_COSINE, 2, targets, dims, M, weights, groups, 0));
  size_t c = 0, g = 0, skipped = 9;
  EXPECT_OK(wn_scorer_dims(s, &c, &g));
  EXPECT_TRUE(c == 2 && g == 2);
  EXPECT_STATUS(wn_scorer_dims(s, NULL, &g), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_scorer_score_f32(NULL, train, R, scores, R, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_scorer_score_f32(s, NULL, R, scores, R, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_scorer_score_f32(s, train, 0, scores, R, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_scorer_score_f32(s, train, R, scores, R - 1, NULL), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_TRUE(strstr(wn_scorer_last_error(s), "out_scores") != NULL);
  EXPECT_STATUS(wn_scorer_score_f32(s, train, (size_t)-1 / 2, scores, R, NULL), WN_ERR_OUT_OF_MEMORY);
  EXPECT_OK(wn_scorer_score_f32(s, train, R, scores, R, &skipped));
  EXPECT_TRUE(skipped == 0);
  x1[2 * K + 1] = INFINITY;
  EXPECT_STATUS(wn_scorer_score_f32(s, train, R, scores, R, NULL), WN_ERR_NON_FINITE);
  EXPECT_TRUE(strstr(wn_scorer_last_error(s), "row 2") != NULL);
  wn_scorer_free(s);

  EXPECT_OK(wn_scorer_create(&s, WN_MEASURE_DOT, 2, targets, dims, M, NULL, NULL, 1));
  EXPECT_OK(wn_scorer_score_f32(s, train, R, scores, R, &skipped));
  EXPECT_TRUE(skipped == 1 && isinf(scores[2]) && scores[2] < 0 && isfinite(scores[1]));
  x1[2 * K + 1] = 0;
  wn_scorer_free(s);
  wn_scorer_free(s); /* a double free is ignored */
  wn_scorer_free(NULL);
  EXPECT_STATUS(wn_scorer_dims(s, &c, &g), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strcmp(wn_scorer_last_error(NULL), "") != 0);
}

/* MARK: - Sizes, mixtures and BLAS threads (issue 12)
** Each reproducer once trapped, corrupted the heap, tried to allocate
** terabytes, left a NaN mixture or hung; each must now be a status. */

/* Sizes that overflow or that no machine here can hold. */
static void test_issue12_sizes(void) {
  const size_t one_62 = (size_t)1 << 62, one_61 = (size_t)1 << 61, one_40 = (size_t)1 << 40;
  wn_engine *e = NULL;
  EXPECT_OK(wn_engine_create(&e, ids, domains, N, 0, K, 1));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  EXPECT_OK(wn_engine_add_target(e, 0, targets, 1, K));
  /* (2^62 + 1) x 8 bytes wrapped to 40: a heap overflow; 2^61 read past ids. */
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, one_62 + 1, NULL, 0, NULL, NULL), WN_ERR_OUT_OF_MEMORY);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, one_62 + 1, features, K, NULL, NULL), WN_ERR_OUT_OF_MEMORY);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, one_61, NULL, 0, NULL, NULL), WN_ERR_OUT_OF_MEMORY);
  /* Addressable but more than the pool: refused before ids is read. */
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, one_40, NULL, 0, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strstr(wn_engine_last_error(e), "pool") != NULL);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, N + 1, NULL, 0, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_OK(wn_engine_add_candidates(e, ids, N, features, K, NULL, NULL)); /* nothing was fed */
  size_t n = 0;
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  wn_engine_free(e);

  /* feature_dim 2^62 passed and begin_epoch trapped; 2^40 died allocating 4 TiB. */
  e = (wn_engine *)&e;
  EXPECT_STATUS(wn_engine_create(&e, ids, domains, N, 0, one_62, 1), WN_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(e == NULL);
  EXPECT_STATUS(wn_engine_create(&e, ids, domains, N, 0, one_40, 1), WN_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(strstr(wn_last_error(), "bytes") != NULL);

  /* A checkpoint count of 2^61 read past the caller's arrays. */
  wn_scorer *s = NULL;
  const float *tp[1] = {targets};
  const size_t dims[1] = {K};
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_COSINE, one_61, tp, dims, 1, NULL, NULL, 0), WN_ERR_OUT_OF_MEMORY);
  EXPECT_STATUS(wn_scorer_create(&s, WN_MEASURE_COSINE, one_40, tp, dims, 1, NULL, NULL, 0), WN_ERR_OUT_OF_MEMORY);
  EXPECT_OK(wn_scorer_create(&s, WN_MEASURE_COSINE, 1, tp, dims, 1, NULL, NULL, 0));
  /* 2^40 rows (a caller's mapped file could hold them): the scores of one
  ** piece need 2^40 x 5 floats of buffers, which no machine here has. */
  const float *train[1] = {features};
  float score[1];
  EXPECT_STATUS(wn_scorer_score_f32(s, train, one_40, score, one_40, NULL), WN_ERR_OUT_OF_MEMORY);
  wn_scorer_free(s);

  /* Honest inputs, vast outputs: 2^20 rows of D = 1 (4 MiB) through a
  ** 1 -> 2^20 projector are 4 TiB of features. */
  const size_t big = (size_t)1 << 20;
  wn_projector *p = NULL;
  float *g = malloc(big * sizeof *g);
  EXPECT_TRUE(g != NULL);
  for (size_t i = 0; g && i < big; i++) g[i] = 1;
  EXPECT_OK(wn_projector_create(&p, WN_PROJECTOR_RADEMACHER, 1, 1, big, 0));
  EXPECT_OK(wn_engine_create(&e, ids, domains, N, 0, big, 1));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  if (g) EXPECT_STATUS(wn_engine_add_target_gradients(e, p, 0, g, big, 1), WN_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(strstr(wn_engine_last_error(e), "TiB") != NULL);
  if (g) EXPECT_OK(wn_engine_add_target_gradients(e, p, 0, g, 1, 1)); /* one row is fine */
  wn_engine_free(e);
  wn_projector_free(p);
  free(g);

  /* A 1 x 1 layer with ranks 2^20 x 2^20: one sample's features are 4 TiB. */
  wn_factored_projector *fp = (wn_factored_projector *)&fp;
  const uint64_t lid[1] = {7};
  const size_t unit[1] = {1}, rank[1] = {big};
  EXPECT_STATUS(wn_factored_projector_create(&fp, 1, lid, unit, unit, rank, rank, 1, 0), WN_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(fp == NULL);
  const size_t small_rank[1] = {4};
  EXPECT_OK(wn_factored_projector_create(&fp, 1, lid, unit, unit, small_rank, small_rank, 1, 0));
  wn_factored_projector_free(fp);

  /* A budget that lets a D = 2^40 projector cache 32 TiB of P: refused at
  ** create (the first projection would have died allocating it). */
  EXPECT_STATUS(wn_projector_create(&p, 0, 1, one_40, K, (size_t)1 << 50), WN_ERR_OUT_OF_MEMORY);
  EXPECT_OK(wn_projector_create(&p, 0, 1, one_40, K, 0)); /* panels within the default 1 GiB */
  wn_projector_free(p);

  /* Offsets beyond SIZE_MAX/2 do not fit 0..D-1: WN_ERR_SHAPE, as promised. */
  float out[K];
  EXPECT_OK(wn_projector_create(&p, WN_PROJECTOR_RADEMACHER, 1, D, K, 0));
  EXPECT_STATUS(wn_projector_project_piece_f32(p, gradients, 1, SIZE_MAX, 4, out, K, 0), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_projector_project_piece_f32(p, gradients, 1, 0, SIZE_MAX, out, K, 0), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_projector_project_piece_f16(p, (const uint16_t *)gradients, 1, SIZE_MAX, 1, out, K, 0), WN_ERR_SHAPE);
  wn_projector_free(p);
}

/* Expects `count` mixture weights that are finite, >= 0 and sum to 1. */
static void expect_distribution(const double *m, size_t count) {
  double sum = 0;
  for (size_t i = 0; i < count; i++) {
    EXPECT_TRUE(isfinite(m[i]) && m[i] >= 0);
    sum += m[i];
  }
  EXPECT_TRUE(fabs(sum - 1) < 1e-12);
}

/* Extreme finite inputs to every mixture rule: DBL_MAX initial weights,
** losses of +-FLT_MAX with smoothing 0 and the largest step sizes. Domain
** quotas read the mixture, so a NaN would fail every later end_epoch. */
static void test_issue12_mixtures(void) {
  static float loss[N], ref[N];
  for (int i = 0; i < N; i++) loss[i] = i % 3 ? FLT_MAX : -FLT_MAX, ref[i] = -loss[i];
  const double huge[2] = {DBL_MAX, DBL_MAX};
  for (int rule = WN_MIXTURE_FIXED; rule <= WN_MIXTURE_BANDIT; rule++) {
    wn_engine *e = NULL;
    EXPECT_OK(wn_engine_create(&e, ids, domains, N, 0, K, 1));
    EXPECT_OK(wn_engine_set_initial_mixture(e, huge, 2));
    EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, WN_POLICY_DOMAIN_QUOTA));
    EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_MIXTURE_RULE, rule));
    EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_MIXTURE_SMOOTHING, 0));
    EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_EXCESS_LOSS_STEP_SIZE, 1e6));
    EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_ALIGNMENT_TEMPERATURE, 1e-6));
    EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_ALIGNMENT_CLIP, 1e6));
    for (int epoch = 0; epoch < 3; epoch++) {
      size_t n = 0;
      double mixture[2] = {NAN, NAN}, average[2] = {NAN, NAN};
      EXPECT_OK(wn_engine_begin_epoch(e, epoch, 1));
      EXPECT_OK(wn_engine_add_target(e, 0, targets, 2, K));
      EXPECT_OK(wn_engine_add_candidates(e, ids, N, features, K, loss, ref));
      EXPECT_OK(wn_engine_end_epoch(e, &n));
      EXPECT_OK(wn_engine_plan_mixture(e, mixture, 2));
      EXPECT_OK(wn_engine_plan_mixture_average(e, average, 2));
      expect_distribution(mixture, 2);
      expect_distribution(average, 2);
    }
    wn_engine_free(e);
  }
}

/* wn_set_blas_threads(64..1024) under a tight address-space limit hung in
** OpenBLAS. In a child (the limit and a hang must not reach this process),
** with RLIMIT_AS 256 MiB above what it uses and a 60 s alarm, every request
** must return OK (clamped to the CPUs) or WN_ERR_OUT_OF_MEMORY, leave at
** most that many threads, and BLAS must still work afterwards. */
static void test_issue12_blas_threads_under_limit(void) {
  fflush(NULL);
  pid_t child = fork();
  if (child == 0) {
    alarm(60);
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &pages) != 1) _exit(3);
    fclose(f);
    rlim_t used = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
    struct rlimit rl = {used + (256u << 20), used + (256u << 20)};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(4);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (int32_t t = 64; t <= 1024; t *= 2) {
      int32_t s = wn_set_blas_threads(t);
      if (s != WN_OK && s != WN_ERR_OUT_OF_MEMORY) _exit(5);
      if (wn_blas_threads() < 1 || (cpus > 0 && wn_blas_threads() > cpus)) _exit(6);
    }
    /* A GEMM large enough for OpenBLAS to split across its threads: with
    ** threads it failed to start, this is where it waited forever. */
    enum { R = 512, DD = 512, KK = 64 };
    float *x = calloc(R * DD, sizeof *x), *out = calloc(R * KK, sizeof *out);
    if (!x || !out) _exit(9);
    for (int i = 0; i < R * DD; i++) x[i] = (float)(i % 7) - 3;
    wn_projector *p = NULL;
    if (wn_projector_create(&p, 0, 1, DD, KK, 0) != WN_OK) _exit(7);
    if (wn_projector_project_f32(p, x, R, out, R * KK) != WN_OK) _exit(8);
    wn_projector_free(p);
    _exit(0);
  }
  int status = -1;
  EXPECT_TRUE(child > 0 && waitpid(child, &status, 0) == child);
  if (WIFSIGNALED(status)) fprintf(stderr, "blas-threads child: signal %d (SIGALRM = hang)\n", WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status)) fprintf(stderr, "blas-threads child: exit %d\n", WEXITSTATUS(status));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
  make_inputs();
  test_statuses();
  test_selection_errors();
  test_projector_errors();
  test_engine_create_errors();
  test_engine_errors();
  test_no_features();
  test_factored_errors();
  test_scorer_errors();
  test_issue12_sizes();
  test_issue12_mixtures();
  test_issue12_blas_threads_under_limit();
  return finish("test_errors");
}
