/*
** A multi-epoch training-loop driver of the C ABI, against the release
** libwinnow.so: raw gradients go through a projector into an engine every
** epoch, and each plan is checked (sizes, ids, weights, probabilities,
** mixture, relevance of the chosen samples, determinism, audit log).
*/
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

enum { N = 240, D = 512, K = 32, DOMAINS = 3, TARGETS = 6, BATCH = 48 };

/* Candidate i's gradient is relevance[i] * u + noise: the engine should
** rank samples by relevance, the target direction being u. */
typedef struct {
  float u[D];
  float relevance[N];
  float gradients[N * D];
  float targets[TARGETS * D];
  int64_t ids[N];
  int32_t domains[N];
} world;

static void make_world(world *w, uint64_t seed) {
  uint64_t s = seed;
  for (int j = 0; j < D; j++) w->u[j] = uniform(&s);
  for (int i = 0; i < N; i++) {
    w->ids[i] = 1000 + 7 * i;
    w->domains[i] = i % DOMAINS;
    w->relevance[i] = uniform(&s);
    for (int j = 0; j < D; j++)
      w->gradients[i * D + j] = w->relevance[i] * w->u[j] + 0.3f * uniform(&s);
  }
  for (int t = 0; t < TARGETS; t++)
    for (int j = 0; j < D; j++)
      w->targets[t * D + j] = w->u[j] + 0.1f * uniform(&s);
}

/* One epoch: targets, candidates in batches (with losses), then the plan. */
static size_t run_epoch(wn_engine *e, wn_projector *p, const world *w,
                        int64_t epoch) {
  float losses[BATCH];
  size_t selected = 0;
  EXPECT_OK(wn_engine_begin_epoch(e, epoch, 1.0 / (double)(epoch + 1)));
  EXPECT_OK(wn_engine_add_target_gradients(e, p, 0, w->targets, TARGETS, D));
  for (int b = 0; b < N; b += BATCH) {
    for (int i = 0; i < BATCH; i++)
      losses[i] = 1.0f + 0.5f * (float)w->domains[b + i] - 0.1f * (float)epoch;
    EXPECT_OK(wn_engine_add_candidate_gradients(
        e, p, w->ids + b, BATCH, w->gradients + (size_t)b * D, D, losses, NULL));
  }
  EXPECT_OK(wn_engine_end_epoch(e, &selected));
  return selected;
}

/* The pool position of a sample id, or -1. */
static int position(const world *w, int64_t id) {
  for (int i = 0; i < N; i++)
    if (w->ids[i] == id) return i;
  return -1;
}

/* Checks the invariants every plan satisfies and returns the count. */
static size_t check_plan(wn_engine *e, const world *w, int64_t epoch,
                         int64_t *ids, float *weights) {
  size_t n = 0, k = 0;
  int64_t plan_epoch = -1, counts[DOMAINS], total = 0;
  int32_t kind = -1, policy = -1;
  double probs[N], mixture[DOMAINS], sum = 0;
  EXPECT_OK(wn_engine_plan_size(e, &n, &k));
  EXPECT_TRUE(n >= 1 && n <= N && k == DOMAINS);
  EXPECT_OK(wn_engine_plan_info(e, &plan_epoch, &kind, &policy));
  EXPECT_TRUE(plan_epoch == epoch);
  EXPECT_OK(wn_engine_plan_ids(e, ids, N));
  EXPECT_OK(wn_engine_plan_weights(e, weights, N));
  EXPECT_OK(wn_engine_plan_probabilities(e, probs, N));
  EXPECT_OK(wn_engine_plan_mixture(e, mixture, DOMAINS));
  EXPECT_OK(wn_engine_plan_domain_counts(e, counts, DOMAINS));
  for (size_t i = 0; i < n; i++) {
    EXPECT_TRUE(position(w, ids[i]) >= 0);
    for (size_t j = 0; j < i; j++) EXPECT_TRUE(ids[i] != ids[j]);
    EXPECT_TRUE(isfinite(weights[i]) && weights[i] > 0);
    EXPECT_TRUE(probs[i] > 0 && probs[i] <= 1.0 + 1e-12);
  }
  for (int d = 0; d < DOMAINS; d++) {
    sum += mixture[d];
    total += counts[d];
  }
  EXPECT_TRUE(fabs(sum - 1) < 1e-9);
  EXPECT_TRUE(total == (int64_t)n);
  return n;
}

/* How many of the plan's samples are among the 2n most relevant. */
static size_t relevant_hits(const world *w, const int64_t *ids, size_t n) {
  size_t hits = 0;
  for (size_t i = 0; i < n; i++) {
    int p = position(w, ids[i]), better = 0;
    for (int j = 0; j < N; j++) better += w->relevance[j] > w->relevance[p];
    hits += (size_t)better < 2 * n;
  }
  return hits;
}

static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  int c, lines = 0;
  if (!f) return -1;
  while ((c = fgetc(f)) != EOF) lines += c == '\n';
  fclose(f);
  return lines;
}

