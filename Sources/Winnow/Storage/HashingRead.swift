import Dispatch

#if canImport(Glibc)
  import Glibc
#endif

/// One read of a file range into memory, hashed as it lands: the range is
/// read in chunks and each chunk is hashed (`StreamingChecksum`) as soon as
/// it is in, by a second thread, while the next chunk is read. Reading and
/// hashing overlap, so a cold read costs about max(read, hash) rather than
/// their sum, and nothing is read twice.
///
/// Two workers take whichever step is next: the next chunk to read (one
/// reader at a time, in order) or the next chunk read but not hashed (one
/// hasher at a time, in order). A worker that finds neither sleeps until the
/// other finishes a step (a condition variable: no polling, which on a
/// loaded machine would take CPU from the worker it waits for). One worker
/// alone does both in turn, so the scheme cannot deadlock when the system
/// runs the workers one after the other.
final class HashingRead: @unchecked Sendable {
  // @unchecked: the progress counters are guarded by `mutex`; each chunk of
  // `out` is written by one reader before any hasher reads it.
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let stepped = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private let chunk: Int
  private let count: Int
  private var read = 0, hashed = 0
  private var reading = false, hashing = false
  private var failure: Error?

  /// Chunk size: large enough to amortize a syscall and a hand-over, small
  /// enough that the hash starts soon after the read.
  static let chunkBytes = 4 << 20

  private init(bytes: Int) {
    chunk = Self.chunkBytes
    count = (bytes + chunk - 1) / chunk
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(stepped, nil)
  }

  deinit {
    pthread_cond_destroy(stepped)
    pthread_mutex_destroy(mutex)
    stepped.deallocate()
    mutex.deallocate()
  }

  /// Reads bytes `range` of `fd` into `out` and hashes them into `checksum`.
  ///
  /// - Throws: the read's error (`.io`/`.format` naming `path`), or the
  ///   checksum's verdict (`.format` naming the shard) on a mismatch.
  /// - Complexity: O(range.count) on two threads.
  static func run(
    fd: Int32, path: String, range: Range<Int>, into out: UnsafeMutableRawPointer,
    checksum: StreamingChecksum
  ) throws {
    let job = HashingRead(bytes: range.count)
    nonisolated(unsafe) let out = out
    DispatchQueue.concurrentPerform(iterations: 2) { _ in
      job.work { j in
        let lo = j * job.chunk, n = min(job.chunk, range.count - lo)
        try Syscalls.readAll(fd, into: out + lo, count: n, at: range.lowerBound + lo, path: path)
      } hash: { j in
        let lo = j * job.chunk, n = min(job.chunk, range.count - lo)
        try checksum.advance(
          to: range.lowerBound + lo + n, copy: UnsafeRawBufferPointer(start: out + lo, count: n),
          at: range.lowerBound + lo)
      }
    }
    if let failure = job.failure { throw failure }
  }

  private enum Step { case read(Int), hash(Int), done }

  private func work(read readChunk: (Int) throws -> Void, hash hashChunk: (Int) throws -> Void) {
    while true {
      let step = claim()
      switch step {
      case .done: return
      case .read(let j): finish(step, error: Result { try readChunk(j) }.failure)
      case .hash(let j): finish(step, error: Result { try hashChunk(j) }.failure)
      }
    }
  }

  /// The next step for this worker, waiting while the other holds it.
  private func claim() -> Step {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    while true {
      if failure != nil || hashed == count { return .done }
      if !hashing, hashed < read {
        hashing = true
        return .hash(hashed)
      }
      if !reading, read < count {
        reading = true
        return .read(read)
      }
      pthread_cond_wait(stepped, mutex)
    }
  }

  private func finish(_ step: Step, error: Error?) {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    if let error, failure == nil { failure = error }
    switch step {
    case .read: read += 1; reading = false
    case .hash: hashed += 1; hashing = false
    case .done: break
    }
    pthread_cond_broadcast(stepped)
  }
}

extension Result {
  fileprivate var failure: Failure? {
    if case .failure(let error) = self { return error }
    return nil
  }
}
