/// Facts about the BLAS that Winnow runs on, for logs and benchmark reports.
public enum Runtime {
  /// The Winnow library version.
  public static let version = "0.1.0"

  /// The OpenBLAS kernel family picked at load time (see `OPENBLAS_CORETYPE`).
  public static var blasCoreName: String { BLAS.coreName }

  /// The number of threads OpenBLAS uses; setting it affects the whole process.
  public static var blasThreads: Int {
    get { BLAS.threadCount }
    set { BLAS.threadCount = newValue }
  }
}
