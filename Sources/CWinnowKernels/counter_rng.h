// The counter RNG shared by the dense (counter_rng.c) and sparse (sjlt.c)
// maps: word(i, b) = mix64(rowkey(i) + (b + 1)·γ),
// rowkey(i) = mix64(key + (i + 1)·γ'), mix64 the SplitMix64 finalizer
// (Steele, Lea & Flood, OOPSLA 2014). Internal to CWinnowKernels.
#ifndef WINNOW_COUNTER_RNG_H
#define WINNOW_COUNTER_RNG_H
#include <stdint.h>
#include <string.h>

#define WNK_GAMMA 0x9E3779B97F4A7C15ull
#define WNK_GAMMA_ROW 0xD1B54A32D192ED03ull

// Wide-vector clones of the hot loops; identical results on every clone
// because only IEEE +, −, ×, ÷, sqrt are used and contraction is off.
// (Defined beforehand, e.g. -DWNK_MULTIVERSION=, to build one clone alone
// for a test harness.)
#ifndef WNK_MULTIVERSION
#if defined(__x86_64__) && defined(__clang__)
#define WNK_MULTIVERSION __attribute__((target_clones("avx512dq", "avx2", "default")))
#else
#define WNK_MULTIVERSION
#endif
#endif

static inline uint64_t wnk_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The key of row i of the map keyed by `key` (already mixed).
static inline uint64_t wnk_row_key(uint64_t key, uint64_t row) {
  return wnk_mix64(key + (row + 1) * WNK_GAMMA_ROW);
}

static inline uint64_t wnk_word_at(uint64_t rk, uint64_t block) {
  return wnk_mix64(rk + (block + 1) * WNK_GAMMA);
}

static inline float wnk_bits_to_float(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static inline uint32_t wnk_float_to_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}
#endif
