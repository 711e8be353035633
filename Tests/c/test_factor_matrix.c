/*
** wn_factored_matrix_fill gives a caller the very matrices a factored
** projector uses: a C loop that multiplies its own factors by them (as a
** GPU first stage would) must get the projector's features, and every bad
** argument must return its documented status.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { T = 6, DIN = 9, DOUT = 7, KIN = 3, KOUT = 4 };

static void test_a_loop_over_fetched_matrices_matches_the_projector(int32_t kind) {
  const uint64_t seed = 42, id = 77;
  float a[T * DIN], d[T * DOUT], p_in[DIN * KIN], p_out[DOUT * KOUT];
  uint64_t s = 3;
  for (int i = 0; i < T * DIN; i++) a[i] = uniform(&s);
  for (int i = 0; i < T * DOUT; i++) d[i] = uniform(&s);
  EXPECT_OK(wn_factored_matrix_fill(kind, seed, id, WN_FACTOR_INPUT, DIN, KIN, p_in, DIN * KIN));
  EXPECT_OK(wn_factored_matrix_fill(kind, seed, id, WN_FACTOR_OUTPUT, DOUT, KOUT, p_out,
                                    DOUT * KOUT));
  /* phi = (D P_out)^T (A P_in), k_out x k_in, in double. */
  double ap[T][KIN] = {{0}}, dp[T][KOUT] = {{0}}, norm = 0, diff = 0;
  for (int t = 0; t < T; t++) {
    for (int j = 0; j < KIN; j++)
      for (int i = 0; i < DIN; i++) ap[t][j] += a[t * DIN + i] * p_in[i * KIN + j];
    for (int j = 0; j < KOUT; j++)
      for (int i = 0; i < DOUT; i++) dp[t][j] += d[t * DOUT + i] * p_out[i * KOUT + j];
  }
  wn_factored_projector *p = NULL;
  size_t din = DIN, dout = DOUT, kin = KIN, kout = KOUT, counts[1] = {T};
  EXPECT_OK(wn_factored_projector_create(&p, 1, &id, &din, &dout, &kin, &kout, seed, kind));
  const float *inputs[1] = {a}, *outputs[1] = {d};
  float phi[KOUT * KIN];
  EXPECT_OK(wn_factored_projector_project_f32(p, 1, counts, T, 1, NULL, inputs, outputs, phi,
                                              KOUT * KIN));
  for (int o = 0; o < KOUT; o++)
    for (int i = 0; i < KIN; i++) {
      double expected = 0;
      for (int t = 0; t < T; t++) expected += dp[t][o] * ap[t][i];
      diff += (phi[o * KIN + i] - expected) * (phi[o * KIN + i] - expected);
      norm += expected * expected;
    }
  /* float32 products of length <= 9 against double: well inside 1e-5. */
  EXPECT_TRUE(norm > 0 && sqrt(diff) <= 1e-5 * sqrt(norm));
  /* Scaled by 1/sqrt(cols): a Rademacher entry is +-1/sqrt(k_in). */
  if (kind == WN_PROJECTOR_RADEMACHER)
    EXPECT_TRUE(fabsf(fabsf(p_in[0]) - 1.0f / sqrtf((float)KIN)) < 1e-7f);
  wn_factored_projector_free(p);
}

static void test_bad_arguments_return_their_status(void) {
  float out[8];
  EXPECT_STATUS(wn_factored_matrix_fill(0, 1, 2, WN_FACTOR_INPUT, 2, 4, NULL, 8),
                WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_factored_matrix_fill(0, 1, 2, WN_FACTOR_INPUT, 3, 4, out, 8),
                WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_STATUS(wn_factored_matrix_fill(7, 1, 2, WN_FACTOR_INPUT, 2, 4, out, 8),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_matrix_fill(0, 1, 2, 5, 2, 4, out, 8), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_matrix_fill(0, 1, 2, WN_FACTOR_OUTPUT, 0, 4, out, 8),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_factored_matrix_fill(0, 1, 2, WN_FACTOR_OUTPUT, SIZE_MAX / 2, 4, out, 8),
                WN_ERR_OUT_OF_MEMORY);
  EXPECT_OK(wn_factored_matrix_fill(1, 1, 2, WN_FACTOR_OUTPUT, 2, 4, out, 8));
}

int main(void) {
  test_a_loop_over_fetched_matrices_matches_the_projector(WN_PROJECTOR_RADEMACHER);
  test_a_loop_over_fetched_matrices_matches_the_projector(WN_PROJECTOR_GAUSSIAN);
  test_bad_arguments_return_their_status();
  return finish("test_factor_matrix");
}
