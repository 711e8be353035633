/* The sparse JL projector through the C ABI: the map's structure, pieces,
** half-precision input, the diversity method parameter, and every error. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

enum { D = 300, K = 40, ROWS = 3 };

/* Projecting the basis vectors reads the map: s nonzeros of +-1/sqrt(s). */
static void test_map_structure(void) {
  for (size_t s = 1; s <= 4; s += 3) {
    wn_sparse_projector *p = NULL;
    EXPECT_OK(wn_sparse_projector_create(&p, 9, D, K, s));
    size_t d = 0, k = 0, nnz = 0;
    EXPECT_OK(wn_sparse_projector_dims(p, &d, &k, &nnz));
    EXPECT_TRUE(d == D && k == K && nnz == s);
    static float basis[D * D], map[D * K];
    memset(basis, 0, sizeof basis);
    for (int i = 0; i < D; i++) basis[i * D + i] = 1;
    EXPECT_OK(wn_sparse_projector_project_piece_f32(p, basis, D, 0, D, map, D * K, 0));
    int wrong = 0;
    for (int i = 0; i < D; i++) {
      size_t count = 0;
      for (int h = 0; h < K; h++) {
        float v = map[i * K + h];
        if (v == 0) continue;
        count++;
        if (fabsf(fabsf(v) - 1 / sqrtf((float)s)) > 1e-6f) wrong++;
      }
      if (count != s) wrong++;
    }
    EXPECT_TRUE(wrong == 0);
    wn_sparse_projector_free(p);
  }
}

/* Pieces at their offsets sum to the whole; exact halves give the float
** features bit for bit (the same sums of the same values). */
static void test_pieces_and_halves(void) {
  wn_sparse_projector *p = NULL;
  EXPECT_OK(wn_sparse_projector_create(&p, 3, D, K, 2));
  float x[ROWS * D], whole[ROWS * K], summed[ROWS * K], halved[ROWS * K];
  uint16_t h[ROWS * D];
  for (int i = 0; i < ROWS * D; i++) {
    int v = (i * 37) % 17 - 8; /* small integers: exact in half precision */
    x[i] = (float)v;
  }
  for (int i = 0; i < ROWS * D; i++) { /* half bit patterns of small integers */
    float a = fabsf(x[i]);
    uint16_t bits = 0;
    if (a > 0) {
      int e = 0;
      while (a >= 2) { a /= 2; e++; }
      bits = (uint16_t)(((e + 15) << 10) | (uint16_t)((a - 1) * 1024));
    }
    h[i] = (uint16_t)(bits | (x[i] < 0 ? 0x8000 : 0));
  }
  EXPECT_OK(wn_sparse_projector_project_piece_f32(p, x, ROWS, 0, D, whole, ROWS * K, 0));
  float piece[ROWS * D];
  int offsets[3] = {0, 100, 250}, widths[3] = {100, 150, 50};
  for (int j = 0; j < 3; j++) {
    for (int r = 0; r < ROWS; r++)
      memcpy(piece + r * widths[j], x + r * D + offsets[j], widths[j] * sizeof(float));
    EXPECT_OK(wn_sparse_projector_project_piece_f32(p, piece, ROWS, offsets[j], widths[j],
                                                    summed, ROWS * K, j > 0));
  }
  float err = 0;
  for (int i = 0; i < ROWS * K; i++) err = fmaxf(err, fabsf(summed[i] - whole[i]));
  EXPECT_TRUE(err < 1e-4f);
  EXPECT_OK(wn_sparse_projector_project_piece_f16(p, h, ROWS, 0, D, halved, ROWS * K, 0));
  EXPECT_TRUE(memcmp(halved, whole, sizeof whole) == 0);
  wn_sparse_projector_free(p);
}