static void test_engine_loop(const world *w, const char *audit) {
  wn_projector *p = NULL;
  wn_engine *e = NULL, *twin = NULL;
  int64_t ids[N], twin_ids[N];
  float weights[N], twin_weights[N];
  EXPECT_OK(wn_projector_create(&p, WN_PROJECTOR_RADEMACHER, 7, D, K, 0));
  EXPECT_OK(wn_engine_create(&e, w->ids, w->domains, N, 0, K, 1));
  EXPECT_OK(wn_engine_create(&twin, w->ids, w->domains, N, 0, K, 1));
  remove(audit);
  EXPECT_OK(wn_engine_set_audit_log(e, audit));
  EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0.1));

  /* Epoch 0: top fraction. The chosen are the relevant ones. */
  size_t n = run_epoch(e, p, w, 0);
  EXPECT_TRUE(n == 24);
  EXPECT_TRUE(check_plan(e, w, 0, ids, weights) == n);
  EXPECT_TRUE(relevant_hits(w, ids, n) >= n * 9 / 10);

  /* Epoch 1: stochastic, seeded; inclusion probabilities sum to n over
  ** the pool, and identical inputs and seed give an identical plan. */
  for (wn_engine **x = &e; x; x = x == &e ? &twin : NULL) {
    EXPECT_OK(wn_engine_set_param_i64(*x, WN_PARAM_POLICY, WN_POLICY_STOCHASTIC));
    EXPECT_OK(wn_engine_set_param_f64(*x, WN_PARAM_SELECT_FRACTION, 0.1));
    EXPECT_OK(wn_engine_set_param_i64(*x, WN_PARAM_SEED, (int64_t)0x9E3779B97F4A7C15ULL));
    EXPECT_OK(wn_engine_set_param_f64(*x, WN_PARAM_TEMPERATURE, 0.2));
  }
  (void)run_epoch(twin, p, w, 0);
  n = run_epoch(e, p, w, 1);
  EXPECT_TRUE(run_epoch(twin, p, w, 1) == n);
  EXPECT_TRUE(check_plan(e, w, 1, ids, weights) == n);
  EXPECT_TRUE(check_plan(twin, w, 1, twin_ids, twin_weights) == n);
  EXPECT_TRUE(memcmp(ids, twin_ids, n * sizeof ids[0]) == 0);
  EXPECT_TRUE(memcmp(weights, twin_weights, n * sizeof weights[0]) == 0);
  double pool[N], total = 0;
  EXPECT_OK(wn_engine_pool_probabilities(e, pool, N));
  for (int i = 0; i < N; i++) total += pool[i];
  EXPECT_TRUE(fabs(total - (double)n) < 1e-6 * N);
  EXPECT_TRUE(relevant_hits(w, ids, n) >= n / 2);

  /* Epoch 2: per-domain quotas under a gradient-alignment mixture. */
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, WN_POLICY_DOMAIN_QUOTA));
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_MIXTURE_RULE, WN_MIXTURE_GRADIENT_ALIGNMENT));
  n = run_epoch(e, p, w, 2);
  EXPECT_TRUE(check_plan(e, w, 2, ids, weights) == n);

  /* Epoch 3: relevance + diversity (GREATS) with self-normalized weights. */
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, WN_POLICY_DIVERSITY));
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_WEIGHTING, WN_WEIGHTING_SELF_NORMALIZED));
  n = run_epoch(e, p, w, 3);
  EXPECT_TRUE(check_plan(e, w, 3, ids, weights) == n);

  /* Scores: one per pool position, higher for the more relevant. */
  float scores[N];
  EXPECT_OK(wn_engine_scores(e, scores, N));
  int agree = 0, pairs = 0;
  for (int i = 0; i + 1 < N; i += 2, pairs++)
    agree += (scores[i] > scores[i + 1]) == (w->relevance[i] > w->relevance[i + 1]);
  EXPECT_TRUE(agree >= pairs * 8 / 10);

  EXPECT_TRUE(count_lines(audit) == 4);
  wn_engine_free(twin);
  wn_engine_free(e);
  wn_projector_free(p);
}

static void test_step_mode(const world *w) {
  wn_projector *p = NULL;
  wn_engine *e = NULL;
  float features[64 * K], target[K];
  int64_t kept[16];
  float weights[16];
  EXPECT_OK(wn_projector_create(&p, WN_PROJECTOR_GAUSSIAN, 3, D, K, 0));
  EXPECT_OK(wn_projector_project_f32(p, w->gradients, 64, features, 64 * K));
  EXPECT_OK(wn_projector_project_f32(p, w->targets, 1, target, K));
  EXPECT_OK(wn_engine_create(&e, w->ids, NULL, N, 0, K, 1));
  EXPECT_OK(wn_engine_select_step(e, features, 64, K, target, 16, 0.01f, kept, weights, 16));
  for (int i = 0; i < 16; i++) {
    EXPECT_TRUE(kept[i] >= 0 && kept[i] < 64 && weights[i] == 1.0f);
    for (int j = 0; j < i; j++) EXPECT_TRUE(kept[i] != kept[j]);
  }
  /* The first pick is the most aligned with the target. */
  int best = 0;
  double best_dot = -1e30;
  for (int i = 0; i < 64; i++) {
    double dot = 0;
    for (int j = 0; j < K; j++) dot += features[i * K + j] * target[j];
    if (dot > best_dot) best_dot = dot, best = i;
  }
  EXPECT_TRUE(kept[0] == best);
  int64_t again[16];
  EXPECT_OK(wn_select_step(features, 64, K, target, 16, 0.01f, again, NULL, 16));
  EXPECT_TRUE(memcmp(kept, again, sizeof kept) == 0);
  wn_engine_free(e);
  wn_projector_free(p);
}

