/* Selections and feature stores through the C ABI: the rules as winnow.h
** states them (-INFINITY excluded, k bounded by the eligible count, halves
** rounded away from zero), the files a selection writes, a store read with
** its checksums verified, and every error path.
** Usage: test_selection STORE_FIXTURE_DIR (Tests/Fixtures/store-v1). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static const char *g_fixture;
static char g_tmp[256];

static size_t count_of(int32_t (*f)(const float *, size_t, size_t, int64_t *, size_t, size_t *),
                       const float *s, size_t n, size_t k, int32_t expected) {
  size_t count = 0;
  EXPECT_STATUS(f(s, n, k, NULL, 0, &count), expected);
  return count;
}

/* winnow.h: scores finite or -INFINITY (excluded); 1 <= k <= E. */
static void test_select_contract(void) {
  const float ninf = -INFINITY;
  float s[6] = {0.5f, ninf, 2.0f, 0.5f, ninf, -1.0f}; /* E = 4 */
  int64_t out[6];
  size_t count = 0;
  EXPECT_OK(wn_select_top_k(s, 6, 4, out, 6, &count));
  EXPECT_TRUE(count == 4 && out[0] == 2 && out[1] == 0 && out[2] == 3 && out[3] == 5);
  EXPECT_TRUE(count_of(wn_select_top_k, s, 6, 5, WN_ERR_INVALID_ARGUMENT) == 0); /* k > E */
  EXPECT_TRUE(strstr(wn_last_error(), "1...4") != NULL);
  float excluded[3] = {ninf, ninf, ninf};
  EXPECT_STATUS(wn_select_top_k(excluded, 3, 1, out, 6, &count), WN_ERR_INVALID_ARGUMENT);
  float bad[2] = {1.0f, NAN};
  EXPECT_STATUS(wn_select_top_k(bad, 2, 1, out, 6, &count), WN_ERR_NON_FINITE);
  bad[1] = INFINITY;
  EXPECT_STATUS(wn_select_top_k(bad, 2, 1, out, 6, &count), WN_ERR_NON_FINITE);
  EXPECT_STATUS(wn_select_top_k(s, 0, 1, out, 6, &count), WN_ERR_INVALID_ARGUMENT);
  /* round(0.625 * 4) = round(2.5) = 3: halves away from zero, on E not n. */
  EXPECT_OK(wn_select_top_fraction(s, 6, 0.625, NULL, 0, &count));
  EXPECT_TRUE(count == 3);
  EXPECT_OK(wn_select_top_fraction(s, 6, 0.01, NULL, 0, &count)); /* at least one */
  EXPECT_TRUE(count == 1);
  EXPECT_OK(wn_select_threshold(s, 6, 3.0f, NULL, 0, &count)); /* possibly none */
  EXPECT_TRUE(count == 0);
  EXPECT_OK(wn_select_threshold(s, 6, 0.5f, out, 6, &count));
  EXPECT_TRUE(count == 3 && out[0] == 2 && out[1] == 0 && out[2] == 3);
  /* wn_select_step: rows * dim overflowing is WN_ERR_OUT_OF_MEMORY. */
  float target[4] = {1, 0, 0, 0};
  EXPECT_STATUS(wn_select_step(s, SIZE_MAX / 4, 4, target, 1, 0.1f, out, NULL, 6),
                WN_ERR_OUT_OF_MEMORY);
}

static void test_rule_count(void) {
  size_t c = 0;
  EXPECT_OK(wn_selection_count(WN_RULE_TOP_K, 7, 10, &c));
  EXPECT_TRUE(c == 7);
  EXPECT_OK(wn_selection_count(WN_RULE_FRACTION, 0.05, 30, &c)); /* 1.5 -> 2 */
  EXPECT_TRUE(c == 2);
  EXPECT_OK(wn_selection_count(WN_RULE_THRESHOLD, 0.25, 30, &c));
  EXPECT_TRUE(c == 30);
  EXPECT_STATUS(wn_selection_count(WN_RULE_TOP_K, 11, 10, &c), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_count(WN_RULE_TOP_K, 2.5, 10, &c), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_count(WN_RULE_TOP_K, 0, 10, &c), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_count(WN_RULE_FRACTION, 0, 10, &c), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_count(WN_RULE_FRACTION, 1.5, 10, &c), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_count(WN_RULE_FRACTION, NAN, 10, &c), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_count(WN_RULE_THRESHOLD, 1e300, 10, &c), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_count(3, 1, 10, &c), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_count(WN_RULE_TOP_K, 1, 0, &c), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_count(WN_RULE_TOP_K, 1, 10, NULL), WN_ERR_NULL_POINTER);
}

static void read_file(const char *path, char *buffer, size_t capacity) {
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buffer, 1, capacity - 1, f) : 0;
  buffer[n] = 0;
  if (f) fclose(f);
}

