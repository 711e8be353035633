import CXXHash

/// The one door to xxHash: XXH3-128, the fast checksum of feature-store
/// shards (DESIGN §3), verified while a store is scored.
///
/// SHA-256 (libcrypto, `SHA256.swift`) runs at about 1.7 GB/s a core here,
/// slower than a warm scan of a store and than this disk's cold read, so a
/// verified scan cannot keep up with an unverified one. XXH3 runs at tens of
/// GB/s: hashing hides behind the read. It detects corruption (any changed
/// bit changes the digest with probability 1 − 2⁻¹²⁸), not tampering; stores
/// keep the SHA-256 beside it for audits and for readers without xxHash.
///
/// Thread safety: none; one hasher per thread.
final class XXH3 {
  private let state: UnsafeMutableRawPointer
  private var finished = false

  /// A fresh hash.
  ///
  /// The corresponding routines are `XXH3_createState` and `XXH3_128bits_reset`.
  /// - Throws: `.outOfMemory` when the state cannot be allocated.
  init() throws {
    guard let state = wnx_xxh3_create() else {
      throw WinnowError(.outOfMemory, "xxHash could not allocate an XXH3 state")
    }
    self.state = state
  }

  deinit { wnx_xxh3_free(state) }

  /// Feeds `bytes` into the hash.
  ///
  /// The corresponding routine is `XXH3_128bits_update`.
  /// - Complexity: O(bytes.count).
  func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, !bytes.isEmpty, !finished else { return }
    wnx_xxh3_update(state, base, bytes.count)
  }

  /// The digest as 32 lowercase hex digits (the canonical, big-endian form
  /// `xxhsum -H2` prints); the hash cannot be fed after.
  ///
  /// The corresponding routines are `XXH3_128bits_digest` and
  /// `XXH128_canonicalFromHash`.
  /// - Throws: `.internal` when called twice.
  func finalizeHex() throws -> String {
    guard !finished else { throw WinnowError(.internal, "an XXH3 digest was finalized twice") }
    finished = true
    var high: UInt64 = 0, low: UInt64 = 0
    wnx_xxh3_digest(state, &high, &low)
    return hexDigits(high, width: 16) + hexDigits(low, width: 16)
  }
}