static void test_projector(const world *w) {
  wn_projector *p = NULL;
  size_t d = 0, k = 0;
  static float whole[4 * K], pieces[4 * K], ones[4 * K], halves[4 * K];
  static uint16_t half_ones[4 * D];
  static float f_ones[4 * D];
  /* A budget of 64 rows forces generated panels rather than a cache. */
  EXPECT_OK(wn_projector_create(&p, WN_PROJECTOR_RADEMACHER, 11, D, K, 64 * K * 4));
  EXPECT_OK(wn_projector_dims(p, &d, &k));
  EXPECT_TRUE(d == D && k == K);
  EXPECT_OK(wn_projector_project_f32(p, w->gradients, 4, whole, 4 * K));
  /* The same gradients cut at column 200, projected piecewise, summed. */
  static float left[4 * 200], right[4 * (D - 200)];
  for (int r = 0; r < 4; r++) {
    memcpy(left + r * 200, w->gradients + r * D, 200 * sizeof(float));
    memcpy(right + r * (D - 200), w->gradients + r * D + 200, (D - 200) * sizeof(float));
  }
  EXPECT_OK(wn_projector_project_piece_f32(p, left, 4, 0, 200, pieces, 4 * K, 0));
  EXPECT_OK(wn_projector_project_piece_f32(p, right, 4, 200, D - 200, pieces, 4 * K, 1));
  for (int i = 0; i < 4 * K; i++) EXPECT_TRUE(fabsf(whole[i] - pieces[i]) < 1e-4f);
  /* Half precision: 1.0 is 0x3C00. */
  for (int i = 0; i < 4 * D; i++) half_ones[i] = 0x3C00, f_ones[i] = 1.0f;
  EXPECT_OK(wn_projector_project_f16(p, half_ones, 4, halves, 4 * K));
  EXPECT_OK(wn_projector_project_f32(p, f_ones, 4, ones, 4 * K));
  for (int i = 0; i < 4 * K; i++) EXPECT_TRUE(fabsf(halves[i] - ones[i]) < 1e-4f);
  EXPECT_OK(wn_projector_project_piece_f16(p, half_ones, 4, 0, D, halves, 4 * K, 0));
  for (int i = 0; i < 4 * K; i++) EXPECT_TRUE(fabsf(halves[i] - ones[i]) < 1e-4f);
  wn_projector_free(p);
}

static void test_selection(void) {
  const float scores[6] = {0.5f, 2.0f, 0.5f, -1.0f, 2.0f, 0.1f};
  int64_t out[6];
  size_t n = 0;
  EXPECT_OK(wn_select_top_k(scores, 6, 3, out, 6, &n));
  /* Descending score, ties by ascending index. */
  EXPECT_TRUE(n == 3 && out[0] == 1 && out[1] == 4 && out[2] == 0);
  EXPECT_OK(wn_select_top_fraction(scores, 6, 0.5, out, 6, &n));
  EXPECT_TRUE(n == 3 && out[2] == 0);
  EXPECT_OK(wn_select_threshold(scores, 6, 0.5f, NULL, 0, &n));
  EXPECT_TRUE(n == 4);
  EXPECT_OK(wn_select_threshold(scores, 6, 0.5f, out, n, &n));
  EXPECT_TRUE(out[0] == 1 && out[1] == 4 && out[2] == 0 && out[3] == 2);
}

int main(void) {
  static world w;
  char audit[256];
  snprintf(audit, sizeof audit, "%s/winnow-test-loop-audit.jsonl",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  EXPECT_TRUE(strcmp(wn_version(), WN_VERSION_STRING) == 0);
  EXPECT_TRUE(wn_abi_version() == WN_ABI_VERSION);
  EXPECT_TRUE(wn_blas_threads() >= 1);
  printf("winnow %s (ABI %u), OpenBLAS %s, %d threads\n", wn_version(),
         wn_abi_version(), wn_blas_core_name(), wn_blas_threads());
  make_world(&w, 42);
  test_selection();
  test_projector(&w);
  test_step_mode(&w);
  test_engine_loop(&w, audit);
  /* The same loop, its plans checked again, on one BLAS thread. */
  EXPECT_OK(wn_set_blas_threads(1));
  test_engine_loop(&w, audit);
  return finish("test_loop");
}
