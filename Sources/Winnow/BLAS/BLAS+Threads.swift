import COpenBLAS

extension BLAS {
  /// Address space OpenBLAS reserves for each thread it starts beyond the
  /// ones it has: its per-thread GEMM buffer (128 MiB in Debian's build)
  /// plus a thread stack, with room to spare. Measured with 0.3.21: going
  /// from 4 to 16 threads grows the process by ≈ 139 MiB a thread.
  static let addressSpacePerThread = 192 << 20

  /// Sets the OpenBLAS thread count, bounded so that it cannot hang.
  ///
  /// OpenBLAS starts its threads when the count grows; when the address
  /// space (RLIMIT_AS, `ulimit -v`) cannot hold their buffers, the starts
  /// fail and OpenBLAS waits forever for them. So the request is clamped to
  /// the number of CPUs OpenBLAS found at load (`openblas_get_num_procs`,
  /// more threads than cores never help a GEMM), and a growth that the
  /// address-space limit cannot hold is refused with `.outOfMemory`.
  /// - Returns: the count in effect afterwards.
  static func setThreads(_ requested: Int) throws -> Int {
    guard requested >= 1 else { throw WinnowError.invalid("BLAS thread count \(requested) < 1") }
    let cpus = max(1, Int(openblas_get_num_procs()))
    let target = min(requested, cpus)
    let current = threadCount
    if target > current, let headroom = addressSpaceHeadroom() {
      let need = (target - current + 1) * addressSpacePerThread
      guard need <= headroom else {
        throw WinnowError(
          .outOfMemory,
          "\(target) BLAS threads need about \(CheckedSize.readable(need)) more address space, "
            + "but the limit (RLIMIT_AS, ulimit -v) leaves \(CheckedSize.readable(headroom)); "
            + "staying at \(current)")
      }
    }
    openblas_set_num_threads(Int32(target))
    return threadCount
  }

  /// Bytes of address space left under RLIMIT_AS, or `nil` without a limit.
  static func addressSpaceHeadroom() -> Int? {
    guard let limit = Syscalls.addressSpaceLimit else { return nil }
    // /proc/self/statm: the first field is the address space in pages.
    guard let bytes = Syscalls.readProcFile("/proc/self/statm", limit: 64) else { return 0 }
    let text = String(decoding: bytes, as: UTF8.self)
    guard let pages = Int(text.split(separator: " ").first ?? "") else { return 0 }
    let used = pages * Syscalls.pageSize
    return max(0, Int(clamping: limit) - used)
  }
}
