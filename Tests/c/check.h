/* Tiny assertion helpers shared by the C ABI tests. */
#ifndef WINNOW_TEST_CHECK_H
#define WINNOW_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "winnow.h"

static int g_checks = 0;
static int g_failures = 0;

/* Checks that `call` returns `expected`; prints the status names and the
** thread's last error message when it does not. */
#define EXPECT_STATUS(call, expected)                                          \
  do {                                                                         \
    int32_t s_ = (call);                                                       \
    g_checks++;                                                                \
    if (s_ != (expected)) {                                                    \
      g_failures++;                                                            \
      fprintf(stderr, "%s:%d: %s\n  returned %d (%s), expected %d (%s)\n"     \
              "  last error: %s\n", __FILE__, __LINE__, #call, s_,             \
              wn_status_string(s_), (int)(expected),                           \
              wn_status_string(expected), wn_last_error());                    \
    }                                                                          \
  } while (0)

#define EXPECT_OK(call) EXPECT_STATUS(call, WN_OK)

#define EXPECT_TRUE(cond)                                                      \
  do {                                                                         \
    g_checks++;                                                                \
    if (!(cond)) {                                                             \
      g_failures++;                                                            \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);      \
    }                                                                          \
  } while (0)

static int finish(const char *name) {
  printf("%s: %d checks, %d failures\n", name, g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}

/* A small deterministic generator (xorshift64*), uniform in [-1, 1). */
static inline float uniform(uint64_t *state) {
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  uint64_t x = *state * 0x2545F4914F6CDD1DULL;
  return (float)((double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

#endif
