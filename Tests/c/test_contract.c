/*
** Statements of winnow.h that a review found the code did not keep, one
** test each: an engine never gets stuck (unbiased weighting refused at
** wn_engine_begin_epoch, tiny-norm rows count as zero rows, a failed
** wn_engine_end_epoch is recoverable), ...
*/
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

enum { N = 24, K = 4 };

static int64_t ids[N];
static float features[N * K], target[K];

static void make_inputs(void) {
  uint64_t s = 11;
  for (int i = 0; i < N; i++) ids[i] = 100 + i;
  for (int i = 0; i < N * K; i++) features[i] = uniform(&s);
  for (int i = 0; i < K; i++) target[i] = uniform(&s);
}

/* One epoch's feeding: the target, then every candidate. */
static void feed(wn_engine *e) {
  EXPECT_OK(wn_engine_add_target(e, 0, target, 1, K));
  EXPECT_OK(wn_engine_add_candidates(e, ids, N, features, K, NULL, NULL));
}

/* WN_WEIGHTING_UNBIASED under a policy that is not stochastic is refused
** by wn_engine_begin_epoch, which opens nothing; either key may be set
** first. (It used to pass set_param and fail every end_epoch, for good.) */
static void test_unbiased_needs_stochastic_at_begin(void) {
  wn_engine *e = NULL;
  size_t n = 0;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, K, 1));
  EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0.5));
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_WEIGHTING, WN_WEIGHTING_UNBIASED));
  const int32_t others[3] = {WN_POLICY_TOP_FRACTION, WN_POLICY_DOMAIN_QUOTA, WN_POLICY_DIVERSITY};
  for (int i = 0; i < 3; i++) {
    EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, others[i]));
    EXPECT_STATUS(wn_engine_begin_epoch(e, 0, 1), WN_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(strstr(wn_engine_last_error(e), "stochastic") != NULL);
    /* Nothing opened: feeding is out of order, parameters still change. */
    EXPECT_STATUS(wn_engine_add_target(e, 0, target, 1, K), WN_ERR_BAD_STATE);
    EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_BAD_STATE);
  }
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, WN_POLICY_STOCHASTIC));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  feed(e);
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  EXPECT_TRUE(n == N / 2);
  float w[N];
  EXPECT_OK(wn_engine_plan_weights(e, w, N));
  for (size_t i = 0; i < n; i++) EXPECT_TRUE(isfinite(w[i]) && w[i] > 0);
  /* The policy set back between epochs: refused at the next begin. */
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, WN_POLICY_TOP_FRACTION));
  EXPECT_STATUS(wn_engine_begin_epoch(e, 1, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_WEIGHTING, WN_WEIGHTING_AUTOMATIC));
  EXPECT_OK(wn_engine_begin_epoch(e, 1, 1));
  wn_engine_free(e);
}

/* A finite row whose norm is below ~2.9e-39 (1/norm overflows float)
** counts as a zero row: it scores 0 and the epoch ends (it used to give
** inf/NaN scores and a NON_FINITE end_epoch that could not be left). */
static void test_tiny_norm_rows_are_zero_rows(void) {
  wn_engine *e = NULL;
  size_t n = 0;
  float tiny[N * K];
  memcpy(tiny, features, sizeof tiny);
  for (int j = 0; j < K; j++) tiny[3 * K + j] = 0;
  for (int j = 0; j < K; j++) tiny[5 * K + j] = 0;
  tiny[3 * K] = 1e-39f;     /* subnormal: 1/norm overflows float */
  tiny[5 * K + 1] = 1e-45f; /* the smallest subnormal */
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, K, 1));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  EXPECT_OK(wn_engine_add_target(e, 0, target, 1, K));
  EXPECT_OK(wn_engine_add_candidates(e, ids, N, tiny, K, NULL, NULL));
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  float scores[N];
  EXPECT_OK(wn_engine_scores(e, scores, N));
  for (int i = 0; i < N; i++) EXPECT_TRUE(isfinite(scores[i]));
  EXPECT_TRUE(scores[3] == 0 && scores[5] == 0);
  /* A tiny target row is a zero target: every score 0, still finite. */
  float tiny_target[K] = {1e-40f, 0, 0, 0};
  EXPECT_OK(wn_engine_begin_epoch(e, 1, 1));
  EXPECT_OK(wn_engine_add_target(e, 0, tiny_target, 1, K));
  EXPECT_OK(wn_engine_add_candidates(e, ids, N, features, K, NULL, NULL));
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  EXPECT_OK(wn_engine_scores(e, scores, N));
  for (int i = 0; i < N; i++) EXPECT_TRUE(isfinite(scores[i]));
  wn_engine_free(e);
}

