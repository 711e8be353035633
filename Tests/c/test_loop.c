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

/* The factored path: features equal materialize-then-project with the same
** Kronecker matrices (recovered from unit gradients e_j e_i^T), the ghost
** Gram equals explicit gradient dot products, and step mode and an epoch fed
** with factors choose what they choose from the equivalent features. */
enum { FL = 2, FS = 12, FTOK = 60, FK = 3 * 4 + 2 * 5 };
static const uint64_t f_ids[FL] = {21, 4};
static const size_t f_din[FL] = {8, 5}, f_dout[FL] = {6, 9};
static const size_t f_kin[FL] = {3, 2}, f_kout[FL] = {4, 5};

/* G = D^T A of rows r0 .. r0+t-1 of one layer, d_out x d_in (doubles). */
static void gradient(const float *a, const float *d, size_t din, size_t dout,
                     size_t r0, size_t t, double *g) {
  for (size_t j = 0; j < dout; j++)
    for (size_t i = 0; i < din; i++) {
      double sum = 0;
      for (size_t r = r0; r < r0 + t; r++) sum += (double)d[r * dout + j] * a[r * din + i];
      g[j * din + i] = sum;
    }
}

static void test_factored(void) {
  static float a[FL][FTOK * 9], d[FL][FTOK * 9], feats[FS * FK], ta[FL][5 * 9], td[FL][5 * 9];
  static float ua[FL][54 * 9], ud[FL][54 * 9], unit[54 * FK], gram[FS * FS];
  static double p_in[FL][8 * 3], p_out[FL][9 * 5], g[FS][FL][54];
  size_t counts[FS], starts[FS + 1] = {0};
  uint64_t s = 77;
  for (int i = 0; i < FS; i++) counts[i] = (size_t)(i % 4 == 1 ? 0 : 2 + i % 7);
  for (int i = 0; i < FS; i++) starts[i + 1] = starts[i] + counts[i];
  size_t total = starts[FS];
  for (int l = 0; l < FL; l++) {
    for (size_t r = 0; r < total * f_din[l]; r++) a[l][r] = uniform(&s);
    for (size_t r = 0; r < total * f_dout[l]; r++) d[l][r] = uniform(&s);
    for (size_t r = 0; r < 5 * f_din[l]; r++) ta[l][r] = uniform(&s);
    for (size_t r = 0; r < 5 * f_dout[l]; r++) td[l][r] = uniform(&s);
  }
  const float *as[FL] = {a[0], a[1]}, *ds[FL] = {d[0], d[1]};
  const float *tas[FL] = {ta[0], ta[1]}, *tds[FL] = {td[0], td[1]};
  wn_factored_projector *p = NULL;
  size_t dim = 0, offsets[FL];
  EXPECT_OK(wn_factored_projector_create(&p, FL, f_ids, f_din, f_dout, f_kin, f_kout, 99, WN_PROJECTOR_RADEMACHER));
  EXPECT_OK(wn_factored_projector_dims(p, &dim, NULL, offsets, FL));
  EXPECT_TRUE(dim == FK && offsets[1] == 12);
  EXPECT_OK(wn_factored_projector_project_f32(p, FS, counts, total, FL, NULL, as, ds, feats, FS * FK));

  /* Recover P_out and P_in of each layer from d_out*d_in one-token samples. */
  for (int l = 0; l < FL; l++) {
    size_t din = f_din[l], dout = f_dout[l], n = din * dout, kin = f_kin[l], kout = f_kout[l];
    size_t ones[54];
    memset(ua, 0, sizeof ua);
    memset(ud, 0, sizeof ud);
    for (size_t q = 0; q < n; q++) {
      ones[q] = 1;
      ua[l][q * din + q % din] = 1;  /* A = e_i, i = q % d_in */
      ud[l][q * dout + q / din] = 1; /* D = e_j, j = q / d_in */
    }
    const float *uas[FL] = {ua[0], ua[1]}, *uds[FL] = {ud[0], ud[1]};
    EXPECT_OK(wn_factored_projector_project_f32(p, n, ones, n, FL, NULL, uas, uds, unit, n * FK));
    /* unit[(j, i)][a, b] = P_out[j, a] P_in[i, b] */
    const float *k = unit + offsets[l];
    double k00 = k[0];
    EXPECT_TRUE(fabs(fabs(k00) - 1 / sqrt((double)(kin * kout))) < 1e-6);
    for (size_t j = 0; j < dout; j++)
      for (size_t c = 0; c < kout; c++) p_out[l][j * kout + c] = k[(j * din) * FK + c * kin];
    for (size_t i = 0; i < din; i++)
      for (size_t b = 0; b < kin; b++) p_in[l][i * kin + b] = k[i * FK + b] / k00;
  }
  /* Materialize each G, project with P_out^T G P_in, compare. */
  double err = 0, norm = 0;
  for (int smp = 0; smp < FS; smp++)
    for (int l = 0; l < FL; l++) {
      size_t din = f_din[l], dout = f_dout[l], kin = f_kin[l], kout = f_kout[l];
      gradient(a[l], d[l], din, dout, starts[smp], counts[smp], g[smp][l]);
      for (size_t c = 0; c < kout; c++)
        for (size_t b = 0; b < kin; b++) {
          double phi = 0;
          for (size_t j = 0; j < dout; j++)
            for (size_t i = 0; i < din; i++)
              phi += p_out[l][j * kout + c] * g[smp][l][j * din + i] * p_in[l][i * kin + b];
          double got = feats[smp * FK + offsets[l] + c * kin + b];
          err += (got - phi) * (got - phi), norm += phi * phi;
        }
    }
  EXPECT_TRUE(norm > 0 && sqrt(err / norm) < 1e-4);

  /* The ghost Gram, both paths, equals explicit <G_i, G_j>. */
  for (int path = WN_DOT_PATH_GHOST; path <= WN_DOT_PATH_MATERIALIZED; path++) {
    int32_t paths[FL];
    EXPECT_OK(wn_ghost_gram_f32(FL, f_din, f_dout, FS, counts, total, as, ds, path, gram, FS * FS, paths));
    EXPECT_TRUE(paths[0] == path && paths[1] == path);
    err = 0, norm = 0;
    for (int i = 0; i < FS; i++)
      for (int j = 0; j < FS; j++) {
        double exact = 0;
        for (int l = 0; l < FL; l++)
          for (size_t q = 0; q < f_din[l] * f_dout[l]; q++) exact += g[i][l][q] * g[j][l][q];
        err += (gram[i * FS + j] - exact) * (gram[i * FS + j] - exact), norm += exact * exact;
      }
    EXPECT_TRUE(sqrt(err / norm) < 1e-4);
  }

  /* Step mode from factors picks what step mode picks from the features. */
  float target[FK];
  size_t five = 5;
  int64_t by_factors[6], by_features[6], by_engine[6];
  EXPECT_OK(wn_factored_projector_project_f32(p, 1, &five, 5, FL, NULL, tas, tds, target, FK));
  EXPECT_OK(wn_select_step_factors(p, FS, counts, total, FL, NULL, as, ds, 5, tas, tds, 6, 0.02f, by_factors, NULL, 6));
  EXPECT_OK(wn_select_step(feats, FS, FK, target, 6, 0.02f, by_features, NULL, 6));
  EXPECT_TRUE(memcmp(by_factors, by_features, sizeof by_factors) == 0);
  wn_engine *e = NULL, *twin = NULL;
  static int64_t pool[FS], plan_a[FS], plan_b[FS];
  for (int i = 0; i < FS; i++) pool[i] = 500 + i;
  EXPECT_OK(wn_engine_create(&e, pool, NULL, FS, 0, FK, 1));
  EXPECT_OK(wn_engine_select_step_factors(e, p, FS, counts, total, FL, NULL, as, ds, 5, tas, tds, 6, 0.02f, by_engine, NULL, 6));
  EXPECT_TRUE(memcmp(by_engine, by_features, sizeof by_engine) == 0);

  /* An epoch fed with factors (two batches, layers by id in reverse order)
  ** plans what an epoch fed with the same features plans. */
  size_t n_a = 0, n_b = 0, half = starts[FS / 2];
  const uint64_t reversed[FL] = {f_ids[1], f_ids[0]};
  const float *as2[FL] = {a[1] + half * f_din[1], a[0] + half * f_din[0]};
  const float *ds2[FL] = {d[1] + half * f_dout[1], d[0] + half * f_dout[0]};
  EXPECT_OK(wn_engine_create(&twin, pool, NULL, FS, 0, FK, 1));
  EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_SELECT_FRACTION, 0.25));
  EXPECT_OK(wn_engine_set_param_f64(twin, WN_PARAM_SELECT_FRACTION, 0.25));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  EXPECT_OK(wn_engine_add_target_factors(e, p, 0, 1, &five, 5, FL, NULL, tas, tds));
  EXPECT_OK(wn_engine_add_candidate_factors(e, p, pool, FS / 2, counts, half, FL, NULL, as, ds, NULL, NULL));
  EXPECT_OK(wn_engine_add_candidate_factors(e, p, pool + FS / 2, FS / 2, counts + FS / 2, total - half, FL, reversed, as2, ds2, NULL, NULL));
  EXPECT_OK(wn_engine_end_epoch(e, &n_a));
  EXPECT_OK(wn_engine_begin_epoch(twin, 0, 1));
  EXPECT_OK(wn_engine_add_target(twin, 0, target, 1, FK));
  EXPECT_OK(wn_engine_add_candidates(twin, pool, FS, feats, FK, NULL, NULL));
  EXPECT_OK(wn_engine_end_epoch(twin, &n_b));
  EXPECT_OK(wn_engine_plan_ids(e, plan_a, FS));
  EXPECT_OK(wn_engine_plan_ids(twin, plan_b, FS));
  /* Features of a half batch and of the whole may differ in the last bits
  ** (different BLAS shapes), so the picks may be compared exactly only
  ** because the data keep each of the best three scores and the fourth
  ** (cosines, rounding error ~1e-6) more than 1e-4 apart. */
  float scores[FS];
  EXPECT_OK(wn_engine_scores(twin, scores, FS));
  for (int rank = 0; rank < 3; rank++) { /* gaps 1-2, 2-3 (order) and 3-4 (the cut) */
    int best = -1;
    for (int i = 0; i < FS; i++)
      if (!isnan(scores[i]) && (best < 0 || scores[i] > scores[best])) best = i;
    float top = scores[best];
    scores[best] = NAN;
    float next = -INFINITY;
    for (int i = 0; i < FS; i++)
      if (!isnan(scores[i]) && scores[i] > next) next = scores[i];
    EXPECT_TRUE(top - next > 1e-4f);
  }
  EXPECT_TRUE(n_a == n_b && n_a == 3 && memcmp(plan_a, plan_b, n_a * sizeof plan_a[0]) == 0);
  wn_engine_free(twin);
  wn_engine_free(e);
  wn_factored_projector_free(p);
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
  test_factored();
  test_engine_loop(&w, audit);
  /* The same loop, its plans checked again, on one BLAS thread. */
  EXPECT_OK(wn_set_blas_threads(1));
  test_engine_loop(&w, audit);
  return finish("test_loop");
}
