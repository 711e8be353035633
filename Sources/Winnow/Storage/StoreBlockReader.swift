/// Reads blocks of a feature store's `<f4` shards with `pread` into one
/// reused buffer and lends them, for the sequential scans of scoring.
///
/// Why not lend the memory mapping: on a mapping, the first touch of every
/// 64 KiB costs a page fault (about half the CPU time of a scan at small
/// `k`), and a cold file is read only as fast as fault-driven read-ahead
/// goes. `pread` into a buffer that stays mapped costs one copy from the page
/// cache (memory bandwidth) and, with `MADV_WILLNEED` on the next block (see
/// `StreamingChecksum`), keeps the disk busy while the block is scored.
///
/// With a checksum, each block is hashed while it is read (`HashingRead`).
/// After each read the kernel is asked to read the next block of the same
/// size (`POSIX_FADV_WILLNEED`), so the disk works while the block is used.
///
/// Thread safety: `withBlock` may be called concurrently; calls are
/// serialized on the one buffer.
final class StoreBlockReader: @unchecked Sendable {
  // @unchecked: the buffer and descriptors are guarded by `lock`.
  private let paths: [String]
  private var descriptors: [Int32?]
  private var buffer: UnsafeMutableRawPointer?
  private var capacity = 0
  private let lock = Lock()

  /// - Parameter paths: the shard files, in shard order; opened on first use.
  init(paths: [String]) {
    self.paths = paths
    descriptors = paths.map { _ in nil }
  }

  deinit {
    for fd in descriptors.compactMap({ $0 }) { NPYSyscalls.closeQuietly(fd) }
    buffer?.deallocate()
  }

  /// Reads bytes `range` of shard `shard`'s file and calls `body` with them.
  /// The bytes are valid only during `body`.
  ///
  /// - Throws: `.io`/`.format` naming the file when it cannot be read whole.
  /// - Complexity: O(range.count); the buffer grows to the largest block.
  func withBlock<R>(
    shard: Int, bytes range: Range<Int>, checksum: StreamingChecksum?,
    _ body: (UnsafeRawBufferPointer) throws -> R
  ) throws -> R {
    lock.lock()
    defer { lock.unlock() }
    if capacity < range.count {
      buffer?.deallocate()
      buffer = nil
      capacity = 0
      // Page-aligned, so the kernel copies whole pages.
      buffer = UnsafeMutableRawPointer.allocate(byteCount: range.count, alignment: NPYSyscalls.pageSize)
      capacity = range.count
    }
    guard let buffer else { throw WinnowError(.internal, "no block buffer") }
    try readLocked(shard: shard, bytes: range, into: buffer, checksum: checksum)
    return try body(UnsafeRawBufferPointer(start: buffer, count: range.count))
  }

  /// Reads bytes `range` of shard `shard`'s file into `out` (the caller's
  /// memory, `range.count` bytes).
  ///
  /// - Throws: `.io`/`.format` naming the file when it cannot be read whole.
  func read(
    shard: Int, bytes range: Range<Int>, into out: UnsafeMutableRawPointer, checksum: StreamingChecksum?
  ) throws {
    lock.lock()
    defer { lock.unlock() }
    try readLocked(shard: shard, bytes: range, into: out, checksum: checksum)
  }

  private func readLocked(
    shard: Int, bytes range: Range<Int>, into out: UnsafeMutableRawPointer, checksum: StreamingChecksum?
  ) throws {
    let fd = try descriptor(shard)
    if let checksum {
      try HashingRead.run(fd: fd, path: paths[shard], range: range, into: out, checksum: checksum)
    } else {
      try NPYSyscalls.readAll(fd, into: out, count: range.count, at: range.lowerBound, path: paths[shard])
    }
    NPYSyscalls.prefetch(fd, offset: range.upperBound, length: range.count)
  }

  private func descriptor(_ shard: Int) throws -> Int32 {
    if let fd = descriptors[shard] { return fd }
    let (fd, _) = try NPYSyscalls.openForReading(paths[shard])
    descriptors[shard] = fd
    return fd
  }
}