/* "On error the epoch stays open": the caller recovers by fixing
** parameters (accepted while the open epoch's last end failed) and ending
** again, or by abandoning the epoch with a later wn_engine_begin_epoch. */
static void test_failed_end_is_recoverable(void) {
  wn_engine *e = NULL;
  size_t n = 0;
  int64_t epoch = -1;
  const char *bad_log = "/nonexistent-dir/winnow/audit.jsonl";
  double initial[1] = {1};
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, K, 1));

  /* An open epoch whose end did not fail: parameters are fixed. */
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0.5), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_set_initial_mixture(e, initial, 1), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 1, 1), WN_ERR_BAD_STATE);
  /* A failed end (no features yet): parameters may change, then retry. */
  EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_BAD_STATE);
  EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0.5));
  EXPECT_OK(wn_engine_set_initial_mixture(e, initial, 1));
  feed(e);
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  EXPECT_TRUE(n == N / 2);

  /* A failed end (audit log), fixed by a parameter, ended again. */
  EXPECT_OK(wn_engine_begin_epoch(e, 1, 1));
  feed(e);
  EXPECT_OK(wn_engine_set_audit_log(e, bad_log));
  EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_IO);
  EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0.25));
  EXPECT_OK(wn_engine_set_audit_log(e, NULL));
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  EXPECT_TRUE(n == N / 4);
  EXPECT_OK(wn_engine_plan_info(e, &epoch, NULL, NULL));
  EXPECT_TRUE(epoch == 1);

  /* A failed end, abandoned: the next epoch must come after it. */
  EXPECT_OK(wn_engine_begin_epoch(e, 2, 1));
  feed(e);
  EXPECT_OK(wn_engine_set_audit_log(e, bad_log));
  EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_IO);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 2, 1), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 1, 1), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 3, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_OK(wn_engine_set_audit_log(e, NULL));
  EXPECT_OK(wn_engine_begin_epoch(e, 3, 1));
  /* The new epoch's end has not failed: parameters are fixed again. */
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0.5), WN_ERR_BAD_STATE);
  feed(e); /* every id again: the abandoned epoch's feeding is over */
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  EXPECT_OK(wn_engine_plan_info(e, &epoch, NULL, NULL));
  EXPECT_TRUE(epoch == 3);

  /* The diversity policy chosen after a failed end: the epoch kept no
  ** features, so its end is BAD_STATE; a new epoch keeps them. */
  EXPECT_OK(wn_engine_begin_epoch(e, 4, 1));
  feed(e);
  EXPECT_OK(wn_engine_set_audit_log(e, bad_log));
  EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_IO);
  EXPECT_OK(wn_engine_set_audit_log(e, NULL));
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, WN_POLICY_DIVERSITY));
  EXPECT_STATUS(wn_engine_end_epoch(e, &n), WN_ERR_BAD_STATE);
  EXPECT_TRUE(strstr(wn_engine_last_error(e), "diversity") != NULL);
  EXPECT_OK(wn_engine_begin_epoch(e, 5, 1));
  feed(e);
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  EXPECT_TRUE(n == N / 4);
  int32_t policy = -1;
  EXPECT_OK(wn_engine_plan_info(e, &epoch, NULL, &policy));
  EXPECT_TRUE(epoch == 5 && policy == WN_POLICY_DIVERSITY);
  wn_engine_free(e);
}

int main(void) {
  make_inputs();
  test_unbiased_needs_stochastic_at_begin();
  test_tiny_norm_rows_are_zero_rows();
  test_failed_end_is_recoverable();
  return finish("test_contract");
}
