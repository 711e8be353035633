import COpenBLAS

/// The one door to OpenBLAS and LAPACKE.
///
/// Every BLAS/LAPACK call in Winnow goes through this file, so the unsafe
/// edge lives in one place: sizes are checked against the 32-bit `blasint`
/// range of Debian's OpenBLAS before any call, and LAPACK status codes become
/// `WinnowError`s. All matrices are row-major.
enum BLAS {
  /// Whether a matrix is used as stored or transposed.
  enum Transpose { case none, transposed }

  /// Converts a dimension to `blasint`, failing for values BLAS cannot take.
  static func int(_ value: Int, _ what: String) throws -> Int32 {
    guard value >= 0, value <= Int(Int32.max) else {
      throw WinnowError(
        .unsupported,
        "\(what) = \(value) is outside the 32-bit BLAS integer range")
    }
    return Int32(value)
  }

  private static func cblas(_ t: Transpose) -> CBLAS_TRANSPOSE {
    t == .none ? CblasNoTrans : CblasTrans
  }

  /// `C ← α·op(A)·op(B) + β·C` with `op(A)` `m × k`, `op(B)` `k × n`, `C` `m × n`.
  ///
  /// The corresponding routine is `cblas_sgemm`.
  static func sgemm(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) throws {
    let (m32, n32, k32) = (try int(m, "m"), try int(n, "n"), try int(k, "k"))
    let (lda32, ldb32, ldc32) = (
      try int(lda, "lda"), try int(ldb, "ldb"), try int(ldc, "ldc")
    )
    if m == 0 || n == 0 { return }
    cblas_sgemm(
      CblasRowMajor, cblas(transA), cblas(transB), m32, n32, k32,
      alpha, a, lda32, b, ldb32, beta, c, ldc32)
  }

  /// `C ← α·AᵀA + β·C` (upper triangle) for `A` `k × n`, `C` `n × n`.
  ///
  /// The corresponding routine is `cblas_ssyrk`.
  static func ssyrkTransposed(
    n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) throws {
    let (n32, k32) = (try int(n, "n"), try int(k, "k"))
    let (lda32, ldc32) = (try int(lda, "lda"), try int(ldc, "ldc"))
    if n == 0 { return }
    cblas_ssyrk(
      CblasRowMajor, CblasUpper, CblasTrans, n32, k32, alpha, a, lda32,
      beta, c, ldc32)
  }

  /// `y ← α·op(A)·x + β·y` for `A` `m × n`.
  ///
  /// The corresponding routine is `cblas_sgemv`.
  static func sgemv(
    _ trans: Transpose, m: Int, n: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
    beta: Float, y: UnsafeMutablePointer<Float>
  ) throws {
    let (m32, n32, lda32) = (try int(m, "m"), try int(n, "n"), try int(lda, "lda"))
    if m == 0 || n == 0 { return }
    cblas_sgemv(CblasRowMajor, cblas(trans), m32, n32, alpha, a, lda32, x, 1, beta, y, 1)
  }

  /// The dot product of two length-`n` vectors.
  ///
  /// The corresponding routine is `cblas_sdot`.
  static func sdot(n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) throws -> Float {
    cblas_sdot(try int(n, "n"), x, 1, y, 1)
  }

  /// The Euclidean norm of a length-`n` vector.
  ///
  /// The corresponding routine is `cblas_snrm2`.
  static func snrm2(n: Int, _ x: UnsafePointer<Float>) throws -> Float {
    cblas_snrm2(try int(n, "n"), x, 1)
  }

  /// Cholesky factorization in place of the upper triangle of `A` (`n × n`).
  ///
  /// Throws `.numerical` when `A` is not positive definite.
  /// The corresponding routine is `LAPACKE_spotrf`.
  static func spotrf(n: Int, a: UnsafeMutablePointer<Float>, lda: Int) throws {
    let info = LAPACKE_spotrf(
      LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), try int(n, "n"), a, try int(lda, "lda"))
    try check(info, "spotrf")
  }

  /// Solves `A·X = B` given the Cholesky factor from `spotrf`; `B` is `n × nrhs`.
  ///
  /// The corresponding routine is `LAPACKE_spotrs`.
  static func spotrs(
    n: Int, nrhs: Int, a: UnsafePointer<Float>, lda: Int,
    b: UnsafeMutablePointer<Float>, ldb: Int
  ) throws {
    let info = LAPACKE_spotrs(
      LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), try int(n, "n"),
      try int(nrhs, "nrhs"), a, try int(lda, "lda"), b, try int(ldb, "ldb"))
    try check(info, "spotrs")
  }

  /// Eigendecomposition of the symmetric `n × n` matrix `A` (upper triangle
  /// read), divide and conquer: on return `A`'s column `j` is the unit
  /// eigenvector of eigenvalue `w[j]`, in ascending order.
  ///
  /// Throws `.numerical` when the algorithm does not converge.
  /// The corresponding routine is `LAPACKE_ssyevd`.
  static func ssyevd(n: Int, a: UnsafeMutablePointer<Float>, lda: Int, w: UnsafeMutablePointer<Float>) throws {
    let info = LAPACKE_ssyevd(
      LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), try int(n, "n"), a,
      try int(lda, "lda"), w)
    if info > 0 {
      throw WinnowError(
        .numerical, "LAPACKE_ssyevd: the eigendecomposition did not converge (\(info) off-diagonal elements)")
    }
    try check(info, "ssyevd")
  }

  private static func check(_ info: Int32, _ routine: String) throws {
    if info == 0 { return }
    if info < 0 {
      throw WinnowError(.internal, "LAPACKE_\(routine): argument \(-info) is invalid")
    }
    throw WinnowError(
      .numerical,
      "LAPACKE_\(routine): the matrix is not positive definite (leading minor \(info)); "
        + "increase the damping")
  }

  /// The OpenBLAS kernel family in use (e.g. `SkylakeX`, `Haswell`).
  ///
  /// The corresponding routine is `openblas_get_corename`.
  static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }

  /// The number of threads OpenBLAS uses.
  static var threadCount: Int {
    get { Int(openblas_get_num_threads()) }
    set { _ = try? setThreads(max(1, newValue)) }
  }
}
