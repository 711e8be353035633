/*
** Leak check driver: `test_cycles CYCLES` creates a projector and an engine,
** runs one full epoch (targets, candidates from raw gradients, plan copies,
** a failing call that records an error message), and frees both, CYCLES
** times; every fourth cycle likewise a factored projector fed into the
** engine, ghost dot products and step mode from factors. Run under valgrind or LeakSanitizer, no memory may be lost.
*/
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { N = 64, D = 96, K = 16 };

/* One cycle of the factored path: create, feed an epoch, ghost Gram, step
** mode, a failure (unknown layer id), free. Factors: N samples of one token,
** the D-wide gradient rows cut into A (32 wide) and Delta (64 wide). */
static void factored_cycle(int c, const float *x) {
  const uint64_t lids[1] = {7}, unknown[1] = {8};
  const size_t din[1] = {32}, dout[1] = {64}, kin[1] = {2}, kout[1] = {8};
  static float a[N * 32], d[N * 64], features[N * K], gram[N * N];
  static size_t counts[N];
  static int64_t ids[N], kept[4];
  for (int i = 0; i < N; i++) {
    counts[i] = 1, ids[i] = i;
    for (int j = 0; j < 32; j++) a[i * 32 + j] = x[i * D + j];
    for (int j = 0; j < 64; j++) d[i * 64 + j] = x[i * D + 32 + j];
  }
  const float *as[1] = {a}, *ds[1] = {d};
  wn_factored_projector *p = NULL;
  wn_engine *e = NULL;
  size_t n = 0;
  EXPECT_OK(wn_factored_projector_create(&p, 1, lids, din, dout, kin, kout, (uint64_t)c, c % 2));
  EXPECT_OK(wn_factored_projector_project_f32(p, N, counts, N, 1, NULL, as, ds, features, N * K));
  EXPECT_OK(wn_ghost_gram_f32(1, din, dout, N, counts, N, as, ds, c % 3, gram, N * N, NULL));
  EXPECT_OK(wn_select_step_factors(p, N, counts, N, 1, NULL, as, ds, 2, as, ds, 4, 0.1f, kept, NULL, 4));
  EXPECT_OK(wn_engine_create(&e, ids, NULL, N, 0, K, 1));
  EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
  EXPECT_OK(wn_engine_add_target_factors(e, p, 0, 2, counts, 2, 1, NULL, as, ds));
  EXPECT_OK(wn_engine_add_candidate_factors(e, p, ids, N, counts, N, 1, NULL, as, ds, NULL, NULL));
  EXPECT_OK(wn_engine_end_epoch(e, &n));
  EXPECT_STATUS(wn_factored_projector_project_f32(p, N, counts, N, 1, unknown, as, ds, features, N * K), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_add_candidate_factors(e, p, ids, N, counts, N, 1, NULL, as, ds, NULL, NULL), WN_ERR_BAD_STATE);
  wn_engine_free(e);
  wn_factored_projector_free(p);
}

int main(int argc, char **argv) {
  int cycles = argc > 1 ? atoi(argv[1]) : 1000;
  static int64_t ids[N], out_ids[N];
  static int32_t domains[N];
  static float gradients[N * D], losses[N], weights[N], scores[N];
  static double probs[N], mixture[4];
  uint64_t s = 9;
  for (int i = 0; i < N; i++) ids[i] = i, domains[i] = i % 4, losses[i] = 1;
  for (int i = 0; i < N * D; i++) gradients[i] = uniform(&s);
  for (int c = 0; c < cycles; c++) {
    wn_projector *p = NULL;
    wn_engine *e = NULL;
    size_t n = 0;
    EXPECT_OK(wn_projector_create(&p, c % 2, (uint64_t)c, D, K, 0));
    EXPECT_OK(wn_engine_create(&e, ids, domains, N, 0, K, 1));
    EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, c % 4));
    EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_MIXTURE_RULE, c % 3));
    EXPECT_OK(wn_engine_begin_epoch(e, 0, 1));
    EXPECT_OK(wn_engine_add_target_gradients(e, p, 0, gradients, 2, D));
    EXPECT_OK(wn_engine_add_candidate_gradients(e, p, ids, N, gradients, D, losses, losses));
    EXPECT_OK(wn_engine_end_epoch(e, &n));
    EXPECT_OK(wn_engine_plan_ids(e, out_ids, N));
    EXPECT_OK(wn_engine_plan_weights(e, weights, N));
    EXPECT_OK(wn_engine_plan_probabilities(e, probs, N));
    EXPECT_OK(wn_engine_plan_mixture(e, mixture, 4));
    EXPECT_OK(wn_engine_scores(e, scores, N));
    /* Failures allocate messages on the handle and the thread. */
    EXPECT_STATUS(wn_engine_plan_ids(e, out_ids, 0), WN_ERR_BUFFER_TOO_SMALL);
    EXPECT_STATUS(wn_projector_project_f32(p, gradients, 2, scores, 1), WN_ERR_BUFFER_TOO_SMALL);
    wn_engine_free(e);
    wn_projector_free(p);
    if (c % 4 == 0) factored_cycle(c, gradients); /* 1 in 4 keeps valgrind quick */
  }
  return finish("test_cycles");
}
