/*
** The Kronecker-factored curvature (wn_curvature_*, DESIGN 2.9) through the
** C ABI: a full create / accumulate / fit / corrections / whiten / features /
** save / load cycle checked against an explicit computation in double (C
** and S from the factors, linear solves by Gaussian elimination: no
** eigensolver needed), and every error path of every wn_curvature_*
** function, each followed by a non-empty last-error message.
*/
#define _DEFAULT_SOURCE /* mkdtemp */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* A failure of a call without a handle: its status and a message. */
#define EXPECT_FAIL(call, expected)                                            \
  do {                                                                         \
    EXPECT_STATUS(call, expected);                                             \
    EXPECT_TRUE(strlen(wn_last_error()) > 0);                                  \
  } while (0)

/* A failure of a call on curvature `h`: the status, and the message both on
** the thread and on the handle. */
#define EXPECT_FAIL_ON(h, call, expected)                                      \
  do {                                                                         \
    EXPECT_FAIL(call, expected);                                               \
    EXPECT_TRUE(strlen(wn_curvature_last_error(h)) > 0);                       \
  } while (0)

enum { L = 2, S_FIT = 8, T_FIT = 21, S_Q = 3, T_Q = 7, MAXD = 3, FDIM = 3 * 2 + 2 * 3 };

static const uint64_t layer_ids[L] = {7, 9};
static const size_t d_in[L] = {3, 2}, d_out[L] = {2, 3};
static const size_t fit_counts[S_FIT] = {3, 1, 4, 2, 5, 1, 3, 2};
static const size_t q_counts[S_Q] = {2, 0, 5};
static float fit_a[L][T_FIT * MAXD], fit_d[L][T_FIT * MAXD];
static float q_a[L][T_Q * MAXD], q_d[L][T_Q * MAXD];
static char dir[64];

static void fill(float *x, size_t n, uint64_t *state) {
  for (size_t i = 0; i < n; i++) x[i] = uniform(state);
}

static void make_inputs(void) {
  uint64_t s = 2026;
  for (int l = 0; l < L; l++) {
    fill(fit_a[l], T_FIT * d_in[l], &s);
    fill(fit_d[l], T_FIT * d_out[l], &s);
    fill(q_a[l], T_Q * d_in[l], &s);
    fill(q_d[l], T_Q * d_out[l], &s);
  }
}

/* Pointer arrays of a batch, in layer order. */
typedef struct {
  const float *a[L], *d[L];
} ptrs;

static ptrs fit_ptrs(void) {
  ptrs p = {{fit_a[0], fit_a[1]}, {fit_d[0], fit_d[1]}};
  return p;
}

static ptrs q_ptrs(void) {
  ptrs p = {{q_a[0], q_a[1]}, {q_d[0], q_d[1]}};
  return p;
}

/* ---- double-precision reference ------------------------------------------ */

/* X^T X / tokens (n x n) of a T x n row-major float matrix. */
static void gram(const float *x, size_t rows, size_t n, double *out) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t t = 0; t < rows; t++) s += (double)x[t * n + i] * x[t * n + j];
      out[i * n + j] = s / (double)rows;
    }
}

/* G_s = D_s^T A_s (dout x din) of sample s. */
static void gradient(const float *a, const float *d, const size_t *counts, int s, size_t din,
                     size_t dout, double *g) {
  size_t r0 = 0;
  for (int i = 0; i < s; i++) r0 += counts[i];
  for (size_t o = 0; o < dout; o++)
    for (size_t i = 0; i < din; i++) {
      double v = 0;
      for (size_t t = r0; t < r0 + counts[s]; t++) v += (double)d[t * dout + o] * a[t * din + i];
      g[o * din + i] = v;
    }
}

/* Solves M x = b (n x n, n <= 16) by Gaussian elimination with partial
** pivoting; M and b are copied. */
static void solve(const double *m, const double *b, size_t n, double *x) {
  double a[16 * 17];
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < n; j++) a[i * (n + 1) + j] = m[i * n + j];
    a[i * (n + 1) + n] = b[i];
  }
  for (size_t c = 0; c < n; c++) {
    size_t p = c;
    for (size_t r = c + 1; r < n; r++)
      if (fabs(a[r * (n + 1) + c]) > fabs(a[p * (n + 1) + c])) p = r;
    for (size_t j = 0; j <= n; j++) {
      double t = a[c * (n + 1) + j];
      a[c * (n + 1) + j] = a[p * (n + 1) + j];
      a[p * (n + 1) + j] = t;
    }
    for (size_t r = c + 1; r < n; r++) {
      double f = a[r * (n + 1) + c] / a[c * (n + 1) + c];
      for (size_t j = c; j <= n; j++) a[r * (n + 1) + j] -= f * a[c * (n + 1) + j];
    }
  }
  for (size_t i = n; i-- > 0;) {
    double s = a[i * (n + 1) + n];
    for (size_t j = i + 1; j < n; j++) s -= a[i * (n + 1) + j] * x[j];
    x[i] = s / a[i * (n + 1) + i];
  }
}

static int close_rel(double got, double want, double tol) {
  return fabs(got - want) <= tol * fmax(fabs(want), 1e-3);
}

/* ---- the cycle ------------------------------------------------------------ */

static void accumulate_fit(wn_curvature *c) {
  ptrs p = fit_ptrs();
  /* In two batches (samples 0-2 and 3-7), layers in reverse order once. */
  size_t split = 3, t0 = fit_counts[0] + fit_counts[1] + fit_counts[2];
  EXPECT_OK(wn_curvature_accumulate_f32(c, split, fit_counts, t0, L, layer_ids, p.a, p.d));
  const uint64_t rev[L] = {9, 7};
  const float *ra[L] = {fit_a[1] + t0 * d_in[1], fit_a[0] + t0 * d_in[0]};
  const float *rd[L] = {fit_d[1] + t0 * d_out[1], fit_d[0] + t0 * d_out[0]};
  EXPECT_OK(wn_curvature_accumulate_f32(c, S_FIT - split, fit_counts + split, T_FIT - t0, L, rev,
                                        ra, rd));
}

