
/// The state of one `Scorer.score` call: the plan, the sources, the scratch
/// buffer and the progress count. A class, so block closures can read the
/// plan while the scratch buffer is lent out.
final class ScoringPass {
  let plan: ScoringPlan
  let checkpoints: [ScoringCheckpoint]
  let progress: ((_ done: Int, _ total: Int) -> Void)?
  /// Copy space for sources that cannot lend rows in place (`blockRows × maxDim`).
  var scratch: [Float] = []
  var done = 0
  /// Rows left out of every Gram matrix (see `findExcludedRows`).
  var excludedRows = Set<Int>()
  let total: Int

  init(
    plan: ScoringPlan, checkpoints: [ScoringCheckpoint],
    progress: ((_ done: Int, _ total: Int) -> Void)?
  ) {
    self.plan = plan
    self.checkpoints = checkpoints
    self.progress = progress
    let passes = plan.measure == .influence ? 2 : 1
    total = passes * checkpoints.count * plan.rowCount
  }

  /// Calls `body` with train rows `rows` of checkpoint `c` (`rows.count × k`),
  /// lent in place when the source can, else copied into `scratch`.
  func withTrainBlock<R>(
    _ c: Int, _ rows: Range<Int>, _ body: (UnsafePointer<Float>) throws -> R
  ) throws -> R {
    let train = checkpoints[c].train
    if let lender = train as? any ContiguousFeatureSource,
      let result = try lender.withRows(rows, body)
    {
      return result
    }
    let need = plan.blockRows * plan.maxDim
    if scratch.count < need { scratch = [Float](repeating: 0, count: need) }
    return try scratch.withUnsafeMutableBufferPointer { s in
      guard let base = s.baseAddress else { throw WinnowError(.internal, "no scratch buffer") }
      try train.readRows(rows, into: base)
      return try body(UnsafePointer(base))
    }
  }

  func advance(_ rows: Int) {
    done += rows
    progress?(done, total)
  }

  /// The error for a non-finite train row, naming the row and the source.
  func nonFiniteRow(_ row: Int, checkpoint c: Int) -> WinnowError {
    WinnowError(
      .nonFinite,
      "row \(row) of \(checkpoints[c].train.label) (checkpoint \(c + 1)) holds NaN or "
        + "infinity; skip such rows with skipNonFinite (--skip-nonfinite)")
  }

  /// Checkpoint `c`'s target directions, `G × k` row-major: the weighted mean
  /// of each group's prepared target rows, `η_c · mean_{j∈g} t_j`, where
  /// `t_j` is `v_j` (dot), `v_j/‖v_j‖` (cosine) or `(ΦᵀΦ+λI)⁻¹ v_j` (influence).
  ///
  /// - Complexity: O(M·k) (+ the Gram pass and O(k³) for influence).
  func targetDirections(checkpoint c: Int) throws -> [Float] {
    let target = checkpoints[c].target
    let (m, k, groups) = (plan.targetCount, target.dim, plan.groupCount)
    var rows = [Float](repeating: 0, count: m * k)
    try rows.withUnsafeMutableBufferPointer { out in
      guard let base = out.baseAddress else { return }
      try target.readRows(0..<m, into: base)
    }
    var sums = [Double](repeating: 0, count: groups * k)
    for j in 0..<m {
      let row = rows[(j * k)..<((j + 1) * k)]
      if row.contains(where: { !$0.isFinite }) {
        throw WinnowError(.nonFinite, "target row \(j) of \(target.label) holds NaN or infinity")
      }
      // Cosine: normalize in Double; a zero row stays zero (LESS's convention).
      var scale = 1.0
      if plan.measure == .cosine {
        let norm = row.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        scale = norm > 0 ? 1 / norm : 0
      }
      let g = plan.groupOfTarget[j]
      for (i, x) in row.enumerated() { sums[g * k + i] += Double(x) * scale }
    }
    var directions = [Float](repeating: 0, count: groups * k)
    for g in 0..<groups {
      let factor = plan.weights[c] / Double(plan.groupSizes[g])
      for i in 0..<k { directions[g * k + i] = Float(sums[g * k + i] * factor) }
    }
    if plan.measure == .influence {
      directions = try solveInfluence(checkpoint: c, directions: directions)
    }
    return directions
  }
}
