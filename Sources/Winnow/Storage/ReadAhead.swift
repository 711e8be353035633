import Dispatch
import Synchronization

/// Reads the next block of a sequential scan into the page cache on a
/// background thread, while the caller computes on the block it has.
///
/// Why not `posix_fadvise(WILLNEED)` alone: measured here, the kernel fills
/// a cold 128 MiB range from that hint at about half the speed of a plain
/// `pread`, so a scan that waited on the hinted block ran at half the
/// disk's speed. A thread that reads the block into the page cache with
/// `sendfile` to `/dev/null` (no copy, no buffer: what matters is that the
/// bytes are cached when the scan's own `pread` asks) reads at full speed.
/// Before reading, it asks whether the block's last page is already cached
/// (`mincore` through `Syscalls`); a warm scan then costs one probe a block.
///
/// Errors are ignored: the scan's own read reports them, naming the file.
/// Thread safety: `warm` may be called from any thread; reads run one at a
/// time, in the order asked.
final class ReadAhead: Sendable {
  private let queue = DispatchQueue(label: "winnow.read-ahead")
  /// Bytes asked of the kernel at a time.
  static let pieceBytes = 32 << 20

  deinit { finish() }

  /// Waits for the reads asked so far (before their descriptors close).
  func finish() { queue.sync {} }

  /// Starts reading `range` of `fd` into the page cache, unless its end is
  /// already there. `fd` must stay open until the read ends: the owner of
  /// the descriptors calls `finish()` before closing them.
  func warm(fd: Int32, range: Range<Int>) {
    guard !range.isEmpty else { return }
    queue.async { [self] in
      if Syscalls.isCached(fd, offset: range.upperBound - 1) { return }
      var at = range.lowerBound
      while at < range.upperBound {
        let n = Syscalls.readIntoCache(fd, count: min(Self.pieceBytes, range.upperBound - at), at: at)
        if n <= 0 { return }
        at += n
      }
    }
  }
}
