extension GhostDotProducts {
  /// Adds `sum((A_i A_jᵀ) ∘ (Δ_i Δ_jᵀ))` to `sums[i·S + j]` for `i ≤ j`.
  ///
  /// For each sample `i` the token kernels against samples `j ≥ i` are formed
  /// in column blocks of whole samples (`T_i × C`, `C·T_i` floats within
  /// `ghostBlockBudget`), so memory never grows with `(ΣT)²`.
  func ghostGram(_ f: FloatFactors, into sums: inout [Double]) throws {
    let n = f.samples
    let budget = max(1, ghostBlockBudget / 8)  // two float blocks
    for i in 0..<n where f.tokenCounts[i] > 0 {
      let ti = f.tokenCounts[i]
      var j0 = i
      while j0 < n {
        // Grow the block by whole samples; always take at least one.
        var j1 = j0 + 1
        while j1 < n, (f.starts[j1 + 1] - f.starts[j0]) * ti <= budget { j1 += 1 }
        let c0 = f.starts[j0]
        let cols = f.starts[j1] - c0
        if cols > 0 {
          let (ri, din, dout) = (f.starts[i], f.inputDim, f.outputDim)
          let ka = try Self.tokenKernel(f.a + ri * din, ti, f.a + c0 * din, cols, dim: din)
          let kd = try Self.tokenKernel(f.d + ri * dout, ti, f.d + c0 * dout, cols, dim: dout)
          for j in j0..<j1 where f.tokenCounts[j] > 0 {
            sums[i * n + j] += try Self.hadamardSum(
              ka, kd, rows: ti, ld: cols, colsAt: f.starts[j] - c0, f.tokenCounts[j])
          }
        }
        j0 = j1
      }
    }
  }

  /// `X·Yᵀ` for `X` `rows × dim` and `Y` `cols × dim`; returns `rows × cols`.
  static func tokenKernel(
    _ x: UnsafePointer<Float>, _ rows: Int, _ y: UnsafePointer<Float>, _ cols: Int, dim: Int
  ) throws -> [Float] {
    var k = [Float](repeating: 0, count: rows * cols)
    try k.withUnsafeMutableBufferPointer { out in
      try BLAS.sgemm(
        .none, .transposed, m: rows, n: cols, k: dim, alpha: 1, a: x, lda: dim,
        b: y, ldb: dim, beta: 0, c: out.baseAddress!, ldc: cols)
    }
    return k
  }

  /// `Σ_{r, c} X[r][c0 + c]·Y[r][c0 + c]` over `rows × width` sub-blocks of
  /// two `rows × ld` matrices, accumulated in `Double` across rows.
  static func hadamardSum(
    _ x: [Float], _ y: [Float], rows: Int, ld: Int, colsAt c0: Int, _ width: Int
  ) throws -> Double {
    try x.withUnsafeBufferPointer { xp in
      try y.withUnsafeBufferPointer { yp in
        // A contiguous block (the full width) is one dot product.
        if width == ld {
          return Double(try BLAS.sdot(n: rows * ld, xp.baseAddress!, yp.baseAddress!))
        }
        var total = 0.0
        for r in 0..<rows {
          let offset = r * ld + c0
          total += Double(try BLAS.sdot(n: width, xp.baseAddress! + offset, yp.baseAddress! + offset))
        }
        return total
      }
    }
  }

  /// Adds `⟨G_i, G_j⟩` (`i ≤ j`) to `sums` by forming the gradients of
  /// blocks of samples and multiplying the blocks.
  func materializedGram(_ f: FloatFactors, into sums: inout [Double]) throws {
    let n = f.samples
    let size = f.gradientSize
    let block = max(1, materializationBudget / 2 / (4 * size))
    for i0 in stride(from: 0, to: n, by: block) {
      let i1 = min(n, i0 + block)
      let gi = try Self.materialize(f, samples: i0..<i1)
      for j0 in stride(from: i0, to: n, by: block) {
        let j1 = min(n, j0 + block)
        // Re-forming block j costs one more pass over its tokens; it keeps
        // memory at two blocks whatever the batch size.
        let gj = j0 == i0 ? gi : try Self.materialize(f, samples: j0..<j1)
        var c = [Float](repeating: 0, count: (i1 - i0) * (j1 - j0))
        try gi.withUnsafeBufferPointer { a in
          try gj.withUnsafeBufferPointer { b in
            try c.withUnsafeMutableBufferPointer { cp in
              try BLAS.sgemm(
                .none, .transposed, m: i1 - i0, n: j1 - j0, k: size, alpha: 1,
                a: a.baseAddress!, lda: size, b: b.baseAddress!, ldb: size, beta: 0,
                c: cp.baseAddress!, ldc: j1 - j0)
            }
          }
        }
        for i in i0..<i1 {
          for j in max(i, j0)..<j1 { sums[i * n + j] += Double(c[(i - i0) * (j1 - j0) + j - j0]) }
        }
      }
    }
  }

  /// The gradients `G_s = Δ_sᵀ A_s` of `samples`, one `d_out × d_in`
  /// row-major gradient per row: `samples.count × (d_out·d_in)`.
  static func materialize(_ f: FloatFactors, samples: Range<Int>) throws -> [Float] {
    let size = f.gradientSize
    var g = [Float](repeating: 0, count: samples.count * size)
    try g.withUnsafeMutableBufferPointer { out in
      for (b, s) in samples.enumerated() where f.tokenCounts[s] > 0 {
        let r0 = f.starts[s]
        try BLAS.sgemm(
          .transposed, .none, m: f.outputDim, n: f.inputDim, k: f.tokenCounts[s], alpha: 1,
          a: f.d + r0 * f.outputDim, lda: f.outputDim, b: f.a + r0 * f.inputDim, ldb: f.inputDim,
          beta: 0, c: out.baseAddress! + b * size, ldc: f.inputDim)
      }
    }
    return g
  }
}
