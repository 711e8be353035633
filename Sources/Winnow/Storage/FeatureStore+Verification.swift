extension FeatureStore {
  /// When a store's shard checksums (SHA-256, recorded in the manifest) are
  /// checked.
  public enum Verification: Sendable {
    /// Not at all (`winnow score --no-verify`).
    case none
    /// Every file is read and hashed before `init` returns: a second read
    /// of the store before any use, for callers that read rows at random.
    case whenOpened
    /// The ids files when opened (8 bytes a row); each features file as its
    /// rows are read, block by block, on a second thread beside the reader,
    /// so verification costs no extra read of the store. A shard's verdict
    /// comes with the read that reaches its last row: that read throws on a
    /// mismatch. Call `finishVerification()` before acting on what was read
    /// (writing outputs), which also hashes rows never read.
    case whileReading
  }

  /// Whether every shard's checksum has been verified: always true unless
  /// the store was opened `.whileReading` and some shard is not yet read.
  public var isVerified: Bool { streamedChecksums.allSatisfy { $0?.isVerified ?? true } }

  /// Gives every shard's verdict: hashes the rows not read yet of each
  /// shard opened `.whileReading` (none after a full scan) and throws on
  /// the first mismatch. A no-op for the other modes.
  ///
  /// - Throws: `.format` naming the shard whose checksum does not match.
  /// - Complexity: O(bytes not read yet).
  public func finishVerification() throws {
    for checksum in streamedChecksums { try checksum?.finish() }
  }
}
