import CWinnowKernels

extension DenseProjector {
  func checkPiece(rows: Int, offset: Int, length: Int) throws {
    guard rows >= 0 else { throw WinnowError.invalid("row count \(rows) is negative") }
    guard offset >= 0, length >= 1, offset <= inputDim - length else {
      throw WinnowError.shape(
        "gradient piece at offset \(offset) of width \(length) does not fit D = \(inputDim)")
    }
  }

  func checkFinite(_ x: UnsafePointer<Float>, rows: Int, length: Int) throws {
    for r in 0..<rows where wn_count_nonfinite(x + r * length, length) > 0 {
      throw WinnowError(.nonFinite, "gradient row \(r) holds NaN or infinity")
    }
  }

  /// `out ← (accumulate ? out : 0) + scale · X · P[offset..<offset+length, :]`,
  /// one panel of `P` rows at a time. `source(d0, n)` returns the pointer to
  /// column `d0` of `X` (global index) and its leading dimension, for a panel
  /// of `n` columns starting at `d0`.
  func multiply(
    rows: Int, offset: Int, length: Int, out: UnsafeMutablePointer<Float>, accumulate: Bool,
    source: (Int, Int) throws -> (UnsafePointer<Float>, Int),
    maxColumns: Int = .max
  ) throws {
    let k = outputDim
    if rows == 0 { return }
    if !accumulate { out.update(repeating: 0, count: rows * k) }
    try withPanels(offset: offset, length: length) { d0, n, p in
      var c0 = 0
      while c0 < n {
        let w = min(maxColumns, n - c0)
        let (a, lda) = try source(d0 + c0, w)
        try BLAS.sgemm(
          .none, .none, m: rows, n: k, k: w, alpha: scale, a: a, lda: lda,
          b: p + c0 * k, ldb: k, beta: 1, c: out, ldc: k)
        c0 += w
      }
    }
  }

  /// Calls `body(d0, n, P[d0..<d0+n, :])` for consecutive row panels of `P`
  /// covering `offset..<offset+length`, from the cache or freshly generated.
  func withPanels(
    offset: Int, length: Int,
    _ body: (Int, Int, UnsafePointer<Float>) throws -> Void
  ) throws {
    lock.lock()
    defer { lock.unlock() }
    let k = outputDim
    if cachesMatrix {
      let whole = cacheStorage ?? generate(rows: 0..<inputDim)
      cacheStorage = whole
      try whole.withUnsafeBufferPointer { p in
        guard let base = p.baseAddress else { return }
        try body(offset, length, base + offset * k)
      }
      return
    }
    let p = panelStorage.reserve(min(panelRows, length) * k)
    var d0 = offset
    while d0 < offset + length {
      let n = min(panelRows, offset + length - d0)
      matrix.fill(rows: d0..<d0 + n, cols: 0..<k, into: p, ld: k, threads: generatorThreads)
      try body(d0, n, p)
      d0 += n
    }
  }

  private func generate(rows: Range<Int>) -> [Float] {
    let k = outputDim
    return [Float](unsafeUninitializedCapacity: rows.count * k) { buf, n in
      if let base = buf.baseAddress {
        matrix.fill(rows: rows, cols: 0..<k, into: base, ld: k, threads: generatorThreads)
      }
      n = rows.count * k
    }
  }
}
