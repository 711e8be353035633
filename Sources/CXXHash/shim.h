#ifndef WINNOW_CXXHASH_SHIM_H
#define WINNOW_CXXHASH_SHIM_H
// Debian's libxxhash-dev installs xxhash.h (xxHash 0.8). XXH_INLINE_ALL
// compiles the functions into Winnow itself, so libwinnow.so needs no
// libxxhash.so at run time. Inlining renames every XXH symbol by macro,
// which Swift cannot see through, so the four calls Winnow makes (XXH3's
// 128-bit streaming interface) are wrapped here under names of our own.
#define XXH_INLINE_ALL
#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

/* A fresh XXH3-128 state, reset; NULL when it cannot be allocated. */
static inline void *wnx_xxh3_create(void) {
  XXH3_state_t *state = XXH3_createState();
  if (state) XXH3_128bits_reset(state);
  return state;
}

static inline void wnx_xxh3_update(void *state, const void *bytes, size_t count) {
  (void)XXH3_128bits_update((XXH3_state_t *)state, bytes, count);
}

/* The digest so far, as its high and low 64 bits. */
static inline void wnx_xxh3_digest(const void *state, uint64_t *high, uint64_t *low) {
  XXH128_hash_t h = XXH3_128bits_digest((const XXH3_state_t *)state);
  *high = h.high64;
  *low = h.low64;
}

static inline void wnx_xxh3_free(void *state) { XXH3_freeState((XXH3_state_t *)state); }
#endif
