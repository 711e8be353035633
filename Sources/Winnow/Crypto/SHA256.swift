import CCrypto

/// The one door to libcrypto: SHA-256 for the checksums in feature-store
/// and selection manifests (DESIGN §3).
///
/// Every libcrypto call in Winnow goes through this file. OpenSSL picks its
/// fastest code path at run time (SHA-NI where the CPU has it, else AVX2 or
/// SSSE3), about 10× a portable implementation. Not used for secrets: it
/// guards against corrupt or changed files.
///
/// Feed bytes with `update` in any pieces, then `finalizeHex()` once.
/// Thread safety: none; one hasher per thread (distinct hashers may run
/// concurrently).
final class SHA256 {
  private let context: OpaquePointer
  /// Set when libcrypto reported a failure; `finalizeHex` then throws.
  private var failed = false
  private var finished = false

  /// A fresh hash.
  ///
  /// The corresponding routines are `EVP_MD_CTX_new` and `EVP_DigestInit_ex`.
  /// - Throws: `.internal` when libcrypto cannot provide SHA-256 (out of
  ///   memory, or a libcrypto built without it).
  init() throws {
    guard let context = EVP_MD_CTX_new() else {
      throw WinnowError(.internal, "libcrypto could not allocate a SHA-256 context")
    }
    guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
      EVP_MD_CTX_free(context)
      throw WinnowError(.internal, "libcrypto could not start a SHA-256 digest")
    }
    self.context = context
  }

  deinit { EVP_MD_CTX_free(context) }

  /// Feeds `bytes` into the hash.
  ///
  /// The corresponding routine is `EVP_DigestUpdate`.
  /// - Complexity: O(bytes.count).
  func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, !bytes.isEmpty, !finished else {
      if finished { failed = true }
      return
    }
    if EVP_DigestUpdate(context, base, bytes.count) != 1 { failed = true }
  }

  /// The digest as 64 lowercase hex digits; the hash cannot be fed after.
  ///
  /// The corresponding routine is `EVP_DigestFinal_ex`.
  /// - Throws: `.internal` when libcrypto failed on any update, or when
  ///   called twice.
  func finalizeHex() throws -> String {
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    let ok = digest.withUnsafeMutableBufferPointer { d in
      EVP_DigestFinal_ex(context, d.baseAddress, &length) == 1
    }
    guard ok, !failed, !finished, length == 32 else {
      throw WinnowError(.internal, "libcrypto failed to compute a SHA-256 digest")
    }
    finished = true
    return digest.prefix(32).map { hexDigits($0, width: 2) }.joined()
  }

  /// The SHA-256 of `bytes`, hex.
  static func hex(_ bytes: UnsafeRawBufferPointer) throws -> String {
    let hash = try SHA256()
    hash.update(bytes)
    return try hash.finalizeHex()
  }

  /// The SHA-256 of `bytes`, hex.
  static func hex(_ bytes: [UInt8]) throws -> String {
    try bytes.withUnsafeBytes { try hex($0) }
  }

  /// The SHA-256 of the file at `path`, read in 1 MiB pieces, hex.
  ///
  /// - Throws: `.io` naming the file when it cannot be read.
  /// - Complexity: O(file size).
  static func hex(ofFile path: String) throws -> String {
    try FileChecksums.of(file: path, [.sha256])[0]
  }
}

/// File checksums as recorded in Winnow's manifests.
public enum Checksum {
  /// The SHA-256 of the file at `path`, as 64 lowercase hex digits.
  ///
  /// - Throws: `.io` naming the file when it cannot be read.
  /// - Complexity: O(file size); reads in 1 MiB pieces.
  public static func sha256(ofFile path: String) throws -> String {
    try SHA256.hex(ofFile: path)
  }

  /// The SHA-256 of `bytes` (e.g. a text about to be written), as 64
  /// lowercase hex digits.
  ///
  /// - Complexity: O(bytes.count).
  public static func sha256(of bytes: [UInt8]) throws -> String {
    try SHA256.hex(bytes)
  }
}

/// `value` in lowercase hexadecimal, zero-padded to `width` digits.
func hexDigits<T: BinaryInteger>(_ value: T, width: Int) -> String {
  let digits = String(value, radix: 16)
  return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
