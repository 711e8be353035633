
extension ScoringPass {
  /// `(ΦᵀΦ + λI)⁻¹ dᵀ` for checkpoint `c`'s directions `d` (`G × k`), returned
  /// as `G × k`: one streamed pass forms the Gram matrix, one Cholesky factor
  /// solves for all `G` right-hand sides at once.
  ///
  /// - Complexity: O(N·k² + k³ + k²·G) time, O(k²) memory.
  func solveInfluence(checkpoint c: Int, directions: [Float]) throws -> [Float] {
    let k = checkpoints[c].train.dim
    let groups = plan.groupCount
    var gram = try gramMatrix(checkpoint: c)
    for i in 0..<k { gram[i * k + i] += plan.damping }
    // Finite inputs can still overflow float32 here (a value of FLT_MAX
    // squares to ∞), and LAPACKE would then blame its own arguments: name
    // the file and the cause instead.
    let train = checkpoints[c].train.label, target = checkpoints[c].target.label
    if let bad = firstNonFinite(upperTriangleOf: gram, k) {
      throw WinnowError(
        .nonFinite,
        "checkpoint \(c + 1): the Gram matrix ΦᵀΦ of the train features \(train) overflows float32 "
          + "(entry \(bad)): features of magnitude above about 1e19 cannot be scored by influence; "
          + "scale them down")
    }
    // B = dᵀ, k × G row-major.
    var rhs = [Float](repeating: 0, count: k * groups)
    for g in 0..<groups {
      for i in 0..<k { rhs[i * groups + g] = directions[g * k + i] }
    }
    try gram.withUnsafeMutableBufferPointer { a in
      guard let a = a.baseAddress else { return }
      try BLAS.spotrf(n: k, a: a, lda: k)
      try rhs.withUnsafeMutableBufferPointer { b in
        guard let b = b.baseAddress else { return }
        try BLAS.spotrs(n: k, nrhs: groups, a: a, lda: k, b: b, ldb: groups)
      }
    }
    if rhs.contains(where: { !$0.isFinite }) {
      throw WinnowError(
        .nonFinite,
        "checkpoint \(c + 1): solving (ΦᵀΦ + λI)⁻¹ for the targets \(target) against the train features "
          + "\(train) overflows float32: the features are too large (or λ too small); scale them down")
    }
    var solved = [Float](repeating: 0, count: groups * k)
    for g in 0..<groups {
      for i in 0..<k { solved[g * k + i] = rhs[i * groups + g] }
    }
    return solved
  }

  /// `(i, j)` of the first non-finite entry of the upper triangle of a
  /// `k × k` row-major matrix, or `nil`.
  private func firstNonFinite(upperTriangleOf m: [Float], _ k: Int) -> (Int, Int)? {
    for i in 0..<k {
      for j in i..<k where !m[i * k + j].isFinite { return (i, j) }
    }
    return nil
  }

  /// The upper triangle of `ΦᵀΦ` (`k × k`) for checkpoint `c`, accumulated
  /// in `ssyrk` updates of `ScoringPlan.gramChunk` rows at fixed global
  /// offsets, so the sum's order does not depend on the block size.
  ///
  /// Non-finite rows fail the pass, or with `skipNonFinite` are left out of
  /// the Gram matrix (they are excluded from the pool altogether).
  func gramMatrix(checkpoint c: Int) throws -> [Float] {
    let (n, k) = (plan.rowCount, checkpoints[c].train.dim)
    var gram = [Float](repeating: 0, count: k * k)
    try gram.withUnsafeMutableBufferPointer { g in
      guard let g = g.baseAddress else { return }
      for start in stride(from: 0, to: n, by: plan.blockRows) {
        let rows = start..<min(start + plan.blockRows, n)
        try withTrainBlock(c, rows) { block in
          for lo in stride(from: 0, to: rows.count, by: ScoringPlan.gramChunk) {
            let count = min(ScoringPlan.gramChunk, rows.count - lo)
            try accumulate(
              block + lo * k, rows: count, k: k, into: g, firstRow: start + lo, checkpoint: c)
          }
        }
        checkpoints[c].train.release(rows: rows)
        advance(rows.count)
      }
    }
    return gram
  }

  /// Finds the rows that are non-finite in any checkpoint, so that every
  /// checkpoint's Gram matrix leaves out the same rows: only needed for
  /// `influence` with `skipNonFinite` and several checkpoints.
  ///
  /// - Complexity: O(C·N·k), one extra read of the pool.
  func findExcludedRows() throws {
    for c in checkpoints.indices {
      let k = checkpoints[c].train.dim
      for start in stride(from: 0, to: plan.rowCount, by: plan.blockRows) {
        let rows = start..<min(start + plan.blockRows, plan.rowCount)
        try withTrainBlock(c, rows) { block in
          for i in 0..<rows.count where Kernels.countNonFinite(block + i * k, count: k) != 0 {
            excludedRows.insert(start + i)
          }
        }
        checkpoints[c].train.release(rows: rows)
      }
    }
  }

  /// `G += AᵀA` for a chunk `A` (`rows × k`), leaving non-finite rows out.
  private func accumulate(
    _ a: UnsafePointer<Float>, rows: Int, k: Int, into g: UnsafeMutablePointer<Float>,
    firstRow: Int, checkpoint c: Int
  ) throws {
    let bad = (0..<rows).filter {
      Kernels.countNonFinite(a + $0 * k, count: k) != 0 || excludedRows.contains(firstRow + $0)
    }
    if bad.isEmpty {
      try BLAS.ssyrkTransposed(n: k, k: rows, alpha: 1, a: a, lda: k, beta: 1, c: g, ldc: k)
      return
    }
    if !plan.skipNonFinite, let first = bad.first {
      throw nonFiniteRow(firstRow + first, checkpoint: c)
    }
    // Rare path: a copy with the bad rows zeroed, so they add nothing.
    var clean = Array(UnsafeBufferPointer(start: a, count: rows * k))
    for r in bad { clean.replaceSubrange((r * k)..<((r + 1) * k), with: repeatElement(0, count: k)) }
    try clean.withUnsafeBufferPointer { p in
      guard let p = p.baseAddress else { return }
      try BLAS.ssyrkTransposed(n: k, k: rows, alpha: 1, a: p, lda: k, beta: 1, c: g, ldc: k)
    }
  }
}
