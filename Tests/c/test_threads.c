/*
** Eight threads, each with its own projector, engine and scorer, run the
** same epochs at once. Each thread's plans and scores must equal the ones
** computed alone first (handles share nothing), and each thread's failure
** messages (wn_last_error) must be its own. Then the eight threads fail
** at once, over and over, on one shared sparse projector. Built by run.sh,
** and under ThreadSanitizer by sanitize.sh.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "winnow.h"

enum { THREADS = 8, ROUNDS = 6, N = 96, D = 40, K = 12 };

static atomic_int g_failures;
static int64_t g_ids[N];
static int32_t g_domains[N];
static float g_gradients[N * D], g_losses[N];

#define CHECK(cond, ...)                                                        \
  do {                                                                         \
    if (!(cond)) {                                                             \
      atomic_fetch_add(&g_failures, 1);                                        \
      fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

typedef struct {
  int index;
  int64_t plan[ROUNDS][N];
  size_t selected[ROUNDS];
  float scores[N];
} result;

/* The same work on fresh handles: ROUNDS epochs of a projected pool, then
** cosine scores of the pool against two targets. */
static void work(result *r, int thread) {
  wn_projector *p = NULL;
  wn_engine *e = NULL;
  wn_scorer *s = NULL;
  CHECK(wn_projector_create(&p, WN_PROJECTOR_RADEMACHER, 5, D, K, 0) == WN_OK, "projector");
  CHECK(wn_engine_create(&e, g_ids, g_domains, N, 0, K, 1) == WN_OK, "engine");
  CHECK(wn_engine_set_param_i64(e, WN_PARAM_POLICY, WN_POLICY_STOCHASTIC) == WN_OK, "policy");
  CHECK(wn_engine_set_param_i64(e, WN_PARAM_MIXTURE_RULE, WN_MIXTURE_EXCESS_LOSS) == WN_OK, "rule");
  for (int round = 0; round < ROUNDS; round++) {
    CHECK(wn_engine_begin_epoch(e, round, 0.1 * (round + 1)) == WN_OK, "begin: %s", wn_engine_last_error(e));
    CHECK(wn_engine_add_target_gradients(e, p, 0, g_gradients + round * D, 2, D) == WN_OK, "target");
    CHECK(wn_engine_add_candidate_gradients(e, p, g_ids, N, g_gradients, D, g_losses, NULL) == WN_OK,
          "candidates: %s", wn_engine_last_error(e));
    CHECK(wn_engine_end_epoch(e, &r->selected[round]) == WN_OK, "end: %s", wn_engine_last_error(e));
    CHECK(wn_engine_plan_ids(e, r->plan[round], N) == WN_OK, "plan ids");
    /* A failure whose message names this thread: it must read back intact. */
    char expected[64];
    snprintf(expected, sizeof expected, "%d", 1000 + thread);
    CHECK(wn_select_top_k(g_losses, 3, (size_t)(1000 + thread), NULL, 0, &(size_t){0}) ==
              WN_ERR_INVALID_ARGUMENT, "top k");
    CHECK(strstr(wn_last_error(), expected) != NULL, "thread %d read another thread's message: %s",
          thread, wn_last_error());
  }
  const float *targets[1] = {g_gradients};
  size_t dims[1] = {D};
  CHECK(wn_scorer_create(&s, WN_MEASURE_COSINE, 1, targets, dims, 2, NULL, NULL, 0) == WN_OK, "scorer");
  const float *train[1] = {g_gradients};
  CHECK(wn_scorer_score_f32(s, train, N, r->scores, N, NULL) == WN_OK, "score");
  wn_scorer_free(s);
  wn_engine_free(e);
  wn_projector_free(p);
}

/* One sparse projector shared by every thread (winnow.h: immutable, calls
** may run concurrently), each failing on purpose over and over with a
** message of its own: the handle's message is replaced under a lock, so
** no string is freed twice, and each thread's wn_last_error() is its own. */
enum { SPARSE_D = 64, SPARSE_K = 16, FAILS = 4000 };
static wn_sparse_projector *g_sparse;

static void *fail_on_shared_sparse(void *argument) {
  const int thread = *(const int *)argument;
  float x[SPARSE_D] = {0}, out[SPARSE_K];
  char expected[64];
  /* An offset past D: WN_ERR_SHAPE, the offset named in the message. */
  const size_t offset = SPARSE_D + 1000 + (size_t)thread;
  snprintf(expected, sizeof expected, "%zu", offset);
  for (int i = 0; i < FAILS; i++) {
    CHECK(wn_sparse_projector_project_piece_f32(g_sparse, x, 1, offset, 1, out, SPARSE_K, 0) ==
              WN_ERR_SHAPE, "sparse shape");
    CHECK(strstr(wn_last_error(), expected) != NULL, "thread %d read another thread's message: %s",
          thread, wn_last_error());
    /* Successful calls in between, as a real caller would make. */
    if (i % 16 == 0)
      CHECK(wn_sparse_projector_project_piece_f32(g_sparse, x, 1, 0, SPARSE_D, out, SPARSE_K, 0) ==
                WN_OK, "sparse project");
  }
  return NULL;
}

static void test_concurrent_failures_on_one_sparse_projector(void) {
  CHECK(wn_sparse_projector_create(&g_sparse, 3, SPARSE_D, SPARSE_K, 2) == WN_OK, "sparse");
  pthread_t threads[THREADS];
  int index[THREADS];
  for (int t = 0; t < THREADS; t++) {
    index[t] = t;
    CHECK(pthread_create(&threads[t], NULL, fail_on_shared_sparse, &index[t]) == 0, "pthread_create");
  }
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
  /* Afterwards the handle holds the message of one thread's failure. */
  const char *last = wn_sparse_projector_last_error(g_sparse);
  int found = 0;
  for (int t = 0; t < THREADS; t++) {
    char expected[64];
    snprintf(expected, sizeof expected, "%zu", (size_t)(SPARSE_D + 1000 + t));
    found += strstr(last, expected) != NULL;
  }
  CHECK(found == 1, "the sparse projector's last error is no thread's: %s", last);
  wn_sparse_projector_free(g_sparse);
}

static void *run(void *argument) {
  result *r = argument;
  work(r, r->index);
  return NULL;
}

int main(void) {
  uint64_t state = 17;
  for (int i = 0; i < N; i++) g_ids[i] = 100 + i, g_domains[i] = i % 3, g_losses[i] = 1.0f + (float)(i % 7);
  for (int i = 0; i < N * D; i++) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    g_gradients[i] = (float)((int64_t)(state >> 33) % 2001 - 1000) / 1000.0f;
  }
  static result alone, threaded[THREADS];
  work(&alone, -1);
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++) {
    threaded[t].index = t;
    CHECK(pthread_create(&threads[t], NULL, run, &threaded[t]) == 0, "pthread_create");
  }
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
  for (int t = 0; t < THREADS; t++) {
    /* The same computation on each thread: bit-identical by the header's promise. */
    CHECK(memcmp(threaded[t].selected, alone.selected, sizeof alone.selected) == 0, "thread %d counts", t);
    CHECK(memcmp(threaded[t].plan, alone.plan, sizeof alone.plan) == 0, "thread %d plans differ", t);
    CHECK(memcmp(threaded[t].scores, alone.scores, sizeof alone.scores) == 0, "thread %d scores differ", t);
  }
  test_concurrent_failures_on_one_sparse_projector();
  int failures = atomic_load(&g_failures);
  printf("test_threads: %d threads x %d epochs, %d failures\n", THREADS, ROUNDS, failures);
  return failures == 0 ? 0 : 1;
}