static void test_cycle(void) {
  wn_curvature *c = NULL;
  EXPECT_OK(wn_curvature_create(&c, L, layer_ids, d_in, d_out));
  EXPECT_TRUE(c != NULL);
  EXPECT_TRUE(strcmp(wn_curvature_last_error(c), "") == 0);
  int32_t phase = -1;
  size_t tokens = 9, samples = 9, corr = 9, fdim = 0, count = 0;
  EXPECT_OK(wn_curvature_info(c, &phase, &tokens, &samples, &corr, &fdim, &count));
  EXPECT_TRUE(phase == WN_CURVATURE_ACCUMULATING && tokens == 0 && samples == 0 && corr == 0);
  EXPECT_TRUE(fdim == FDIM && count == L);
  uint64_t ids_out[L];
  size_t din_out[L], dout_out[L];
  EXPECT_OK(wn_curvature_layers(c, ids_out, din_out, dout_out, L));
  for (int l = 0; l < L; l++)
    EXPECT_TRUE(ids_out[l] == layer_ids[l] && din_out[l] == d_in[l] && dout_out[l] == d_out[l]);

  accumulate_fit(c);
  EXPECT_OK(wn_curvature_info(c, &phase, &tokens, &samples, &corr, NULL, NULL));
  EXPECT_TRUE(phase == WN_CURVATURE_ACCUMULATING && tokens == T_FIT && samples == S_FIT);
  char path_acc[128];
  snprintf(path_acc, sizeof path_acc, "%s/accumulating.wnkfac", dir);
  EXPECT_OK(wn_curvature_save(c, path_acc));
  EXPECT_OK(wn_curvature_fit(c));
  EXPECT_OK(wn_curvature_info(c, &phase, NULL, NULL, NULL, NULL, NULL));
  EXPECT_TRUE(phase == WN_CURVATURE_FITTED);

  /* The reference: C and S in double. */
  double C[L][9], S[L][9];
  for (int l = 0; l < L; l++) {
    gram(fit_a[l], T_FIT, d_in[l], C[l]);
    gram(fit_d[l], T_FIT, d_out[l], S[l]);
  }

  /* Whitening an identity gives M = (X + lambda I)^-1/2: M (X + lambda I) M = I. */
  {
    const double lam = 0.25;
    float eye_a[L][9] = {{0}}, eye_d[L][9] = {{0}}, out_a[L][9], out_d[L][9];
    for (int l = 0; l < L; l++)
      for (size_t i = 0; i < 3; i++) {
        if (i < d_in[l]) eye_a[l][i * d_in[l] + i] = 1;
        if (i < d_out[l]) eye_d[l][i * d_out[l] + i] = 1;
      }
    const float *ia[L] = {eye_a[0], eye_a[1]}, *id[L] = {eye_d[0], eye_d[1]};
    float *oa[L] = {out_a[0], out_a[1]}, *od[L] = {out_d[0], out_d[1]};
    EXPECT_OK(wn_curvature_whiten_f32(c, lam, WN_DAMPING_ABSOLUTE, 3, L, layer_ids, ia, id, oa, od, 3));
    for (int l = 0; l < L; l++)
      for (int side = 0; side < 2; side++) {
        size_t n = side == 0 ? d_in[l] : d_out[l];
        const float *m = side == 0 ? out_a[l] : out_d[l];
        const double *x = side == 0 ? C[l] : S[l];
        double worst = 0;
        for (size_t i = 0; i < n; i++)
          for (size_t j = 0; j < n; j++) {
            double v = 0;
            for (size_t p = 0; p < n; p++)
              for (size_t q = 0; q < n; q++)
                v += m[i * n + p] * (x[p * n + q] + (p == q ? lam : 0)) * m[q * n + j];
            worst = fmax(worst, fabs(v - (i == j)));
          }
        EXPECT_TRUE(worst < 1e-4);
      }
  }

  /* Whitened gradients: <G_w,i, G_w,j> = g_i^T vec((S+l_S)^-1 G_j (C+l_C)^-1). */
  ptrs q = q_ptrs();
  float wa[L][T_Q * MAXD], wd[L][T_Q * MAXD];
  float *oa[L] = {wa[0], wa[1]}, *od[L] = {wd[0], wd[1]};
  const double lam_abs = 0.3;
  EXPECT_OK(wn_curvature_whiten_f32(c, lam_abs, WN_DAMPING_ABSOLUTE, T_Q, L, NULL, q.a, q.d, oa, od,
                                    T_Q));
  for (int l = 0; l < L; l++) {
    size_t di = d_in[l], dout = d_out[l];
    double cl[9], sl[9];
    for (size_t i = 0; i < di * di; i++) cl[i] = C[l][i] + (i % (di + 1) == 0 ? lam_abs : 0);
    for (size_t i = 0; i < dout * dout; i++) sl[i] = S[l][i] + (i % (dout + 1) == 0 ? lam_abs : 0);
    for (int i = 0; i < S_Q; i++)
      for (int j = 0; j < S_Q; j++) {
        double gi[9], gj[9], gwi[9], gwj[9];
        gradient(q_a[l], q_d[l], q_counts, i, di, dout, gi);
        gradient(q_a[l], q_d[l], q_counts, j, di, dout, gj);
        gradient(wa[l], wd[l], q_counts, i, di, dout, gwi);
        gradient(wa[l], wd[l], q_counts, j, di, dout, gwj);
        double got = 0;
        for (size_t k = 0; k < di * dout; k++) got += gwi[k] * gwj[k];
        /* Y = S^-1 G_j column by column, then Z = Y C^-1 row by row (C symmetric). */
        double y[9], z[9], col[3], sol[3];
        for (size_t c2 = 0; c2 < di; c2++) {
          for (size_t o = 0; o < dout; o++) col[o] = gj[o * di + c2];
          solve(sl, col, dout, sol);
          for (size_t o = 0; o < dout; o++) y[o * di + c2] = sol[o];
        }
        for (size_t o = 0; o < dout; o++) solve(cl, y + o * di, di, z + o * di);
        double want = 0;
        for (size_t k = 0; k < di * dout; k++) want += gi[k] * z[k];
        EXPECT_TRUE(close_rel(got, want, 1e-4));
      }
  }

  /* K-FAC eigenbasis features with absolute damping: <f_i, f_j> =
  ** g_i^T (S kron C + lambda I)^-1 g_j, row-major vec (index o*d_in + i). */
  float feats[S_Q * FDIM];
  EXPECT_OK(wn_curvature_features_f32(c, WN_CURVATURE_KFAC, lam_abs, WN_DAMPING_ABSOLUTE, S_Q,
                                      q_counts, T_Q, L, NULL, q.a, q.d, feats, S_Q * FDIM));
  for (int k = 0; k < FDIM; k++) EXPECT_TRUE(feats[1 * FDIM + k] == 0); /* no tokens */
  size_t offset = 0;
  for (int l = 0; l < L; l++) {
    size_t di = d_in[l], dout = d_out[l], n = di * dout;
    double h[36];
    for (size_t r = 0; r < n; r++)
      for (size_t c2 = 0; c2 < n; c2++) {
        size_t o1 = r / di, i1 = r % di, o2 = c2 / di, i2 = c2 % di;
        h[r * n + c2] = S[l][o1 * dout + o2] * C[l][i1 * di + i2] + (r == c2 ? lam_abs : 0);
      }
    for (int i = 0; i < S_Q; i++)
      for (int j = 0; j < S_Q; j++) {
        double gi[9], gj[9], x[9];
        gradient(q_a[l], q_d[l], q_counts, i, di, dout, gi);
        gradient(q_a[l], q_d[l], q_counts, j, di, dout, gj);
        solve(h, gj, n, x);
        double want = 0, got = 0;
        for (size_t k = 0; k < n; k++) want += gi[k] * x[k];
        for (size_t k = 0; k < n; k++)
          got += (double)feats[i * FDIM + offset + k] * feats[j * FDIM + offset + k];
        EXPECT_TRUE(close_rel(got, want, 1e-4));
      }
    offset += n;
  }

  /* EK-FAC: no corrections yet. */
  float ek[S_FIT * FDIM], ek2[S_FIT * FDIM];
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, WN_CURVATURE_EKFAC, 0.1, WN_DAMPING_RELATIVE, S_Q,
                                              q_counts, T_Q, L, NULL, q.a, q.d, feats, S_Q * FDIM),
                 WN_ERR_BAD_STATE);
  ptrs f = fit_ptrs();
  EXPECT_OK(wn_curvature_accumulate_corrections_f32(c, S_FIT, fit_counts, T_FIT, L, NULL, f.a, f.d));
  EXPECT_OK(wn_curvature_info(c, NULL, NULL, NULL, &corr, NULL, NULL));
  EXPECT_TRUE(corr == S_FIT);
  /* Lambda_k = mean_s x_sk^2, so with a tiny damping sum_s |f_s|^2 over the
  ** fit set = S_FIT * feature_dim (every Lambda_k > 0 here). */
  EXPECT_OK(wn_curvature_features_f32(c, WN_CURVATURE_EKFAC, 1e-7, WN_DAMPING_ABSOLUTE, S_FIT,
                                      fit_counts, T_FIT, L, NULL, f.a, f.d, ek, S_FIT * FDIM));
  double total = 0;
  for (int k = 0; k < S_FIT * FDIM; k++) total += (double)ek[k] * ek[k];
  EXPECT_TRUE(close_rel(total, (double)S_FIT * FDIM, 1e-3));
  EXPECT_OK(wn_curvature_features_f32(c, WN_CURVATURE_EKFAC, 0.1, WN_DAMPING_RELATIVE, S_FIT,
                                      fit_counts, T_FIT, L, NULL, f.a, f.d, ek, S_FIT * FDIM));

  /* Save and load in the fitted phase with corrections: bit-identical. */
  char path[128];
  snprintf(path, sizeof path, "%s/fit.wnkfac", dir);
  EXPECT_OK(wn_curvature_save(c, path));
  wn_curvature *d = NULL;
  EXPECT_OK(wn_curvature_load(&d, path));
  EXPECT_TRUE(d != NULL && d != c);
  int32_t phase2;
  size_t tokens2, samples2, corr2, fdim2, count2;
  EXPECT_OK(wn_curvature_info(d, &phase2, &tokens2, &samples2, &corr2, &fdim2, &count2));
  EXPECT_TRUE(phase2 == WN_CURVATURE_FITTED && tokens2 == T_FIT && samples2 == S_FIT);
  EXPECT_TRUE(corr2 == S_FIT && fdim2 == FDIM && count2 == L);
  EXPECT_OK(wn_curvature_layers(d, ids_out, din_out, dout_out, L));
  for (int l = 0; l < L; l++)
    EXPECT_TRUE(ids_out[l] == layer_ids[l] && din_out[l] == d_in[l] && dout_out[l] == d_out[l]);
  EXPECT_OK(wn_curvature_features_f32(d, WN_CURVATURE_EKFAC, 0.1, WN_DAMPING_RELATIVE, S_FIT,
                                      fit_counts, T_FIT, L, NULL, f.a, f.d, ek2, S_FIT * FDIM));
  EXPECT_TRUE(memcmp(ek, ek2, sizeof ek) == 0);
  float feats2[S_Q * FDIM];
  EXPECT_OK(wn_curvature_features_f32(d, WN_CURVATURE_KFAC, lam_abs, WN_DAMPING_ABSOLUTE, S_Q,
                                      q_counts, T_Q, L, NULL, q.a, q.d, feats2, S_Q * FDIM));
  EXPECT_TRUE(memcmp(feats, feats2, sizeof feats) == 0);
  float wa2[L][T_Q * MAXD], wd2[L][T_Q * MAXD];
  float *oa2[L] = {wa2[0], wa2[1]}, *od2[L] = {wd2[0], wd2[1]};
  EXPECT_OK(wn_curvature_whiten_f32(d, lam_abs, WN_DAMPING_ABSOLUTE, T_Q, L, NULL, q.a, q.d, oa2,
                                    od2, T_Q));
  for (int l = 0; l < L; l++) {
    EXPECT_TRUE(memcmp(wa[l], wa2[l], T_Q * d_in[l] * sizeof(float)) == 0);
    EXPECT_TRUE(memcmp(wd[l], wd2[l], T_Q * d_out[l] * sizeof(float)) == 0);
  }
  /* Corrections twice over the same set: the same Lambda, the same features. */
  EXPECT_OK(wn_curvature_accumulate_corrections_f32(d, S_FIT, fit_counts, T_FIT, L, NULL, f.a, f.d));
  EXPECT_OK(wn_curvature_features_f32(d, WN_CURVATURE_EKFAC, 0.1, WN_DAMPING_RELATIVE, S_FIT,
                                      fit_counts, T_FIT, L, NULL, f.a, f.d, ek2, S_FIT * FDIM));
  for (int k = 0; k < S_FIT * FDIM; k++) EXPECT_TRUE(fabsf(ek[k] - ek2[k]) <= 1e-5f * (1 + fabsf(ek[k])));
  wn_curvature_free(d);

  /* The file saved while accumulating loads, fits, and agrees with c. */
  wn_curvature *e = NULL;
  EXPECT_OK(wn_curvature_load(&e, path_acc));
  EXPECT_OK(wn_curvature_info(e, &phase2, &tokens2, &samples2, &corr2, NULL, NULL));
  EXPECT_TRUE(phase2 == WN_CURVATURE_ACCUMULATING && tokens2 == T_FIT && samples2 == S_FIT && corr2 == 0);
  EXPECT_OK(wn_curvature_fit(e));
  EXPECT_OK(wn_curvature_features_f32(e, WN_CURVATURE_KFAC, lam_abs, WN_DAMPING_ABSOLUTE, S_Q,
                                      q_counts, T_Q, L, NULL, q.a, q.d, feats2, S_Q * FDIM));
  EXPECT_TRUE(memcmp(feats, feats2, sizeof feats) == 0);
  wn_curvature_free(e);
  wn_curvature_free(c);
}

