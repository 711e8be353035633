/*
** Leak check driver: `test_cycles CYCLES` creates a projector and an engine,
** runs one full epoch (targets, candidates from raw gradients, plan copies,
** a failing call that records an error message), and frees both, CYCLES
** times. Run under valgrind or LeakSanitizer, no memory may be lost.
*/
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { N = 64, D = 96, K = 16 };

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
  }
  return finish("test_cycles");
}
