import Synchronization

/// Reads blocks of a feature store's `<f4` shards with `pread` straight into
/// the caller's memory, for the sequential scans of scoring.
///
/// Why not the memory mapping: on a mapping, the first touch of every
/// 64 KiB costs a page fault (about half the CPU time of a scan at small
/// `k`), and a cold file is read only as fast as fault-driven read-ahead
/// goes. `pread` costs one copy from the page cache into a buffer the caller
/// reuses, and the caller asks for the next block to be read into the page
/// cache on a background thread (`warm`, `ReadAhead`), so the disk works
/// while the block is scored. With a checksum, the block is hashed while it is read
/// (`HashingRead`).
///
/// Thread safety: `read` may be called concurrently.
final class StoreBlockReader: Sendable {
  private let paths: [String]
  /// Each shard's descriptor once opened.
  private let descriptors: Mutex<[Int32?]>
  /// Reads the next block while the caller works on this one.
  private let readAhead = ReadAhead()

  /// - Parameter paths: the shard files, in shard order; opened on first use.
  init(paths: [String]) {
    self.paths = paths
    descriptors = Mutex(paths.map { _ in nil })
  }

  deinit {
    readAhead.finish()  // before the descriptors it reads from close
    descriptors.withLock { open in
      for fd in open.compactMap({ $0 }) { Syscalls.closeQuietly(fd) }
    }
  }

  /// Reads bytes `range` of shard `shard`'s file into `out` (`range.count`
  /// bytes of the caller's memory), hashing them into `checksum` if given.
  ///
  /// - Throws: `.io`/`.format` naming the file when it cannot be read whole;
  ///   the checksum's verdict (`.format` naming the shard) on a mismatch.
  /// - Complexity: O(range.count).
  func read(
    shard: Int, bytes range: Range<Int>, into out: UnsafeMutableRawPointer, checksum: StreamingChecksum?
  ) throws {
    let fd = try descriptor(shard)
    if let checksum {
      try HashingRead.run(fd: fd, path: paths[shard], range: range, into: out, checksum: checksum)
    } else {
      try Syscalls.readAll(fd, into: out, count: range.count, at: range.lowerBound, path: paths[shard])
    }
  }

  /// Starts reading bytes `range` of shard `shard`'s file into the page
  /// cache on a background thread (`ReadAhead`), for the next read of a scan.
  func warm(shard: Int, bytes range: Range<Int>) {
    guard let fd = try? descriptor(shard) else { return }  // the read will report it
    readAhead.warm(fd: fd, range: range)
  }

  private func descriptor(_ shard: Int) throws -> Int32 {
    try descriptors.withLock { open in
      if let fd = open[shard] { return fd }
      let (fd, _) = try Syscalls.openForReading(paths[shard])
      open[shard] = fd
      return fd
    }
  }
}
