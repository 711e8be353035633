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

  /// `X·Yᵀ` for `X` `rows × dim` and `Y` `cols × dim`; returns `rows × cols`,
  /// or `.outOfMemory` when that many floats cannot be allocated (one
  /// sample's tokens against another's, `T_i × T_j`, or against a target's).
  static func tokenKernel(
    _ x: UnsafePointer<Float>, _ rows: Int, _ y: UnsafePointer<Float>, _ cols: Int, dim: Int
  ) throws -> [Float] {
    let count = try CheckedSize.allocatable(
      [rows, cols], elementSize: 4, "a token kernel (\(rows) × \(cols) tokens)")
    var k = [Float](repeating: 0, count: count)
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

  /// Adds `⟨G_i, G_j⟩` (`i ≤ j`) to `sums` by forming the gradients of all
  /// samples one slab of output rows at a time.
  ///
  /// Slabbing by rows of `G` rather than by samples keeps memory within
  /// `materializationBudget` without forming any gradient twice.
  func materializedGram(_ f: FloatFactors, into sums: inout [Double]) throws {
    let n = f.samples
    let slabs = try slabs(f)
    // One scratch slab for all slabs: first touches of fresh pages are slow.
    var g = [Float](repeating: 0, count: try slabSize(f, slabs))
    var c = [Float](
      repeating: 0, count: try CheckedSize.allocatable([n, n], elementSize: 4, "the slab Gram matrix"))
    for slab in slabs {
      let width = slab.count * f.inputDim
      try g.withUnsafeMutableBufferPointer { gp in
        try Self.materialize(f, outputRows: slab, into: gp.baseAddress!)
        try c.withUnsafeMutableBufferPointer { cp in
          try BLAS.sgemm(
            .none, .transposed, m: n, n: n, k: width, alpha: 1, a: gp.baseAddress!, lda: width,
            b: gp.baseAddress!, ldb: width, beta: 0, c: cp.baseAddress!, ldc: n)
        }
      }
      for i in 0..<n { for j in i..<n { sums[i * n + j] += Double(c[i * n + j]) } }
    }
  }

  /// Output-row ranges of `G` whose slabs for all samples fit the budget
  /// (at least one row: `S × d_in` floats, which may exceed it).
  func slabs(_ f: FloatFactors) throws -> [Range<Int>] {
    let perRow = try CheckedSize.bytes(
      [max(1, f.samples), f.inputDim], elementSize: 4, "one row of every sample's gradient")
    let rows = max(1, materializationBudget / max(1, perRow))
    return stride(from: 0, to: f.outputDim, by: rows).map { $0..<min(f.outputDim, $0 + rows) }
  }

  /// The floats of the scratch slab for `slabs` (`S × rows × d_in`), after
  /// checking that they can be allocated: `.outOfMemory` otherwise (a single
  /// row of every sample's gradient may exceed the budget and the machine).
  func slabSize(_ f: FloatFactors, _ slabs: [Range<Int>]) throws -> Int {
    try CheckedSize.allocatable(
      [f.samples, slabs.first?.count ?? 0, f.inputDim], elementSize: 4,
      "a slab of materialized gradients (\(f.samples) samples × \(slabs.first?.count ?? 0) rows × d_in \(f.inputDim))")
  }

  /// Writes rows `outputRows` of every sample's gradient `G_s = Δ_sᵀ A_s`
  /// into `out`, one sample per row: `S × (outputRows.count · d_in)`.
  static func materialize(
    _ f: FloatFactors, outputRows: Range<Int>, into out: UnsafeMutablePointer<Float>
  ) throws {
    let width = outputRows.count * f.inputDim
    for s in 0..<f.samples {
      let r0 = f.starts[s]
      guard f.tokenCounts[s] > 0 else {
        (out + s * width).update(repeating: 0, count: width)
        continue
      }
      try BLAS.sgemm(
        .transposed, .none, m: outputRows.count, n: f.inputDim, k: f.tokenCounts[s], alpha: 1,
        a: f.d + r0 * f.outputDim + outputRows.lowerBound, lda: f.outputDim,
        b: f.a + r0 * f.inputDim, ldb: f.inputDim,
        beta: 0, c: out + s * width, ldc: f.inputDim)
    }
  }
}
