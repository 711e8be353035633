/*
** The parameter table through the C ABI: every key is enumerated with
** wn_param_name / wn_param_bounds (keys 1, 2, ... until NULL), a new engine
** holds wn_param_default, its bounds
** are accepted by wn_engine_set_param_f64 and read back, values just
** outside are refused with the key and bounds in the last error, and the
** seed takes every uint64_t through either setter.
*/
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

/* Whether `text` holds `value` as Swift prints doubles: whole numbers below
** 1e16 as "%.1f" ("1000000.0"), others in the shortest "%g" form that reads
** back exactly ("1e-06", "0.9999999999999998", "1.844674407370955e+19"). */
static int mentions_bound(const char *text, double value) {
  char s[64];
  snprintf(s, sizeof s, "%.1f", value);
  if (strstr(text, s) != NULL) return 1;
  for (int digits = 1; digits <= 17; digits++) {
    snprintf(s, sizeof s, "%.*g", digits, value);
    if (strtod(s, NULL) == value) return strstr(text, s) != NULL;
  }
  return 0;
}

static void test_enumeration(void) {
  int32_t key = 1;
  while (wn_param_name(key) != NULL) key++;
  const int32_t count = key - 1;
  EXPECT_TRUE(count == WN_PARAM_DIVERSITY_METHOD); /* the last key, no gaps */
  EXPECT_TRUE(wn_param_name(0) == NULL && wn_param_name(-1) == NULL);
  for (int32_t k = count + 1; k < count + 100; k++) EXPECT_TRUE(wn_param_name(k) == NULL);
  double lo, hi;
  int32_t flags;
  EXPECT_STATUS(wn_param_bounds(count + 1, &lo, &hi, &flags), WN_ERR_INVALID_ARGUMENT);
  for (int32_t k = 1; k <= count; k++) {
    const char *name = wn_param_name(k);
    EXPECT_TRUE(name != NULL && *name != 0 && name == wn_param_name(k)); /* static */
    EXPECT_OK(wn_param_bounds(k, &lo, &hi, &flags));
    EXPECT_TRUE(lo < hi && isfinite(lo) && isfinite(hi));
    EXPECT_TRUE((flags & ~(WN_PARAM_FLAG_INTEGER | WN_PARAM_FLAG_LOWER_OPEN)) == 0);
  }
}

static void test_bounds_are_accepted_and_values_outside_refused(void) {
  int64_t ids[3] = {1, 2, 3};
  wn_engine *e = NULL;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, 3, 0, 2, 1));
  for (int32_t k = 1; wn_param_name(k) != NULL; k++) {
    double lo, hi, v = -1, start = -1;
    int32_t flags;
    EXPECT_OK(wn_param_bounds(k, &lo, &hi, &flags));
    /* A new engine holds the default, and the default is inside the bounds. */
    EXPECT_OK(wn_param_default(k, &start));
    EXPECT_OK(wn_engine_get_param_f64(e, k, &v));
    EXPECT_TRUE(v == start && start <= hi);
    EXPECT_TRUE((flags & WN_PARAM_FLAG_LOWER_OPEN) ? start > lo : start >= lo);
    EXPECT_OK(wn_engine_set_param_f64(e, k, hi));
    EXPECT_OK(wn_engine_get_param_f64(e, k, &v));
    EXPECT_TRUE(v == hi);
    if (!(flags & WN_PARAM_FLAG_LOWER_OPEN)) {
      EXPECT_OK(wn_engine_set_param_f64(e, k, lo));
      EXPECT_OK(wn_engine_get_param_f64(e, k, &v));
      EXPECT_TRUE(v == lo);
    }
    const double below = (flags & WN_PARAM_FLAG_LOWER_OPEN) ? lo : nextafter(lo, -INFINITY);
    const double outside[3] = {below, nextafter(hi, INFINITY), NAN};
    for (int i = 0; i < 3; i++) {
      EXPECT_STATUS(wn_engine_set_param_f64(e, k, outside[i]), WN_ERR_INVALID_ARGUMENT);
      const char *why = wn_engine_last_error(e);
      EXPECT_TRUE(strstr(why, wn_param_name(k)) != NULL);
      EXPECT_TRUE(mentions_bound(why, lo) && mentions_bound(why, hi));
      EXPECT_TRUE(strcmp(why, wn_last_error()) == 0);
    }
    if (flags & WN_PARAM_FLAG_INTEGER) {
      EXPECT_STATUS(wn_engine_set_param_f64(e, k, lo + 0.5), WN_ERR_INVALID_ARGUMENT);
    }
  }
  wn_engine_free(e);
}