/* A cut elsewhere: the candidates at or above it, in pool order, with the
** pool's eligible count, select what the whole pool selects. */
static void test_selection_object(void) {
  enum { N = 200 };
  float pool[N];
  uint64_t state = 11;
  for (int i = 0; i < N; i++) pool[i] = floorf(uniform(&state) * 8) / 8; /* many ties */
  pool[17] = -INFINITY;
  wn_selection *whole = NULL, *part = NULL;
  EXPECT_OK(wn_selection_create(&whole, pool, N, WN_RULE_FRACTION, 0.1, 0));
  size_t k = 0;
  EXPECT_OK(wn_selection_indices(whole, NULL, 0, &k));
  EXPECT_TRUE(k == 20); /* round(0.1 * 199) */
  int64_t chosen[N], picked[N], rows[N];
  EXPECT_OK(wn_selection_indices(whole, chosen, N, &k));
  float cut = pool[chosen[k - 1]], candidates[N];
  size_t m = 0, ties = 0;
  for (size_t r = 0; r < k; r++) ties += pool[chosen[r]] == cut;
  for (int i = 0; i < N; i++) { /* above the cut, and the first `ties` equal to it */
    if (pool[i] > cut || (pool[i] == cut && ties > 0)) {
      if (pool[i] == cut) ties--;
      rows[m] = i;
      candidates[m++] = pool[i];
    }
  }
  EXPECT_OK(wn_selection_create(&part, candidates, m, WN_RULE_FRACTION, 0.1, N - 1));
  size_t k2 = 0;
  EXPECT_OK(wn_selection_indices(part, picked, N, &k2));
  int same = k2 == k;
  for (size_t r = 0; same && r < k; r++) same = rows[picked[r]] == chosen[r];
  EXPECT_TRUE(same);
  EXPECT_STATUS(wn_selection_indices(part, picked, k - 1, &k2), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_TRUE(k2 == k);
  EXPECT_STATUS(wn_selection_indices(part, NULL, 3, &k2), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_selection_indices(part, picked, N, NULL), WN_ERR_NULL_POINTER);
  EXPECT_TRUE(strstr(wn_selection_last_error(part), "out_count") != NULL);
  wn_selection_free(part);
  part = NULL;
  /* Too few candidates for the pool's count; a pool count below theirs. */
  EXPECT_STATUS(wn_selection_create(&part, candidates, 5, WN_RULE_FRACTION, 0.1, N - 1),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(part == NULL && strstr(wn_last_error(), "at or above the cut") != NULL);
  EXPECT_STATUS(wn_selection_create(&part, candidates, m, WN_RULE_TOP_K, 1, 3),
                WN_ERR_INVALID_ARGUMENT);

  /* Files: ids, listing and manifest, the library's fields beside the caller's. */
  char ids[300], listing[300], manifest[300], text[4096];
  snprintf(ids, sizeof ids, "%s/ids.npy", g_tmp);
  snprintf(listing, sizeof listing, "%s/list.csv", g_tmp);
  snprintf(manifest, sizeof manifest, "%s/m.json", g_tmp);
  int64_t sample_ids[N];
  for (int i = 0; i < N; i++) sample_ids[i] = 1000 + i;
  EXPECT_OK(wn_selection_write(whole, sample_ids, N, ids, listing, manifest,
                               "{\"tool\": \"test_selection\", \"poolSize\": 200}"));
  read_file(listing, text, sizeof text);
  char first[64];
  snprintf(first, sizeof first, "rank,id,score\n1,%lld,", (long long)(1000 + chosen[0]));
  EXPECT_TRUE(strncmp(text, first, strlen(first)) == 0);
  read_file(manifest, text, sizeof text);
  EXPECT_TRUE(strstr(text, "\"tool\" : \"test_selection\"") != NULL);
  EXPECT_TRUE(strstr(text, "\"kind\" : \"fraction\"") != NULL);
  EXPECT_TRUE(strstr(text, "\"selected\" : 20") != NULL);
  EXPECT_TRUE(strstr(text, "\"outputsSHA256\"") != NULL);
  read_file(ids, text, sizeof text);
  EXPECT_TRUE(memcmp(text, "\x93NUMPY", 6) == 0 && strstr(text + 10, "'<i8'") != NULL);
  /* Errors: each leaves the files as they were. */
  EXPECT_STATUS(wn_selection_write(whole, sample_ids, N, NULL, NULL, NULL, NULL),
                WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_selection_write(whole, sample_ids, N - 1, ids, NULL, NULL, NULL), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_selection_write(whole, NULL, 0, ids, NULL, manifest, "{\"tool\": "),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_write(whole, NULL, 0, ids, NULL, manifest, "[1, 2]"),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_write(whole, NULL, 0, ids, NULL, manifest, "{\"rule\": 1}"),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(strstr(wn_selection_last_error(whole), "\"rule\"") != NULL);
  EXPECT_STATUS(wn_selection_write(whole, NULL, 0, ids, ids, NULL, NULL), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_write(whole, NULL, 0, "/nonexistent-folder/ids.npy", NULL, NULL, NULL),
                WN_ERR_IO);
  read_file(manifest, text, sizeof text);
  EXPECT_TRUE(strstr(text, "\"tool\" : \"test_selection\"") != NULL);
  wn_selection_free(whole);
  EXPECT_STATUS(wn_selection_indices(whole, chosen, N, &k), WN_ERR_INVALID_ARGUMENT); /* freed */
  wn_selection_free(NULL);

  /* Creation errors. */
  wn_selection *s = NULL;
  EXPECT_STATUS(wn_selection_create(NULL, pool, N, WN_RULE_TOP_K, 1, 0), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_selection_create(&s, NULL, N, WN_RULE_TOP_K, 1, 0), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_selection_create(&s, pool, 0, WN_RULE_TOP_K, 1, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_create(&s, pool, N, 9, 1, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_create(&s, pool, N, WN_RULE_TOP_K, N, 0), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_create(&s, pool, N, WN_RULE_THRESHOLD, NAN, 0),
                WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_selection_create(&s, pool, SIZE_MAX / 2, WN_RULE_TOP_K, 1, 0),
                WN_ERR_OUT_OF_MEMORY);
  float nan_pool[2] = {0, NAN};
  EXPECT_STATUS(wn_selection_create(&s, nan_pool, 2, WN_RULE_TOP_K, 1, 0), WN_ERR_NON_FINITE);
  EXPECT_TRUE(s == NULL);
}

static void copy_file(const char *from, const char *to) {
  static char buffer[1 << 16];
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  size_t n = a ? fread(buffer, 1, sizeof buffer, a) : 0;
  if (b) fwrite(buffer, 1, n, b);
  if (a) fclose(a);
  if (b) fclose(b);
}

/* A copy of the fixture store in g_tmp/name, one byte flipped in `victim`
** at `offset` from its end (none when victim is NULL). */
static void copy_store(const char *name, const char *victim, long offset, char *dir) {
  static const char *files[] = {"manifest.json", "shard-000000.features.npy",
                                "shard-000000.ids.npy", "shard-000001.features.npy",
                                "shard-000001.ids.npy", "shard-000002.features.npy",
                                "shard-000002.ids.npy"};
  snprintf(dir, 300, "%s/%s", g_tmp, name);
  char command[700];
  snprintf(command, sizeof command, "mkdir -p '%s'", dir);
  EXPECT_TRUE(system(command) == 0);
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char from[600], to[600];
    snprintf(from, sizeof from, "%s/%s", g_fixture, files[i]);
    snprintf(to, sizeof to, "%s/%s", dir, files[i]);
    copy_file(from, to);
    if (victim && strcmp(files[i], victim) == 0) {
      FILE *f = fopen(to, "r+b");
      fseek(f, -offset, SEEK_END);
      int c = fgetc(f);
      fseek(f, -offset, SEEK_END);
      fputc(c ^ 0x40, f);
      fclose(f);
    }
  }
}

/* Fixture rows: row r holds -2.5 + 0.5 r + 0.125 j; ids 1 + 3 r. */
static void test_store_reads(void) {
  wn_store *store = NULL;
  EXPECT_OK(wn_store_open(&store, g_fixture, -1, WN_VERIFY_WHILE_READING));
  size_t rows = 0, k = 0, shards = 0;
  EXPECT_OK(wn_store_dims(store, &rows, &k, &shards));
  EXPECT_TRUE(rows == 12 && k == 4 && shards == 3);
  float x[12 * 4];
  EXPECT_OK(wn_store_read_f32(store, 0, 12, x, 48));
  int wrong = 0;
  for (int r = 0; r < 12; r++)
    for (int j = 0; j < 4; j++) wrong += x[r * 4 + j] != -2.5f + 0.5f * r + 0.125f * j;
  EXPECT_TRUE(wrong == 0);
  int64_t ids[12];
  EXPECT_OK(wn_store_ids(store, 3, 4, ids, 12));
  EXPECT_TRUE(ids[0] == 10 && ids[3] == 19);
  EXPECT_OK(wn_store_finish_verification(store));
  /* Errors. */
  EXPECT_STATUS(wn_store_read_f32(store, 10, 3, x, 48), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_store_read_f32(store, 0, 0, x, 48), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_store_read_f32(store, 0, 12, x, 47), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_STATUS(wn_store_read_f32(store, 0, 12, NULL, 48), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_store_read_f32(store, SIZE_MAX, 1, x, 48), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_store_ids(store, 12, 1, ids, 12), WN_ERR_SHAPE);
  EXPECT_STATUS(wn_store_ids(store, 0, 2, ids, 1), WN_ERR_BUFFER_TOO_SMALL);
  EXPECT_TRUE(strstr(wn_store_last_error(store), "out holds 1") != NULL);
  EXPECT_STATUS(wn_store_dims(NULL, &rows, &k, &shards), WN_ERR_NULL_POINTER);
  wn_store_free(store);
  EXPECT_STATUS(wn_store_finish_verification(store), WN_ERR_INVALID_ARGUMENT); /* freed */
  wn_store_free(NULL);

  /* One shard: its rows are the store's rows. */
  EXPECT_OK(wn_store_open(&store, g_fixture, 2, WN_VERIFY_WHEN_OPENED));
  EXPECT_OK(wn_store_dims(store, &rows, NULL, &shards));
  EXPECT_TRUE(rows == 2 && shards == 1);
  EXPECT_OK(wn_store_read_f32(store, 1, 1, x, 4));
  EXPECT_TRUE(x[0] == 3.0f);
  EXPECT_OK(wn_store_ids(store, 0, 2, ids, 2));
  EXPECT_TRUE(ids[0] == 31 && ids[1] == 34);
  wn_store_free(store);

  store = NULL;
  EXPECT_STATUS(wn_store_open(&store, g_fixture, 3, WN_VERIFY_NONE), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_store_open(&store, g_fixture, -1, 3), WN_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(wn_store_open(&store, NULL, -1, WN_VERIFY_NONE), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_store_open(NULL, g_fixture, -1, WN_VERIFY_NONE), WN_ERR_NULL_POINTER);
  EXPECT_STATUS(wn_store_open(&store, "/nonexistent-store", -1, WN_VERIFY_NONE), WN_ERR_IO);
  EXPECT_TRUE(store == NULL);
}

/* A flipped byte is found by every verifying mode, named, and by none other. */
static void test_store_corruption(void) {
  char dir[300];
  const long offsets[] = {1, 40, 80}; /* the last, a middle and the first data byte */
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "corrupt%d", i);
    copy_store(name, "shard-000001.features.npy", offsets[i], dir);
    wn_store *store = NULL;
    float x[12 * 4];
    EXPECT_STATUS(wn_store_open(&store, dir, -1, WN_VERIFY_WHEN_OPENED), WN_ERR_FORMAT);
    EXPECT_TRUE(store == NULL && strstr(wn_last_error(), "shard-000001.features.npy") != NULL);
    EXPECT_OK(wn_store_open(&store, dir, -1, WN_VERIFY_WHILE_READING));
    EXPECT_OK(wn_store_read_f32(store, 0, 5, x, 48)); /* shard 0 is intact */
    EXPECT_STATUS(wn_store_read_f32(store, 5, 5, x, 48), WN_ERR_FORMAT);
    EXPECT_TRUE(strstr(wn_store_last_error(store), "shard-000001.features.npy: checksum mismatch") != NULL);
    wn_store_free(store);
    EXPECT_OK(wn_store_open(&store, dir, 1, WN_VERIFY_WHILE_READING));
    EXPECT_OK(wn_store_read_f32(store, 0, 1, x, 48));
    EXPECT_STATUS(wn_store_finish_verification(store), WN_ERR_FORMAT);
    wn_store_free(store);
    EXPECT_OK(wn_store_open(&store, dir, -1, WN_VERIFY_NONE));
    EXPECT_OK(wn_store_read_f32(store, 0, 12, x, 48));
    EXPECT_OK(wn_store_finish_verification(store));
    wn_store_free(store);
  }
  copy_store("missing", NULL, 0, dir);
  char path[400];
  snprintf(path, sizeof path, "%s/shard-000002.ids.npy", dir);
  unlink(path);
  wn_store *store = NULL;
  EXPECT_STATUS(wn_store_open(&store, dir, -1, WN_VERIFY_NONE), WN_ERR_IO);
  EXPECT_TRUE(strstr(wn_last_error(), "shard-000002.ids.npy") != NULL);
  EXPECT_OK(wn_store_open(&store, dir, 0, WN_VERIFY_WHILE_READING)); /* shard 0 is whole */
  wn_store_free(store);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_selection STORE_FIXTURE_DIR\n");
    return 2;
  }
  g_fixture = argv[1];
  snprintf(g_tmp, sizeof g_tmp, "/tmp/winnow-test-selection-XXXXXX");
  if (!mkdtemp(g_tmp)) return 2;
  test_select_contract();
  test_rule_count();
  test_selection_object();
  test_store_reads();
  test_store_corruption();
  char command[300];
  snprintf(command, sizeof command, "rm -rf '%s'", g_tmp);
  if (system(command) != 0) return 2;
  return finish("test_selection");
}
