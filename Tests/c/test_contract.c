/*
** Statements of winnow.h that a review found the code did not keep, one
** test each: an engine never gets stuck (unbiased weighting refused at
** wn_engine_begin_epoch, tiny-norm rows count as zero rows, a failed
** wn_engine_end_epoch is recoverable); ghost dot products refuse scratch
** they cannot allocate with WN_ERR_OUT_OF_MEMORY; a capacity above
** SIZE_MAX/2 is WN_ERR_INVALID_ARGUMENT; gradient batches are checked as
** feature batches are, before they are projected; scorer weights whose sum
** overflows are scaled first, and a NaN group score is WN_ERR_NUMERICAL;
** and statements made precise in winnow.h (begin_epoch's statuses, plan
** order, domains, dims above INT32_MAX).
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

/* Ghost dot products whose scratch no machine here can hold must return
** WN_ERR_OUT_OF_MEMORY, not trap allocating it. In a child process (a trap
** must not end this one) with RLIMIT_AS 512 MiB above what it uses, so each
** call below asks for 1 to 2 GiB of scratch from kilobytes of input. */
static int ghost_child(void) {
  enum { T = 1 << 14 };
  static float a[T], d[T];
  for (int i = 0; i < T; i++) a[i] = 1, d[i] = 0.5f;
  const float *as[1] = {a}, *ds[1] = {d};
  float out[4];
  int32_t paths[1];
  /* (1) Gram, ghost path: one sample of T tokens, d = 1: its T x T token
  ** kernel is 1 GiB. */
  const size_t one[1] = {1}, counts1[1] = {T};
  if (wn_ghost_gram_f32(1, one, one, 1, counts1, T, as, ds, WN_DOT_PATH_GHOST, out, 1, paths) !=
      WN_ERR_OUT_OF_MEMORY) return 10;
  if (!strstr(wn_last_error(), "token kernel")) return 11;
  /* (2) Target dots, ghost path, target by factors: T_i x T_t = 1 GiB. */
  const size_t tcounts[1] = {T};
  if (wn_ghost_target_dots_f32(1, one, one, 1, counts1, T, as, ds, tcounts, as, ds, NULL,
                               WN_DOT_PATH_GHOST, out, 1, paths) != WN_ERR_OUT_OF_MEMORY) return 20;
  /* (3) Gram, materialized: 1024 samples (one with a token) of d_in = 2^18:
  ** one row of every sample's gradient is S x d_in = 1 GiB. */
  enum { S3 = 1 << 10, DIN3 = 1 << 18 };
  static size_t counts3[S3];
  static float a3[DIN3];
  counts3[0] = 1;
  for (int i = 0; i < DIN3; i++) a3[i] = 1;
  const size_t din3[1] = {DIN3};
  const float *as3[1] = {a3};
  float *big_out = malloc((size_t)S3 * S3 * sizeof *big_out);
  if (!big_out) return 30;
  if (wn_ghost_gram_f32(1, din3, one, S3, counts3, 1, as3, ds, WN_DOT_PATH_MATERIALIZED, big_out,
                        (size_t)S3 * S3, paths) != WN_ERR_OUT_OF_MEMORY) return 31;
  if (!strstr(wn_last_error(), "slab")) return 32;
  /* (4) Target dots, materialized, explicit target: the same slab. */
  if (wn_ghost_target_dots_f32(1, din3, one, S3, counts3, 1, as3, ds, NULL, NULL, NULL, as3,
                               WN_DOT_PATH_MATERIALIZED, big_out, S3, paths) != WN_ERR_OUT_OF_MEMORY)
    return 40;
  if (!strstr(wn_last_error(), "slab")) return 41;
  free(big_out);
  /* (5) Target dots, materialized, target by factors: its d_out x d_in
  ** gradient (2^14 x 2^15 floats, 2 GiB) is formed first. */
  enum { DIN5 = 1 << 15, DOUT5 = 1 << 14 };
  static float a5[DIN5], d5[DOUT5];
  for (int i = 0; i < DIN5; i++) a5[i] = 1;
  for (int i = 0; i < DOUT5; i++) d5[i] = 1;
  const size_t din5[1] = {DIN5}, dout5[1] = {DOUT5};
  const float *as5[1] = {a5}, *ds5[1] = {d5};
  if (wn_ghost_target_dots_f32(1, din5, dout5, 1, one, 1, as5, ds5, one, as5, ds5, NULL,
                               WN_DOT_PATH_MATERIALIZED, out, 1, paths) != WN_ERR_OUT_OF_MEMORY)
    return 50;
  if (!strstr(wn_last_error(), "target gradient")) return 51;
  /* Small sizes still work after the refusals. */
  const size_t counts_small[1] = {4};
  if (wn_ghost_gram_f32(1, one, one, 1, counts_small, 4, as, ds, WN_DOT_PATH_GHOST, out, 1, paths) !=
      WN_OK || out[0] != 4.0f) return 60;
  return 0;
}