static void test_bounds_failures_write_nothing(void) {
  double lo = 7, hi = 8;
  int32_t flags = 9;
  EXPECT_STATUS(wn_param_bounds(0, &lo, &hi, &flags), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_param_bounds(WN_PARAM_POLICY, &lo, &hi, NULL), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_param_bounds(WN_PARAM_POLICY, &lo, NULL, &flags), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_param_bounds(WN_PARAM_POLICY, NULL, &hi, &flags), WN_ERR_NULL_POINTER);
  EXPECT_TRUE(lo == 7 && hi == 8 && flags == 9);
  EXPECT_STATUS(wn_param_default(0, &lo), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_param_default(WN_PARAM_DIVERSITY_METHOD + 1, &lo), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_param_default(WN_PARAM_SEED, NULL), WN_ERR_NULL_POINTER);
  EXPECT_TRUE(lo == 7);
  EXPECT_OK(wn_param_default(WN_PARAM_SELECT_FRACTION, &lo));
  EXPECT_TRUE(lo == 0.05);
}

static void test_the_seed_takes_every_uint64(void) {
  int64_t ids[2] = {1, 2};
  wn_engine *e = NULL;
  double lo, hi, v;
  int32_t flags;
  EXPECT_OK(wn_engine_create(&e, ids, NULL, 2, 0, 2, 1));
  EXPECT_OK(wn_param_bounds(WN_PARAM_SEED, &lo, &hi, &flags));
  EXPECT_TRUE(lo == 0 && hi == 0x1.fffffffffffffp63 && flags == WN_PARAM_FLAG_INTEGER);
  EXPECT_OK(wn_engine_set_param_i64(e, WN_PARAM_SEED, -1)); /* UINT64_MAX */
  EXPECT_OK(wn_engine_get_param_f64(e, WN_PARAM_SEED, &v));
  EXPECT_TRUE(v == 0x1p64); /* UINT64_MAX, rounded to double */
  EXPECT_OK(wn_engine_set_param_f64(e, WN_PARAM_SEED, 0x1p60));
  EXPECT_OK(wn_engine_get_param_f64(e, WN_PARAM_SEED, &v));
  EXPECT_TRUE(v == 0x1p60);
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_SEED, 0x1p64), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_engine_set_param_f64(e, WN_PARAM_SEED, -1), WN_ERR_INVALID_ARGUMENT);
  wn_engine_free(e);
}

static void test_status_names(void) {
  EXPECT_TRUE(strcmp(wn_status_string(WN_OK), "ok") == 0);
  EXPECT_TRUE(strcmp(wn_status_string(WN_ERR_INVALID_ARGUMENT), "invalid argument") == 0);
  EXPECT_TRUE(strcmp(wn_status_string(WN_ERR_INTERNAL), "internal error") == 0);
  EXPECT_TRUE(wn_status_string(WN_ERR_SHAPE) == wn_status_string(WN_ERR_SHAPE)); /* static */
  EXPECT_TRUE(strcmp(wn_status_string(-12), "unknown status") == 0);
}

int main(void) {
  test_enumeration();
  test_bounds_are_accepted_and_values_outside_refused();
  test_bounds_failures_write_nothing();
  test_the_seed_takes_every_uint64();
  test_status_names();
  return finish("test_params");
}
