import CBenchBLAS

/// GFLOP/s of plain `cblas_sgemm` (row-major, `m × k` times `k × n`), with
/// both operands already in memory: the bound a projection or scorer of the
/// same shape can reach.
func sgemmRoofline(m: Int, n: Int, k: Int, transposeB: Bool = false, repeats: Int = 3) -> Double {
  let a = filledBuffer(m * k), b = filledBuffer(k * n, seed: 2)
  let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
  defer { a.deallocate(); b.deallocate(); c.deallocate() }
  let t = bestTime(repeats: repeats) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k),
                1, a, Int32(k), b, Int32(transposeB ? k : n), 0, c, Int32(n))
  }
  return 2 * Double(m) * Double(n) * Double(k) / t / 1e9
}

/// The OpenBLAS kernel family and thread count, straight from the library.
func blasFacts() -> (core: String, threads: Int) {
  (String(cString: openblas_get_corename()), Int(openblas_get_num_threads()))
}