/* ---- errors --------------------------------------------------------------- */

static void test_create_errors(void) {
  wn_curvature *c = (wn_curvature *)&c; /* must be reset to NULL on failure */
  const uint64_t dup[2] = {7, 7};
  const size_t zero[2] = {3, 0}, huge[1] = {(size_t)1 << 31}, big[1] = {2000000};
  const size_t too_big[1] = {SIZE_MAX};
  EXPECT_FAIL(wn_curvature_create(NULL, L, layer_ids, d_in, d_out), WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_create(&c, 0, layer_ids, d_in, d_out), WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(c == NULL);
  c = (wn_curvature *)&c;
  EXPECT_FAIL(wn_curvature_create(&c, L, NULL, d_in, d_out), WN_ERR_NULL_POINTER);
  EXPECT_TRUE(c == NULL);
  EXPECT_FAIL(wn_curvature_create(&c, L, layer_ids, NULL, d_out), WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_create(&c, L, layer_ids, d_in, NULL), WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_create(&c, SIZE_MAX, layer_ids, d_in, d_out), WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL(wn_curvature_create(&c, L, dup, d_in, d_out), WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL(wn_curvature_create(&c, L, layer_ids, zero, d_out), WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL(wn_curvature_create(&c, L, layer_ids, d_in, zero), WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL(wn_curvature_create(&c, 1, layer_ids, too_big, d_out), WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL(wn_curvature_create(&c, 1, layer_ids, huge, d_out), WN_ERR_UNSUPPORTED);
  EXPECT_FAIL(wn_curvature_create(&c, 1, layer_ids, d_in, huge), WN_ERR_UNSUPPORTED);
  EXPECT_FAIL(wn_curvature_create(&c, 1, layer_ids, big, d_out), WN_ERR_OUT_OF_MEMORY);
  EXPECT_TRUE(c == NULL);
}

static void test_handle_errors(void) {
  wn_curvature *c = NULL;
  EXPECT_OK(wn_curvature_create(&c, L, layer_ids, d_in, d_out));
  ptrs p = fit_ptrs();
  size_t n = 0;
  float out[S_FIT * FDIM], wa[L][T_FIT * MAXD], wd[L][T_FIT * MAXD];
  float *oa[L] = {wa[0], wa[1]}, *od[L] = {wd[0], wd[1]};
  char path[128];
  snprintf(path, sizeof path, "%s/h.wnkfac", dir);

  /* NULL handles. */
  EXPECT_FAIL(wn_curvature_info(NULL, NULL, &n, NULL, NULL, NULL, NULL), WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_layers(NULL, NULL, NULL, NULL, 0), WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_accumulate_f32(NULL, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d),
              WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_fit(NULL), WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_accumulate_corrections_f32(NULL, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d),
              WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_whiten_f32(NULL, 0.1, 0, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT),
              WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_features_f32(NULL, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                        out, S_FIT * FDIM),
              WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_save(NULL, path), WN_ERR_NULL_POINTER);
  EXPECT_TRUE(strlen(wn_curvature_last_error(NULL)) > 0);

  /* info and layers. */
  EXPECT_OK(wn_curvature_info(c, NULL, NULL, NULL, NULL, NULL, NULL));
  EXPECT_OK(wn_curvature_layers(c, NULL, NULL, NULL, 0));
  uint64_t ids[L];
  size_t dims[L];
  EXPECT_FAIL_ON(c, wn_curvature_layers(c, ids, NULL, NULL, 1), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_FAIL_ON(c, wn_curvature_layers(c, NULL, dims, NULL, 0), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_FAIL_ON(c, wn_curvature_layers(c, NULL, NULL, dims, 1), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_FAIL_ON(c, wn_curvature_layers(c, ids, NULL, NULL, SIZE_MAX), WN_ERR_INVALID_ARGUMENT);

  /* Out of order before the fit. */
  EXPECT_FAIL_ON(c, wn_curvature_fit(c), WN_ERR_BAD_STATE); /* no tokens */
  EXPECT_FAIL_ON(c, wn_curvature_accumulate_corrections_f32(c, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d),
                 WN_ERR_BAD_STATE);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_BAD_STATE);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                              out, S_FIT * FDIM),
                 WN_ERR_BAD_STATE);
  /* An empty batch is accepted and adds no token: fit still refused. */
  EXPECT_OK(wn_curvature_accumulate_f32(c, 0, NULL, 0, L, NULL, p.a, p.d));
  const size_t zeros[2] = {0, 0};
  EXPECT_OK(wn_curvature_accumulate_f32(c, 2, zeros, 0, L, NULL, p.a, p.d));
  EXPECT_FAIL_ON(c, wn_curvature_fit(c), WN_ERR_BAD_STATE);

  /* Batch errors: each leaves the sums as they were. */
  const float *null_a[L] = {fit_a[0], NULL};
  const uint64_t unknown[L] = {7, 8}, dup[L] = {7, 7};
  float nan_a[T_FIT * MAXD], inf_d[T_FIT * MAXD];
  memcpy(nan_a, fit_a[1], sizeof nan_a);
  memcpy(inf_d, fit_d[0], sizeof inf_d);
  nan_a[T_FIT * 2 - 1] = NAN;
  inf_d[4] = -INFINITY;
  const float *bad_a[L] = {fit_a[0], nan_a}, *bad_d[L] = {inf_d, fit_d[1]};
  for (int corrections = 0; corrections < 2; corrections++) {
    int32_t (*acc)(wn_curvature *, size_t, const size_t *, size_t, size_t, const uint64_t *,
                   const float *const *, const float *const *) =
        corrections ? wn_curvature_accumulate_corrections_f32 : wn_curvature_accumulate_f32;
    EXPECT_FAIL_ON(c, acc(c, S_FIT, NULL, T_FIT, L, NULL, p.a, p.d), WN_ERR_NULL_POINTER);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, L, NULL, NULL, p.d), WN_ERR_NULL_POINTER);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, L, NULL, p.a, NULL), WN_ERR_NULL_POINTER);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, L, NULL, null_a, p.d), WN_ERR_NULL_POINTER);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT - 1, L, NULL, p.a, p.d), WN_ERR_SHAPE);
    EXPECT_FAIL_ON(c, acc(c, 0, fit_counts, T_FIT, L, NULL, p.a, p.d), WN_ERR_SHAPE);
    EXPECT_FAIL_ON(c, acc(c, SIZE_MAX, fit_counts, T_FIT, L, NULL, p.a, p.d), WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, SIZE_MAX, L, NULL, p.a, p.d), WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, L, unknown, p.a, p.d), WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, L, dup, p.a, p.d), WN_ERR_INVALID_ARGUMENT);
    /* C and S need every layer; corrections may cover a subset (below). */
    if (!corrections)
      EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, 1, layer_ids, p.a, p.d), WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, 1, NULL, p.a, p.d), WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, 3, NULL, p.a, p.d), WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, L, NULL, bad_a, p.d), WN_ERR_NON_FINITE);
    EXPECT_FAIL_ON(c, acc(c, S_FIT, fit_counts, T_FIT, L, NULL, p.a, bad_d), WN_ERR_NON_FINITE);
    size_t tokens = 99, samples = 99, corr = 99;
    EXPECT_OK(wn_curvature_info(c, NULL, &tokens, &samples, &corr, NULL, NULL));
    EXPECT_TRUE(tokens == (corrections ? (size_t)T_FIT : 0));
    EXPECT_TRUE(samples == (corrections ? (size_t)S_FIT + 2 : 2));
    EXPECT_TRUE(corr == 0);
    if (!corrections) {
      EXPECT_OK(wn_curvature_accumulate_f32(c, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d));
      EXPECT_OK(wn_curvature_fit(c));
    }
  }
  /* Out of order after the fit. */
  EXPECT_FAIL_ON(c, wn_curvature_fit(c), WN_ERR_BAD_STATE);
  EXPECT_FAIL_ON(c, wn_curvature_accumulate_f32(c, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d),
                 WN_ERR_BAD_STATE);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, WN_CURVATURE_EKFAC, 0.1, 0, S_FIT, fit_counts, T_FIT,
                                              L, NULL, p.a, p.d, out, S_FIT * FDIM),
                 WN_ERR_BAD_STATE);

  /* whiten. */
  float *null_out[L] = {wa[0], NULL};
  EXPECT_OK(wn_curvature_whiten_f32(c, 0.1, WN_DAMPING_RELATIVE, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT));
  EXPECT_OK(wn_curvature_whiten_f32(c, 0.1, WN_DAMPING_RELATIVE, 0, L, NULL, p.a, p.d, oa, od, 0));
  {
    /* Any subset of the layers, each once: the same bits as the whole. */
    static float sa[T_FIT * MAXD], sd[T_FIT * MAXD];
    const uint64_t only9[1] = {9};
    const float *a9[1] = {fit_a[1]}, *d9[1] = {fit_d[1]};
    float *oa9[1] = {sa}, *od9[1] = {sd};
    EXPECT_OK(wn_curvature_whiten_f32(c, 0.1, WN_DAMPING_RELATIVE, T_FIT, 1, only9, a9, d9, oa9, od9, T_FIT));
    EXPECT_TRUE(memcmp(sa, wa[1], T_FIT * d_in[1] * sizeof(float)) == 0);
    EXPECT_TRUE(memcmp(sd, wd[1], T_FIT * d_out[1] * sizeof(float)) == 0);
    const uint64_t twice9[2] = {9, 9};
    const float *a99[2] = {fit_a[1], fit_a[1]}, *d99[2] = {fit_d[1], fit_d[1]};
    float *oa99[2] = {sa, sa}, *od99[2] = {sd, sd};
    EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, 2, twice9, a99, d99, oa99, od99, T_FIT),
                   WN_ERR_INVALID_ARGUMENT);
    EXPECT_OK(wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, 0, only9, a9, d9, oa9, od9, T_FIT)); /* none */
  }
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 2, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, -1, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, -0.1, 0, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, -1e-30, 1, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, NAN, 0, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, INFINITY, 1, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT - 1),
                 WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, p.a, p.d, oa, od, SIZE_MAX),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, SIZE_MAX, L, NULL, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, p.a, p.d, NULL, od, T_FIT),
                 WN_ERR_NULL_POINTER);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, p.a, p.d, oa, NULL, T_FIT),
                 WN_ERR_NULL_POINTER);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, p.a, p.d, null_out, od, T_FIT),
                 WN_ERR_NULL_POINTER);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, NULL, p.d, oa, od, T_FIT),
                 WN_ERR_NULL_POINTER);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, null_a, p.d, oa, od, T_FIT),
                 WN_ERR_NULL_POINTER);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, unknown, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, dup, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, 1, NULL, p.a, p.d, oa, od, T_FIT),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, bad_a, p.d, oa, od, T_FIT),
                 WN_ERR_NON_FINITE);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0.1, 0, T_FIT, L, NULL, p.a, bad_d, oa, od, T_FIT),
                 WN_ERR_NON_FINITE);

  /* features. */
  EXPECT_OK(wn_curvature_features_f32(c, WN_CURVATURE_KFAC, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL,
                                      p.a, p.d, out, S_FIT * FDIM));
  EXPECT_OK(wn_curvature_features_f32(c, WN_CURVATURE_KFAC, 0.1, 0, 0, NULL, 0, L, NULL, p.a, p.d,
                                      out, 0));
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 2, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                              out, S_FIT * FDIM),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, -1, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                              out, S_FIT * FDIM),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 7, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                              out, S_FIT * FDIM),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, -0.5, 1, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                              out, S_FIT * FDIM),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, NAN, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                              out, S_FIT * FDIM),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                              NULL, S_FIT * FDIM),
                 WN_ERR_NULL_POINTER);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                              out, S_FIT * FDIM - 1),
                 WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                              out, SIZE_MAX),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT + 1, L, NULL, p.a,
                                              p.d, out, S_FIT * FDIM),
                 WN_ERR_SHAPE);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, NULL, T_FIT, L, NULL, p.a, p.d, out,
                                              S_FIT * FDIM),
                 WN_ERR_NULL_POINTER);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, NULL,
                                              out, S_FIT * FDIM),
                 WN_ERR_NULL_POINTER);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, unknown, p.a,
                                              p.d, out, S_FIT * FDIM),
                 WN_ERR_INVALID_ARGUMENT);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, dup, p.a, p.d,
                                              out, S_FIT * FDIM),
                 WN_ERR_INVALID_ARGUMENT);
  {
    /* A subset of the layers: its blocks, equal to those of every layer. */
    float full[S_FIT * FDIM], part[S_FIT * FDIM];
    EXPECT_OK(wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d, full,
                                        S_FIT * FDIM));
    const uint64_t second[1] = {9};
    const float *pa1[1] = {p.a[1]}, *pd1[1] = {p.d[1]};
    const size_t w0 = d_in[0] * d_out[0], w1 = d_in[1] * d_out[1];
    EXPECT_OK(wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, 1, second, pa1, pd1,
                                        part, S_FIT * w1));
    int same = 1;
    for (size_t s = 0; s < S_FIT; s++)
      for (size_t i = 0; i < w1; i++) same &= part[s * w1 + i] == full[s * FDIM + w0 + i];
    EXPECT_TRUE(same);
    EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, 1, second, pa1,
                                                pd1, part, S_FIT * w1 - 1),
                   WN_ERR_BUFFER_TOO_SMALL);
    /* Without layer_ids, every layer is required. */
    EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, 1, NULL, p.a,
                                                p.d, out, S_FIT * FDIM),
                   WN_ERR_INVALID_ARGUMENT);
  }
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, bad_a,
                                              p.d, out, S_FIT * FDIM),
                 WN_ERR_NON_FINITE);

  /* save. */
  EXPECT_FAIL_ON(c, wn_curvature_save(c, NULL), WN_ERR_NULL_POINTER);
  EXPECT_FAIL_ON(c, wn_curvature_save(c, "/nonexistent-winnow-dir/sub/fit.wnkfac"), WN_ERR_IO);
  EXPECT_FAIL_ON(c, wn_curvature_save(c, dir), WN_ERR_IO); /* a directory */

  /* A stale handle and a handle of another type: refused, never used. */
  wn_factored_projector *fp = NULL;
  const size_t ranks[L] = {1, 1};
  EXPECT_OK(wn_factored_projector_create(&fp, L, layer_ids, d_in, d_out, ranks, ranks, 1, 0));
  wn_curvature *foreign = (wn_curvature *)fp;
  wn_curvature *stale = NULL;
  EXPECT_OK(wn_curvature_create(&stale, L, layer_ids, d_in, d_out));
  wn_curvature_free(stale);
  wn_curvature *bad[2] = {foreign, stale};
  for (int i = 0; i < 2; i++) {
    wn_curvature *h = bad[i];
    EXPECT_FAIL_ON(h, wn_curvature_info(h, NULL, &n, NULL, NULL, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(h, wn_curvature_layers(h, NULL, NULL, NULL, 0), WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(h, wn_curvature_accumulate_f32(h, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d),
                   WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(h, wn_curvature_fit(h), WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(h, wn_curvature_accumulate_corrections_f32(h, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d),
                   WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(h, wn_curvature_whiten_f32(h, 0.1, 0, T_FIT, L, NULL, p.a, p.d, oa, od, T_FIT),
                   WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(h, wn_curvature_features_f32(h, 0, 0.1, 0, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d,
                                                out, S_FIT * FDIM),
                   WN_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL_ON(h, wn_curvature_save(h, path), WN_ERR_INVALID_ARGUMENT);
    wn_curvature_free(h); /* ignored */
  }
  EXPECT_TRUE(access(path, F_OK) != 0); /* nothing was saved */
  /* The projector survived wn_curvature_free of it. */
  size_t fdim = 0;
  EXPECT_OK(wn_factored_projector_dims(fp, &fdim, NULL, NULL, 0));
  EXPECT_TRUE(fdim == L);
  wn_factored_projector_free(fp);
  wn_curvature_free(NULL);
  wn_curvature_free(c);
}

/* Zero damping of a layer the fit set does not span is WN_ERR_NUMERICAL. */
static void test_rank_deficient(void) {
  wn_curvature *c = NULL;
  const uint64_t id = 1;
  const size_t di = 3, dout = 2, counts[1] = {1};
  EXPECT_OK(wn_curvature_create(&c, 1, &id, &di, &dout));
  const float a[3] = {1, 2, 3}, d[2] = {0.5f, -1};
  const float *pa[1] = {a}, *pd[1] = {d};
  EXPECT_OK(wn_curvature_accumulate_f32(c, 1, counts, 1, 1, NULL, pa, pd));
  EXPECT_OK(wn_curvature_fit(c));
  float oa[3], od[2], out[6];
  float *poa[1] = {oa}, *pod[1] = {od};
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0, WN_DAMPING_ABSOLUTE, 1, 1, NULL, pa, pd, poa, pod, 1),
                 WN_ERR_NUMERICAL);
  EXPECT_FAIL_ON(c, wn_curvature_whiten_f32(c, 0, WN_DAMPING_RELATIVE, 1, 1, NULL, pa, pd, poa, pod, 1),
                 WN_ERR_NUMERICAL);
  EXPECT_FAIL_ON(c, wn_curvature_features_f32(c, WN_CURVATURE_KFAC, 0, WN_DAMPING_ABSOLUTE, 1, counts, 1,
                                              1, NULL, pa, pd, out, 6),
                 WN_ERR_NUMERICAL);
  EXPECT_OK(wn_curvature_whiten_f32(c, 1e-3, WN_DAMPING_ABSOLUTE, 1, 1, NULL, pa, pd, poa, pod, 1));
  EXPECT_OK(wn_curvature_features_f32(c, WN_CURVATURE_KFAC, 1e-3, WN_DAMPING_ABSOLUTE, 1, counts, 1, 1,
                                      NULL, pa, pd, out, 6));
  for (int i = 0; i < 6; i++) EXPECT_TRUE(isfinite(out[i]));
  wn_curvature_free(c);
}

/* Corrections over an empty batch add nothing, and the fit saved after
** them loads (such a file used to hold corrections that its header's
** correction count of 0 disowned, and load refused it). */
static void test_empty_corrections_round_trip(void) {
  wn_curvature *c = NULL, *d = NULL;
  EXPECT_OK(wn_curvature_create(&c, L, layer_ids, d_in, d_out));
  ptrs p = fit_ptrs();
  EXPECT_OK(wn_curvature_accumulate_f32(c, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d));
  EXPECT_OK(wn_curvature_fit(c));
  EXPECT_OK(wn_curvature_accumulate_corrections_f32(c, 0, NULL, 0, L, NULL, p.a, p.d));
  size_t corr = 9;
  EXPECT_OK(wn_curvature_info(c, NULL, NULL, NULL, &corr, NULL, NULL));
  EXPECT_TRUE(corr == 0);
  char path[128];
  snprintf(path, sizeof path, "%s/empty.wnkfac", dir);
  EXPECT_OK(wn_curvature_save(c, path));
  EXPECT_OK(wn_curvature_load(&d, path));
  EXPECT_OK(wn_curvature_info(d, NULL, NULL, NULL, &corr, NULL, NULL));
  EXPECT_TRUE(corr == 0);
  float out[S_FIT * FDIM];
  EXPECT_FAIL_ON(d, wn_curvature_features_f32(d, WN_CURVATURE_EKFAC, 0.1, 0, S_FIT, fit_counts, T_FIT,
                                              L, NULL, p.a, p.d, out, S_FIT * FDIM),
                 WN_ERR_BAD_STATE);
  unlink(path);
  wn_curvature_free(d);
  wn_curvature_free(c);
}

static int write_file(const char *path, const unsigned char *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  size_t w = fwrite(bytes, 1, n, f);
  return fclose(f) == 0 && w == n;
}

static void expect_format(const char *path) {
  wn_curvature *c = (wn_curvature *)&c;
  EXPECT_FAIL(wn_curvature_load(&c, path), WN_ERR_FORMAT);
  EXPECT_TRUE(c == NULL);
  EXPECT_TRUE(strstr(wn_last_error(), path) != NULL); /* the message names the file */
}

static void test_load_errors(void) {
  wn_curvature *c = NULL;
  EXPECT_OK(wn_curvature_create(&c, L, layer_ids, d_in, d_out));
  ptrs p = fit_ptrs();
  EXPECT_OK(wn_curvature_accumulate_f32(c, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d));
  EXPECT_OK(wn_curvature_fit(c));
  EXPECT_OK(wn_curvature_accumulate_corrections_f32(c, S_FIT, fit_counts, T_FIT, L, NULL, p.a, p.d));
  char good[128], bad[128];
  snprintf(good, sizeof good, "%s/good.wnkfac", dir);
  snprintf(bad, sizeof bad, "%s/bad.wnkfac", dir);
  EXPECT_OK(wn_curvature_save(c, good));
  wn_curvature_free(c);

  FILE *f = fopen(good, "rb");
  EXPECT_TRUE(f != NULL);
  if (!f) return;
  unsigned char bytes[65536];
  size_t n = fread(bytes, 1, sizeof bytes, f);
  fclose(f);
  EXPECT_TRUE(n > 100 && n < sizeof bytes);

  /* One flipped bit at the start (magic), in the length, the header
  ** checksum, the header, the middle (payload) and the last byte. */
  size_t header_len = 0;
  for (int i = 0; i < 8; i++) header_len |= (size_t)bytes[8 + i] << (8 * i);
  const size_t positions[] = {0, 7, 8, 12, 20, 48, 48 + header_len / 2, 48 + header_len - 1,
                              48 + header_len, n / 2, n - 1};
  for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
    bytes[positions[i]] ^= 0x10;
    EXPECT_TRUE(write_file(bad, bytes, n));
    expect_format(bad);
    bytes[positions[i]] ^= 0x10;
  }
  const size_t lengths[] = {0, 1, 8, 47, 48, 48 + header_len, n - 4, n - 1};
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    EXPECT_TRUE(write_file(bad, bytes, lengths[i])); /* truncated */
    expect_format(bad);
  }
  bytes[n] = 0;
  EXPECT_TRUE(write_file(bad, bytes, n + 1)); /* padded */
  expect_format(bad);

  /* The good file still loads. */
  wn_curvature *d = NULL;
  EXPECT_OK(wn_curvature_load(&d, good));
  wn_curvature_free(d);

  d = (wn_curvature *)&d;
  EXPECT_FAIL(wn_curvature_load(NULL, good), WN_ERR_NULL_POINTER);
  EXPECT_FAIL(wn_curvature_load(&d, NULL), WN_ERR_NULL_POINTER);
  EXPECT_TRUE(d == NULL);
  d = (wn_curvature *)&d;
  EXPECT_FAIL(wn_curvature_load(&d, "/nonexistent-winnow-dir/fit.wnkfac"), WN_ERR_IO);
  EXPECT_TRUE(d == NULL);
  EXPECT_FAIL(wn_curvature_load(&d, dir), WN_ERR_IO); /* a directory */
  EXPECT_TRUE(d == NULL);
}

/* The whitening folded into a factored projector: it projects raw factors
** to the projection of the whitened factors (to rounding), and its errors. */
static void test_whitened_projector(void) {
  wn_curvature *c = NULL;
  EXPECT_OK(wn_curvature_create(&c, L, layer_ids, d_in, d_out));
  wn_factored_projector *base = NULL, *w = NULL, *other = NULL;
  const size_t kin[L] = {2, 2}, kout[L] = {2, 1};
  EXPECT_OK(wn_factored_projector_create(&base, L, layer_ids, d_in, d_out, kin, kout, 5,
                                         WN_PROJECTOR_RADEMACHER));
  /* Before the fit; then the argument errors. */
  EXPECT_STATUS(wn_curvature_whitened_projector(c, 0.1, WN_DAMPING_RELATIVE, base, &w),
                WN_ERR_BAD_STATE);
  EXPECT_TRUE(w == NULL);
  accumulate_fit(c);
  EXPECT_OK(wn_curvature_fit(c));
  EXPECT_STATUS(wn_curvature_whitened_projector(NULL, 0.1, WN_DAMPING_RELATIVE, base, &w),
                WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_curvature_whitened_projector(c, 0.1, WN_DAMPING_RELATIVE, base, NULL),
                WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_curvature_whitened_projector(c, 0.1, WN_DAMPING_RELATIVE, NULL, &w),
                WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_curvature_whitened_projector(c, 0.1, WN_DAMPING_RELATIVE,
                                                (const wn_factored_projector *)c, &w),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_curvature_whitened_projector(c, -1, WN_DAMPING_RELATIVE, base, &w),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_curvature_whitened_projector(c, 0.1, 7, base, &w), WN_ERR_INVALID_ARGUMENT);
  const uint64_t foreign[1] = {8};
  const size_t one[1] = {3};
  EXPECT_OK(wn_factored_projector_create(&other, 1, foreign, one, one, one, one, 5,
                                         WN_PROJECTOR_RADEMACHER));
  EXPECT_STATUS(wn_curvature_whitened_projector(c, 0.1, WN_DAMPING_RELATIVE, other, &w),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(wn_curvature_last_error(c)[0] != '\0');
  /* Folded == whiten, then project with the base projector. */
  EXPECT_OK(wn_curvature_whitened_projector(c, 0.1, WN_DAMPING_RELATIVE, base, &w));
  size_t fdim = 0;
  EXPECT_OK(wn_factored_projector_dims(w, &fdim, NULL, NULL, 0));
  ptrs q = q_ptrs();
  float folded[S_Q * 8], plain[S_Q * 8];
  float wa[L][T_Q * MAXD], wd[L][T_Q * MAXD];
  float *oa[L] = {wa[0], wa[1]}, *od[L] = {wd[0], wd[1]};
  EXPECT_OK(wn_factored_projector_project_f32(w, S_Q, q_counts, T_Q, L, NULL, q.a, q.d, folded,
                                              S_Q * 8));
  EXPECT_OK(wn_curvature_whiten_f32(c, 0.1, WN_DAMPING_RELATIVE, T_Q, L, NULL, q.a, q.d, oa, od,
                                    T_Q));
  const float *ca[L] = {wa[0], wa[1]}, *cd[L] = {wd[0], wd[1]};
  EXPECT_OK(wn_factored_projector_project_f32(base, S_Q, q_counts, T_Q, L, NULL, ca, cd, plain,
                                              S_Q * 8));
  double scale = 0;
  for (size_t i = 0; i < S_Q * fdim; i++) scale = fabs(plain[i]) > scale ? fabs(plain[i]) : scale;
  for (size_t i = 0; i < S_Q * fdim; i++) EXPECT_TRUE(fabs(folded[i] - plain[i]) <= 1e-4 * scale);
  /* It outlives the curvature. */
  wn_curvature_free(c);
  EXPECT_OK(wn_factored_projector_project_f32(w, S_Q, q_counts, T_Q, L, NULL, q.a, q.d, folded,
                                              S_Q * 8));
  wn_factored_projector_free(w);
  wn_factored_projector_free(other);
  wn_factored_projector_free(base);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/winnow-curvature-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  make_inputs();
  test_cycle();
  test_create_errors();
  test_handle_errors();
  test_rank_deficient();
  test_empty_corrections_round_trip();
  test_load_errors();
  test_whitened_projector();
  /* Clean up the files this test wrote. */
  const char *names[] = {"accumulating.wnkfac", "fit.wnkfac", "good.wnkfac", "bad.wnkfac", "h.wnkfac"};
  char path[128];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
  return finish("test_curvature");
}