static void test_ghost_scratch_out_of_memory(void) {
  fflush(NULL);
  pid_t child = fork();
  if (child == 0) {
    alarm(120);
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &pages) != 1) _exit(3);
    fclose(f);
    rlim_t used = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
    struct rlimit rl = {used + (512u << 20), used + (512u << 20)};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(4);
    int code = ghost_child();
    if (code) fprintf(stderr, "ghost child: %s\n", wn_last_error());
    _exit(code);
  }
  int status = -1;
  EXPECT_TRUE(child > 0 && waitpid(child, &status, 0) == child);
  if (WIFSIGNALED(status)) fprintf(stderr, "ghost child: signal %d (a trap?)\n", WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status))
    fprintf(stderr, "ghost child: exit %d\n", WEXITSTATUS(status));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* "A count above SIZE_MAX/2 is WN_ERR_INVALID_ARGUMENT": capacities too,
** in every function that takes one (SIZE_MAX used to be BUFFER_TOO_SMALL
** here but INVALID_ARGUMENT in wn_factored_matrix_fill). SIZE_MAX/2 itself
** is a capacity like any other. */
static void test_capacities_above_size_max_half(void) {
  const size_t huge[3] = {SIZE_MAX, SIZE_MAX / 2 + 1, (size_t)1 << 63 | 5};
  wn_engine *e = NULL;
  size_t n = 0;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, K, 1));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  feed(e);
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  int64_t out_ids[N];
  float out_f[N * K];
  double out_d[N];
  wn_projector *p = NULL;
  EXPECT_OK(wn_projector_create(&p, WN_PROJECTOR_RADEMACHER, 1, K, 2, 0));
  const size_t one[1] = {1};
  const float *as[1] = {features}, *ds[1] = {features + 1};
  for (int i = 0; i < 3; i++) {
    const size_t c = huge[i];
    EXPECT_STATUS(wn_engine_plan_ids(e, out_ids, c), WN_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(strstr(wn_engine_last_error(e), "capacity") != NULL);
    EXPECT_STATUS(wn_engine_plan_weights(e, out_f, c), WN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(wn_engine_plan_mixture(e, out_d, c), WN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(wn_engine_pool_probabilities(e, out_d, c), WN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(wn_engine_scores(e, out_f, c), WN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(wn_projector_project_f32(p, features, 1, out_f, c), WN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(wn_factored_matrix_fill(0, 1, 2, WN_FACTOR_INPUT, 2, 2, out_f, c), WN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(wn_ghost_gram_f32(1, one, one, 1, one, 1, as, ds, WN_DOT_PATH_AUTO, out_f, c, NULL),
                  WN_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(wn_select_step(features, 4, K, target, 2, 0.1f, out_ids, NULL, c), WN_ERR_INVALID_ARGUMENT);
  }
  /* SIZE_MAX/2 and exact capacities are accepted; one short is too small. */
  EXPECT_OK(wn_engine_plan_ids(e, out_ids, SIZE_MAX / 2));
  EXPECT_OK(wn_engine_scores(e, out_f, N));
  EXPECT_STATUS(wn_engine_scores(e, out_f, N - 1), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_OK(wn_factored_matrix_fill(0, 1, 2, WN_FACTOR_INPUT, 2, 2, out_f, SIZE_MAX / 2));
  EXPECT_STATUS(wn_factored_matrix_fill(0, 1, 2, WN_FACTOR_INPUT, 2, 2, out_f, 3), WN_ERR_BUFFER_TOO_SMALL);
  wn_projector_free(p);
  wn_engine_free(e);
}

/* wn_engine_add_candidate_gradients behaves as wn_engine_add_candidates:
** ids may be NULL for an empty batch, and the epoch, the pool size and the
** targets are checked before `count x D` gradients are read or `count x k`
** features allocated (2^40 rows used to be WN_ERR_OUT_OF_MEMORY from the
** projection, not the state or pool error). The same for target gradients. */
static void test_gradient_batches_checked_before_projection(void) {
  enum { DG = 16 };
  static float g[N * DG];
  uint64_t st = 3;
  for (int i = 0; i < N * DG; i++) g[i] = uniform(&st);
  const size_t vast = (size_t)1 << 40;
  wn_engine *e = NULL;
  wn_projector *p = NULL;
  size_t n = 0;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, K, 1));
  EXPECT_OK(wn_projector_create(&p, WN_PROJECTOR_RADEMACHER, 1, DG, K, 0));
  /* No epoch open: BAD_STATE, whatever the batch. */
  EXPECT_STATUS(wn_engine_add_candidate_gradients(e, p, NULL, 0, g, DG, NULL, NULL), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_add_candidate_gradients(e, p, ids, vast, g, DG, NULL, NULL), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, N, features, K, NULL, NULL), WN_ERR_BAD_STATE);
  EXPECT_STATUS(wn_engine_add_target_gradients(e, p, 0, g, vast, DG), WN_ERR_BAD_STATE);
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  /* A task without targets: BAD_STATE before the projection. */
  EXPECT_STATUS(wn_engine_add_candidate_gradients(e, p, ids, N, g, DG, NULL, NULL), WN_ERR_BAD_STATE);
  EXPECT_TRUE(strstr(wn_engine_last_error(e), "target") != NULL);
  EXPECT_STATUS(wn_engine_add_target_gradients(e, p, 1, g, vast, DG), WN_ERR_INVALID_ARGUMENT); /* task */
  EXPECT_OK(wn_engine_add_target_gradients(e, p, 0, g, 2, DG));
  /* More rows than the pool: INVALID_ARGUMENT, as wn_engine_add_candidates. */
  EXPECT_STATUS(wn_engine_add_candidate_gradients(e, p, ids, vast, g, DG, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strstr(wn_engine_last_error(e), "pool") != NULL);
  EXPECT_STATUS(wn_engine_add_candidates(e, ids, vast, features, K, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_candidate_gradients(e, p, ids, N + 1, g, DG, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
  /* An empty batch needs no ids; a nonempty one does. */
  EXPECT_OK(wn_engine_add_candidate_gradients(e, p, NULL, 0, g, DG, NULL, NULL));
  EXPECT_OK(wn_engine_add_candidates(e, NULL, 0, features, K, NULL, NULL));
  EXPECT_STATUS(wn_engine_add_candidate_gradients(e, p, NULL, 1, g, DG, NULL, NULL), WN_ERR_NULL_POINTER);
  EXPECT_OK(wn_engine_add_candidate_gradients(e, p, ids, N, g, DG, NULL, NULL));
  /* Targets after the first candidate features: BAD_STATE, before projecting. */
  EXPECT_STATUS(wn_engine_add_target_gradients(e, p, 0, g, vast, DG), WN_ERR_BAD_STATE);
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  wn_projector_free(p);
  wn_engine_free(e);
}

/* Scorer weights whose sum overflows ({DBL_MAX, DBL_MAX}) are {1/2, 1/2},
** not {0, 0} (every score was 0 with WN_OK); and a NaN group score (+inf
** from one checkpoint, -inf from the other) is WN_ERR_NUMERICAL even when a
** finite group comes before it (`max` used to drop it). */
static void test_scorer_weights_and_nan_groups(void) {
  enum { M = 3, R = 5 };
  float t0[M * K], t1[M * K], train0[R * K], train1[R * K];
  uint64_t st = 9;
  for (int i = 0; i < M * K; i++) t0[i] = uniform(&st), t1[i] = uniform(&st);
  for (int i = 0; i < R * K; i++) train0[i] = uniform(&st), train1[i] = uniform(&st);
  const float *targets[2] = {t0, t1}, *train[2] = {train0, train1};
  const size_t dims[2] = {K, K};
  const double huge[2] = {DBL_MAX, DBL_MAX}, equal[2] = {1, 1}, lopsided[2] = {DBL_MAX, DBL_MAX / 3};
  const double thirds[2] = {3, 1};
  for (int32_t measure = WN_MEASURE_COSINE; measure <= WN_MEASURE_DOT; measure++) {
    float a[R], b[R];
    wn_scorer *s = NULL;
    EXPECT_OK(wn_scorer_create(&s, measure, 2, targets, dims, M, huge, NULL, 0));
    EXPECT_OK(wn_scorer_score_f32(s, train, R, a, R, NULL));
    wn_scorer_free(s);
    EXPECT_OK(wn_scorer_create(&s, measure, 2, targets, dims, M, equal, NULL, 0));
    EXPECT_OK(wn_scorer_score_f32(s, train, R, b, R, NULL));
    wn_scorer_free(s);
    int nonzero = 0;
    for (int i = 0; i < R; i++) {
      EXPECT_TRUE(a[i] == b[i]);
      nonzero += a[i] != 0;
    }
    EXPECT_TRUE(nonzero > 0);
    /* {DBL_MAX, DBL_MAX/3} as {3, 1}, up to the rounding of the division. */
    EXPECT_OK(wn_scorer_create(&s, measure, 2, targets, dims, M, lopsided, NULL, 0));
    EXPECT_OK(wn_scorer_score_f32(s, train, R, a, R, NULL));
    wn_scorer_free(s);
    EXPECT_OK(wn_scorer_create(&s, measure, 2, targets, dims, M, thirds, NULL, 0));
    EXPECT_OK(wn_scorer_score_f32(s, train, R, b, R, NULL));
    wn_scorer_free(s);
    for (int i = 0; i < R; i++) EXPECT_TRUE(fabsf(a[i] - b[i]) <= 1e-6f * (1 + fabsf(b[i])));
  }

  /* A cosine train row whose norm is below ~2.9e-39 is a zero row (score
  ** 0, WN_OK), as in the engine (its squares underflow to 0 there). */
  {
    float tiny0[R * K], tiny1[R * K], out[R];
    memcpy(tiny0, train0, sizeof tiny0);
    memcpy(tiny1, train1, sizeof tiny1);
    for (int j = 0; j < K; j++) tiny0[2 * K + j] = 0, tiny1[2 * K + j] = 0;
    tiny0[2 * K] = 1e-39f, tiny1[2 * K + 1] = -1e-40f;
    const float *tiny_train[2] = {tiny0, tiny1};
    wn_scorer *s = NULL;
    EXPECT_OK(wn_scorer_create(&s, WN_MEASURE_COSINE, 2, targets, dims, M, NULL, NULL, 0));
    EXPECT_OK(wn_scorer_score_f32(s, tiny_train, R, out, R, NULL));
    EXPECT_TRUE(out[2] == 0);
    for (int i = 0; i < R; i++) EXPECT_TRUE(isfinite(out[i]));
    wn_scorer_free(s);
  }

  /* k = 1, two groups: group 0 scores 1e30, group 1 gets 0.5*inf +
  ** 0.5*(-inf) = NaN. */
  const float g0[2] = {1, 1e30f}, g1[2] = {1, -1e30f}, x[1] = {1e30f};
  const float *gt[2] = {g0, g1}, *xt[2] = {x, x};
  const size_t ones[2] = {1, 1};
  const int64_t groups[2] = {0, 1};
  float score = 0;
  wn_scorer *s = NULL;
  EXPECT_OK(wn_scorer_create(&s, WN_MEASURE_DOT, 2, gt, ones, 2, NULL, groups, 0));
  EXPECT_STATUS(wn_scorer_score_f32(s, xt, 1, &score, 1, NULL), WN_ERR_NUMERICAL);
  EXPECT_TRUE(strstr(wn_scorer_last_error(s), "row 0") != NULL);
  wn_scorer_free(s);
  /* The NaN group first was caught before too; still so. */
  const int64_t swapped[2] = {1, 0};
  EXPECT_OK(wn_scorer_create(&s, WN_MEASURE_DOT, 2, gt, ones, 2, NULL, swapped, 0));
  EXPECT_STATUS(wn_scorer_score_f32(s, xt, 1, &score, 1, NULL), WN_ERR_NUMERICAL);
  wn_scorer_free(s);
}

/* Statements of winnow.h made precise: begin_epoch's statuses, the order
** of plan ids, domains == NULL with a domain count, K <= 2^20, and dims
** BLAS cannot take refused when given (WN_ERR_UNSUPPORTED). */
static void test_header_statements(void) {
  wn_engine *e = NULL;
  size_t n = 0;
  /* begin_epoch: negative epoch, learning rates not > 0 and finite. */
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, K, 1));
  EXPECT_STATUS(wn_engine_begin_epoch(e, -1, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 0, INFINITY), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 0, -1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_begin_epoch(e, 0, NAN), WN_ERR_INVALID_ARGUMENT);
  wn_engine_free(e);

  /* begin_epoch: the diversity policy's N x k features (4096 x 2^24 floats,
  ** 256 GiB) are WN_ERR_OUT_OF_MEMORY there, and no epoch opens. */
  enum { BIG_N = 4096 };
  static int64_t big_ids[BIG_N];
  for (int i = 0; i < BIG_N; i++) big_ids[i] = i;
  EXPECT_OK(wn_engine_create(&e, big_ids, NULL, BIG_N, 0, (size_t)1 << 24, 1));
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, WN_POLICY_DIVERSITY));
  EXPECT_STATUS(wn_engine_begin_epoch(e, 0, 1), WN_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(strstr(wn_engine_last_error(e), "diversity") != NULL);
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, WN_POLICY_TOP_FRACTION)); /* none open */
  wn_engine_free(e);

  /* Plan order: a warm-up plan reports TOP_FRACTION but lists ids in pool
  ** order (not id order, not best first); a planned top-fraction plan is
  ** best first. Ids descend here, so pool order is not id order. */
  int64_t desc[N], got[N];
  for (int i = 0; i < N; i++) desc[i] = 1000 - i;
  EXPECT_OK(wn_engine_create(&e, desc, NULL, N, 0, K, 1));
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_WARMUP_EPOCHS, 1));
  EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_WARMUP_FRACTION, 0.5));
  EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0.5));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  EXPECT_OK(wn_engine_add_target(e, 0, target, 1, K));
  EXPECT_OK(wn_engine_add_candidates(e, desc, N, features, K, NULL, NULL));
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  int32_t kind = -1, policy = -1;
  EXPECT_OK(wn_engine_plan_info(e, NULL, &kind, &policy));
  EXPECT_TRUE(kind == WN_PLAN_WARMUP && policy == WN_POLICY_TOP_FRACTION && n == N / 2);
  EXPECT_OK(wn_engine_plan_ids(e, got, N));
  for (size_t i = 1; i < n; i++) EXPECT_TRUE(got[i] < got[i - 1]); /* ascending position */
  EXPECT_OK(wn_engine_begin_epoch(e, 1, 1));
  EXPECT_OK(wn_engine_add_target(e, 0, target, 1, K));
  EXPECT_OK(wn_engine_add_candidates(e, desc, N, features, K, NULL, NULL));
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  EXPECT_OK(wn_engine_plan_info(e, NULL, &kind, &policy));
  EXPECT_TRUE(kind == WN_PLAN_PLANNED && policy == WN_POLICY_TOP_FRACTION);
  float scores[N];
  EXPECT_OK(wn_engine_scores(e, scores, N));
  EXPECT_OK(wn_engine_plan_ids(e, got, N));
  for (size_t i = 1; i < n; i++) EXPECT_TRUE(scores[1000 - got[i]] <= scores[1000 - got[i - 1]]);
  wn_engine_free(e);

  /* domains == NULL with domain_count 3: every sample in domain 0, K = 3. */
  size_t k_domains = 0;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 3, K, 1));
  EXPECT_OK(wn_engine_dims(e, NULL, &k_domains, NULL, NULL));
  EXPECT_TRUE(k_domains == 3);
  EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0.5));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  feed(e);
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  int64_t counts[3] = {-1, -1, -1};
  EXPECT_OK(wn_engine_plan_domain_counts(e, counts, 3));
  EXPECT_TRUE(counts[0] == (int64_t)n && counts[1] == 0 && counts[2] == 0);
  wn_engine_free(e);
  /* K above 2^20, given or implied by a domain index. */
  e = (wn_engine *)&e;
  EXPECT_STATUS(wn_engine_create(&e, ids, NULL, N, ((size_t)1 << 20) + 1, K, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(e == NULL);
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, (size_t)1 << 20, K, 1));
  wn_engine_free(e);
  int32_t far_domains[N] = {0};
  far_domains[5] = 1 << 20; /* K = 2^20 + 1 */
  EXPECT_STATUS(wn_engine_create(&e, ids, far_domains, N, 0, K, 1), WN_ERR_INVALID_ARGUMENT);

  /* Dims BLAS cannot take: refused when given, not at the first batch. */
  const size_t over = (size_t)INT32_MAX + 1;
  wn_projector *p = NULL;
  EXPECT_STATUS(wn_projector_create(&p, 0, 1, 4, over, (size_t)1 << 36), WN_ERR_UNSUPPORTED);
  EXPECT_TRUE(p == NULL);
  const size_t one[1] = {1}, wide[1] = {over}, zero_tokens[1] = {0};
  const float *as[1] = {features}, *ds[1] = {features};
  float gram[1];
  EXPECT_STATUS(wn_ghost_gram_f32(1, wide, one, 1, zero_tokens, 0, as, ds, WN_DOT_PATH_AUTO, gram, 1, NULL),
                WN_ERR_UNSUPPORTED);
  EXPECT_STATUS(wn_ghost_gram_f32(1, one, wide, 1, zero_tokens, 0, as, ds, WN_DOT_PATH_AUTO, gram, 1, NULL),
                WN_ERR_UNSUPPORTED);
  EXPECT_OK(wn_ghost_gram_f32(1, one, one, 1, zero_tokens, 0, as, ds, WN_DOT_PATH_AUTO, gram, 1, NULL));
  /* The factored projector's d_in = 2^31 (8 GiB of P_in): UNSUPPORTED where
  ** the matrices fit the machine, OUT_OF_MEMORY where they do not; never
  ** a projector whose first batch fails. */
  const uint64_t lid[1] = {1};
  wn_factored_projector *fp = NULL;
  const int32_t st = wn_factored_projector_create(&fp, 1, lid, wide, one, one, one, 1, 0);
  EXPECT_TRUE(st == WN_ERR_UNSUPPORTED || st == WN_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(fp == NULL);
}

int main(void) {
  make_inputs();
  test_unbiased_needs_stochastic_at_begin();
  test_tiny_norm_rows_are_zero_rows();
  test_failed_end_is_recoverable();
  test_ghost_scratch_out_of_memory();
  test_capacities_above_size_max_half();
  test_gradient_batches_checked_before_projection();
  test_scorer_weights_and_nan_groups();
  test_header_statements();
  return finish("test_contract");
}
