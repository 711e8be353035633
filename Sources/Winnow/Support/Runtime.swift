/// Facts about the BLAS that Winnow runs on, for logs and benchmark reports.
public enum Runtime {
  /// The Winnow library version.
  public static let version = "0.1.0"

  /// The OpenBLAS kernel family picked at load time (see `OPENBLAS_CORETYPE`).
  public static var blasCoreName: String { BLAS.coreName }

  /// The number of threads OpenBLAS uses; setting it affects the whole
  /// process. A setting is clamped to the CPUs OpenBLAS found and left
  /// unchanged when the address-space limit cannot hold more threads (see
  /// `setBLASThreads`, which says so).
  public static var blasThreads: Int {
    get { BLAS.threadCount }
    set { BLAS.threadCount = newValue }
  }

  /// Sets the OpenBLAS thread count: at most the number of CPUs OpenBLAS
  /// found at load; `.outOfMemory` (count unchanged) when RLIMIT_AS leaves
  /// too little address space for the new threads' buffers, where OpenBLAS
  /// would otherwise hang. Returns the count in effect.
  @discardableResult
  public static func setBLASThreads(_ threads: Int) throws -> Int { try BLAS.setThreads(threads) }
}
