
extension ScoringPass {
  /// The pass over the pool: per block and checkpoint the dot products of the
  /// block (`b × k`) with the directions (`G × k`), scaled per row and
  /// summed over checkpoints in order, then the max over groups.
  ///
  /// Every row's scores come from the same operations whatever the block
  /// size, so results are bit-identical across memory caps, thread counts
  /// and pool splits (a shard scored alone scores as it does in the pool).
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
        let best = Self.maxOrNaN(acc[(i * groups)..<((i + 1) * groups)])
        guard best.isFinite else {
          throw WinnowError(
            .numerical, "the score of train row \(start + i) overflows (\(best)); rescale the features")
        }
        scores[start + i] = best
      }
    }
    return ScoringResult(scores: scores, skippedRows: skipped, groupCount: groups)
  }

  /// The largest group score, NaN if any is NaN (0 for no groups).
  /// `Sequence.max()` compares with `<`, which is false for NaN, so a NaN
  /// group after a finite one would be dropped and the row's
  /// `.numerical` failure hidden.
  static func maxOrNaN(_ values: ArraySlice<Float>) -> Float {
    guard !values.isEmpty else { return 0 }
    var best = -Float.infinity
    for v in values {
      if v.isNaN { return .nan }
      if v > best { best = v }
    }
    return best
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
      // Cache-sized slices: each slice's norms and its dot products read the
      // same rows while they are in cache, so the pass reads memory once.
      // The dot products are in a fixed order per row (`Kernels.rowDots`),
      // so a row scores the same in any block, shard, thread or machine.
      let slice = Self.sliceRows(k: k)
      for s0 in stride(from: 0, to: b, by: slice) {
        let m = min(slice, b - s0)
        part.withUnsafeMutableBufferPointer { p in
          directions.withUnsafeBufferPointer { d in
            guard let p = p.baseAddress, let d = d.baseAddress else { return }
            Kernels.rowDots(
              block + s0 * k, rows: m, k: k, ldx: k, directions: d, groups: groups,
              into: p + s0 * groups, ldo: groups)
          }
        }
        for i in s0..<s0 + m {
          try checkRow(i, block: block, k: k, rows: rows, checkpoint: c, part: part,
                       scale: &scale, excluded: &excluded)
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

  /// Rows per cache-resident slice of a block: about 1 MiB of features,
  /// fixed by `k` alone so that results do not depend on the memory cap.
  static func sliceRows(k: Int) -> Int { max(8, (1 << 20) / max(1, 4 * k)) }

  /// Sets row `i`'s cosine scale and handles a non-finite row (skip or fail).
  private func checkRow(
    _ i: Int, block: UnsafePointer<Float>, k: Int, rows: Range<Int>, checkpoint c: Int,
    part: [Float], scale: inout [Float], excluded: inout [Bool]
  ) throws {
    let groups = plan.groupCount
    let row = block + i * k
    if plan.measure == .cosine {
      scale[i] = try inverseNorm(row, k)
    }
    // A non-finite feature always makes its scores non-finite (OpenBLAS
    // kernels multiply every term), so only such rows need the exact test.
    let suspect = !scale[i].isFinite || part[(i * groups)..<((i + 1) * groups)].contains { !$0.isFinite }
    if suspect, Kernels.countNonFinite(row, count: k) != 0 {
      guard plan.skipNonFinite else { throw nonFiniteRow(rows.lowerBound + i, checkpoint: c) }
      excluded[i] = true
      scale[i] = 0
    }
  }

  /// `1/‖x‖` for a length-`k` row, 0 for a zero row (LESS's convention),
  /// NaN when the row is not finite.
  private func inverseNorm(_ x: UnsafePointer<Float>, _ k: Int) throws -> Float {
    var ss = Double(Kernels.dot(x, x, count: k))
    if ss.isInfinite {  // a finite row whose squares overflow Float
      ss = Double(try BLAS.snrm2(n: k, x))
      ss *= ss
    }
    guard ss.isFinite else { return .nan }
    return ss > 0 ? Float(1 / ss.squareRoot()) : 0
  }
}
