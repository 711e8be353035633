import Dispatch
import Synchronization

/// Verifies one memory-mapped file's checksum (XXH3-128, or SHA-256 for
/// stores written before XXH3 was recorded) while a reader streams through
/// it: each block the reader asks for is hashed as it goes past (on a second
/// thread, beside the reader's own work on the same pages), and the verdict
/// is given when the file's last byte has been hashed.
///
/// Bytes are hashed in file order, each once: a read ahead of the hashed
/// prefix hashes the gap too, a read behind it hashes nothing. Reading the
/// same pages as the reader, at the same time, the store is read from disk
/// once. After a mismatch every later call throws the same error.
///
/// Thread safety: all methods may be called concurrently (a lock orders the
/// hashing).
final class StreamingChecksum: @unchecked Sendable {
  // @unchecked: the mutable state is guarded by `lock`.
  /// The file, for messages.
  let path: String
  /// The checksum the manifest records, lowercase hex, and its algorithm.
  let expected: String
  let algorithm: ChecksumAlgorithm
  /// The whole file as mapped; kept alive by `owner`.
  private let bytes: UnsafeRawBufferPointer
  private let owner: AnyObject
  private let lock = Mutex(())
  private var hash: StreamHasher?
  private var hashed = 0
  private var failure: WinnowError?

  /// - Parameters:
  ///   - array: the mapped file to verify.
  ///   - expected: its checksum from the manifest, and the algorithm.
  /// - Throws: `.internal` when libcrypto cannot start a hash.
  init(_ array: NPYArray, expected: (ChecksumAlgorithm, String)) throws {
    path = array.url.path
    (algorithm, self.expected) = (expected.0, expected.1.lowercased())
    bytes = array.fileBytes
    owner = array
    hash = try algorithm.makeHasher()
  }

  /// Whether the whole file has been hashed and matched.
  var isVerified: Bool {
    lock.withLock { _ in hash == nil && failure == nil }
  }

  /// Hashes the file up to byte `end` (clamped to the file) and, when that
  /// reaches the end of the file, compares the digest with the manifest's.
  ///
  /// The bytes come from `copy` (the file's bytes from offset `offset`, as
  /// just read) when it holds all of them, else from the mapping.
  /// When hashing from the mapping, starts the kernel reading the next
  /// `end − (previously hashed)` bytes, so a block-by-block scan of a cold
  /// file keeps the disk busy.
  /// - Throws: `.format` naming the file on a mismatch (now or earlier).
  /// - Complexity: O(bytes newly hashed).
  func advance(to end: Int, copy: UnsafeRawBufferPointer? = nil, at offset: Int = 0) throws {
    try lock.withLock { _ in
      if let failure { throw failure }
      let end = min(max(end, 0), bytes.count)
      guard let hash, end > hashed, let base = bytes.baseAddress else { return }
      let start = hashed
      if let copy, let from = copy.baseAddress, offset <= start, offset + copy.count >= end {
        hash.update(UnsafeRawBufferPointer(start: from + (start - offset), count: end - start))
      } else {
        prefetch(after: end, length: end - start)
        hash.update(UnsafeRawBufferPointer(start: base + start, count: end - start))
      }
      hashed = end
      guard hashed == bytes.count else { return }
      self.hash = nil
      let got = try hash.finalizeHex()
      if got != expected {
        failure = WinnowError(
          .format,
          "\(path): checksum mismatch: the manifest records \(algorithm.rawValue) \(expected), the file has \(got); "
            + "the shard was changed or corrupted")
        throw failure!
      }
    }
  }

  /// Hashes whatever has not been read yet and gives the verdict.
  ///
  /// - Throws: `.format` naming the file on a mismatch.
  func finish() throws { try advance(to: bytes.count) }

  private func prefetch(after end: Int, length: Int) {
    guard let base = bytes.baseAddress, end < bytes.count else { return }
    let page = Syscalls.pageSize
    let start = end / page * page
    let stop = min(bytes.count, end + length)
    if stop > start { Syscalls.prefetch(base + start, length: stop - start) }
  }

  /// Runs `work` and hashes `checksum` up to `end` at the same time (on two
  /// threads, so the hash costs no time while `work` takes longer), then
  /// returns `work`'s result, or throws the verdict if it is a mismatch.
  ///
  /// With no checksum, just runs `work`.
  static func whileHashing<R>(
    _ checksum: StreamingChecksum?, to end: Int, copy: UnsafeRawBufferPointer? = nil, at offset: Int = 0,
    _ work: () throws -> R
  ) throws -> R {
    guard let checksum else { return try work() }
    var result: Result<R, Error>?
    var verdict: Error?
    withoutActuallyEscaping(work) { work in
      nonisolated(unsafe) let body = work
      nonisolated(unsafe) let copy = copy
      nonisolated(unsafe) var out: Result<R, Error>?
      nonisolated(unsafe) var hashError: Error?
      DispatchQueue.concurrentPerform(iterations: 2) { i in
        if i == 0 {
          out = Result { try body() }
        } else {
          do { try checksum.advance(to: end, copy: copy, at: offset) } catch { hashError = error }
        }
      }
      result = out
      verdict = hashError
    }
    if let verdict { throw verdict }
    guard let result else { throw WinnowError(.internal, "a streamed read produced no result") }
    return try result.get()
  }
}