static void test_errors(void) {
  wn_sparse_projector *p = (wn_sparse_projector *)&p; /* reset to NULL on failure */
  EXPECT_STATUS(wn_sparse_projector_create(&p, 1, D, K, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(p == NULL);
  EXPECT_TRUE(strstr(wn_last_error(), "nonzeros") != NULL);
  EXPECT_STATUS(wn_sparse_projector_create(&p, 1, D, K, K + 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_sparse_projector_create(NULL, 1, D, K, 1), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_sparse_projector_create(&p, 1, 0, K, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_sparse_projector_create(&p, 1, D, 0, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_sparse_projector_create(&p, 1, SIZE_MAX, K, 1), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_sparse_projector_create(&p, 1, D, (size_t)1 << 40, 1), WN_ERR_INVALID_ARGUMENT);

  EXPECT_OK(wn_sparse_projector_create(&p, 1, D, K, 1));
  float x[D], out[K];
  uint64_t state = 42;
  for (int i = 0; i < D; i++) x[i] = uniform(&state);
  EXPECT_STATUS(wn_sparse_projector_project_piece_f32(p, NULL, 1, 0, D, out, K, 0), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_sparse_projector_project_piece_f32(p, x, 1, 0, D, NULL, K, 0), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_sparse_projector_project_piece_f32(p, x, 2, 0, D / 2, out, K, 0), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_STATUS(wn_sparse_projector_project_piece_f32(p, x, 1, 1, D, out, K, 0), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_sparse_projector_project_piece_f32(p, x, 1, 0, 0, out, K, 0), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_sparse_projector_project_piece_f32(p, x, SIZE_MAX / 8, 0, D, out, K, 0), WN_ERR_OUT_OF_MEMORY);
  EXPECT_STATUS(wn_sparse_projector_project_piece_f32(p, x, SIZE_MAX, 0, D, out, K, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_OK(wn_sparse_projector_project_piece_f32(p, x, 0, 0, D, out, 0, 0)); /* zero rows */
  x[17] = NAN;
  EXPECT_STATUS(wn_sparse_projector_project_piece_f32(p, x, 1, 0, D, out, K, 0), WN_ERR_NON_FINITE);
  EXPECT_TRUE(strstr(wn_sparse_projector_last_error(p), "row 0") != NULL);
  size_t d = 0;
  EXPECT_STATUS(wn_sparse_projector_dims(p, &d, NULL, &d), WN_ERR_NULL_POINTER);

  /* Stale and foreign handles are refused, not dereferenced. */
  wn_sparse_projector *stale = p;
  wn_sparse_projector_free(p);
  wn_sparse_projector_free(stale);
  wn_sparse_projector_free(NULL);
  EXPECT_STATUS(wn_sparse_projector_dims(stale, &d, &d, &d), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strlen(wn_sparse_projector_last_error(NULL)) > 0);
  wn_projector *dense = NULL;
  EXPECT_OK(wn_projector_create(&dense, 0, 1, D, K, 0));
  EXPECT_STATUS(wn_sparse_projector_dims((wn_sparse_projector *)dense, &d, &d, &d), WN_ERR_INVALID_ARGUMENT);
  wn_sparse_projector_free((wn_sparse_projector *)dense); /* not sparse: ignored */
  EXPECT_OK(wn_projector_dims(dense, &d, &d));
  wn_projector_free(dense);
}

/* The diversity method is an engine parameter with three values. */
static void test_diversity_method_parameter(void) {
  int64_t ids[4] = {0, 1, 2, 3};
  wn_engine *e = NULL;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, 4, 0, 8, 1));
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_DIVERSITY_METHOD, WN_DIVERSITY_BLOCKED));
  double v = -1;
  EXPECT_OK(wn_engine_get_param_f64(e, WN_PARAM_DIVERSITY_METHOD, &v));
  EXPECT_TRUE(v == WN_DIVERSITY_BLOCKED);
  EXPECT_STATUS(wn_engine_set_param_i64(e, WN_PARAM_DIVERSITY_METHOD, 3), WN_ERR_INVALID_ARGUMENT);
  wn_engine_free(e);
}

int main(void) {
  test_map_structure();
  test_pieces_and_halves();
  test_errors();
  test_diversity_method_parameter();
  return finish("test_sparse");
}
