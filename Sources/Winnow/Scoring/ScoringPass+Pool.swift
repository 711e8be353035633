import CWinnowKernels

extension ScoringPass {
  /// The pass over the pool: per block and checkpoint one `sgemm` of the
  /// block (`b × k`) against the directions (`G × k`), scaled per row and
  /// summed over checkpoints in order, then the max over groups.
  ///
  /// Every row's scores come from the same operations whatever the block
  /// size, so results agree across memory caps (to BLAS kernel rounding).
  /// - Complexity: O(C·N·k·G) time; O(blockRows·(k + G)) scratch.
  func scorePool(directions: [[Float]]) throws -> ScoringResult {
    let (n, groups) = (plan.rowCount, plan.groupCount)
    var scores = [Float](repeating: 0, count: n)
    var skipped = [Int]()
    var acc = [Float](repeating: 0, count: plan.blockRows * groups)
    var excluded = [Bool](repeating: false, count: plan.blockRows)
    for start in stride(from: 0, to: n, by: plan.blockRows) {
      let rows = start..<min(start + plan.blockRows, n)
      for i in 0..<rows.count { excluded[i] = false }
      for c in checkpoints.indices {
        try scoreBlock(rows, checkpoint: c, directions: directions[c], acc: &acc, excluded: &excluded)
        checkpoints[c].train.release(rows: rows)
        advance(rows.count)
      }
      for i in 0..<rows.count {
        if excluded[i] {
          scores[start + i] = -.infinity
          skipped.append(start + i)
          continue
        }
        let best = acc[(i * groups)..<((i + 1) * groups)].max() ?? 0
        guard best.isFinite else {
          throw WinnowError(
            .numerical, "the score of train row \(start + i) overflows (\(best)); rescale the features")
        }
        scores[start + i] = best
      }
    }
    return ScoringResult(scores: scores, skippedRows: skipped, groupCount: groups)
  }

  /// Adds checkpoint `c`'s block scores into `acc` (`b × G`), marking rows
  /// with non-finite features in `excluded` (or failing).
  private func scoreBlock(
    _ rows: Range<Int>, checkpoint c: Int, directions: [Float],
    acc: inout [Float], excluded: inout [Bool]
  ) throws {
    let (b, k, groups) = (rows.count, checkpoints[c].train.dim, plan.groupCount)
    var part = [Float](repeating: 0, count: b * groups)
    var scale = [Float](repeating: 1, count: b)
    try withTrainBlock(c, rows) { block in
      try part.withUnsafeMutableBufferPointer { p in
        try directions.withUnsafeBufferPointer { d in
          guard let p = p.baseAddress, let d = d.baseAddress else { return }
          try BLAS.sgemm(
            .none, .transposed, m: b, n: groups, k: k, alpha: 1, a: block, lda: k,
            b: d, ldb: k, beta: 0, c: p, ldc: groups)
        }
      }
      for i in 0..<b {
        let row = block + i * k
        if plan.measure == .cosine {
          scale[i] = try inverseNorm(row, k)
        }
        // A non-finite feature always makes its scores non-finite (OpenBLAS
        // kernels multiply every term), so only such rows need the exact test.
        let suspect = !scale[i].isFinite || part[(i * groups)..<((i + 1) * groups)].contains { !$0.isFinite }
        if suspect, wn_count_nonfinite(row, k) != 0 {
          guard plan.skipNonFinite else { throw nonFiniteRow(rows.lowerBound + i, checkpoint: c) }
          excluded[i] = true
          scale[i] = 0
        }
      }
    }
    for i in 0..<b {
      for g in 0..<groups {
        let term = part[i * groups + g] * scale[i]
        acc[i * groups + g] = c == 0 ? term : acc[i * groups + g] + term
      }
    }
  }

  /// `1/‖x‖` for a length-`k` row, 0 for a zero row (LESS's convention),
  /// NaN when the row is not finite.
  private func inverseNorm(_ x: UnsafePointer<Float>, _ k: Int) throws -> Float {
    var ss = Double(try BLAS.sdot(n: k, x, x))
    if ss.isInfinite {  // a finite row whose squares overflow Float
      ss = Double(try BLAS.snrm2(n: k, x))
      ss *= ss
    }
    guard ss.isFinite else { return .nan }
    return ss > 0 ? Float(1 / ss.squareRoot()) : 0
  }
}
