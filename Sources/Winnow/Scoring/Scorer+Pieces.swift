/// The targets of a scoring run reduced to their group directions, ready to
/// score a pool piece by piece (a shard on one machine, a block at a time).
///
/// A row's score depends only on its own features and these directions, so
/// scoring the pieces of a pool separately gives exactly (bit for bit) the
/// scores `Scorer.score` gives for the whole pool.
public struct ScoringTargets: Sendable {
  /// The measure the directions were prepared for (`cosine` or `dot`).
  public let measure: ScoreMeasure
  /// `k_c` of each checkpoint.
  public let dims: [Int]
  /// The number of target groups `G`.
  public let groupCount: Int
  /// Whether rows with NaN/∞ score `-∞` instead of failing.
  public let skipNonFinite: Bool
  /// Per checkpoint, `G × k_c` row-major: `η_c · mean_{j∈g} t_j`.
  let directions: [[Float]]
}

extension Scorer {
  /// Reduces the targets of every checkpoint to their group directions.
  ///
  /// - Parameters:
  ///   - targets: per checkpoint `c`, the target features (`M × k_c`).
  ///   - weights: per checkpoint, `η_c` (renormalized to sum to 1).
  ///   - targetGroups: `M` subtask labels, or nil for one group.
  /// - Throws: `.unsupported` for `influence`, whose directions depend on the
  ///   Gram matrix of the whole pool; otherwise as `score(_:targetGroups:)`.
  /// - Complexity: O(C·M·k).
  public func prepareTargets(
    _ targets: [any FeatureSource], weights: [Double], targetGroups: [Int]? = nil
  ) throws -> ScoringTargets {
    guard measure != .influence else {
      throw WinnowError(
        .unsupported,
        "influence scores need the Gram matrix of the whole pool, so they cannot be "
          + "prepared for scoring piece by piece; use cosine or dot, or score the pool whole")
    }
    guard targets.count == weights.count else {
      throw WinnowError.shape("\(targets.count) target sets but \(weights.count) checkpoint weights")
    }
    // Train stand-ins of one row: the plan checks shapes and never reads them.
    let checkpoints = zip(targets, weights).map { target, weight in
      ScoringCheckpoint(train: _RowPointerFeatures.placeholder(dim: target.dim), target: target, weight: weight)
    }
    let plan = try ScoringPlan(self, checkpoints, targetGroups)
    let pass = ScoringPass(plan: plan, checkpoints: checkpoints, progress: nil)
    var directions = [[Float]]()
    for c in checkpoints.indices { directions.append(try pass.targetDirections(checkpoint: c)) }
    return ScoringTargets(
      measure: measure, dims: targets.map(\.dim), groupCount: plan.groupCount,
      skipNonFinite: skipNonFinite, directions: directions)
  }

  /// Scores `rows` train rows against prepared targets.
  ///
  /// - Parameters:
  ///   - train: per checkpoint `c`, `rows × k_c` features, row-major.
  ///   - rows: the number of rows, `> 0`.
  ///   - targets: from `prepareTargets` (its measure and `skipNonFinite` apply).
  /// - Returns: `rows` scores (`-∞` for skipped rows) and the skipped rows,
  ///   counted from 0.
  /// - Throws: `.shapeMismatch` for a checkpoint count that differs from the
  ///   targets', `.nonFinite` naming the row, `.numerical` on overflow.
  /// - Complexity: O(C·rows·k·G) time, O(rows·G) memory.
  public func score(
    rows train: [UnsafePointer<Float>], count rows: Int, against targets: ScoringTargets
  ) throws -> ScoringResult {
    guard train.count == targets.dims.count else {
      throw WinnowError.shape(
        "\(train.count) train blocks for \(targets.dims.count) checkpoints of prepared targets")
    }
    guard rows > 0 else { throw WinnowError.invalid("no train rows to score") }
    // One block of all rows: two `rows × G` score buffers, and per row a
    // score, a scale and a flag (counted as 3 floats).
    let groups = try CheckedSize.sum([targets.groupCount, targets.groupCount, 3], "the scores of a piece")
    _ = try CheckedSize.allocatable([rows, groups], elementSize: 4, "the scores of \(rows) train rows")
    let checkpoints = zip(train, targets.dims).map { pointer, k in
      ScoringCheckpoint(train: _RowPointerFeatures(base: pointer, rowCount: rows, dim: k),
                        target: _RowPointerFeatures.placeholder(dim: k))
    }
    let plan = ScoringPlan(
      pieceOf: targets, rows: rows, maxDim: targets.dims.max() ?? 0)
    let pass = ScoringPass(plan: plan, checkpoints: checkpoints, progress: nil)
    return try pass.scorePool(directions: targets.directions)
  }
}

/// Borrowed row-major rows (`rowCount × dim`), lent in place; valid only
/// during the call that made it.
struct _RowPointerFeatures: ContiguousFeatureSource, @unchecked Sendable {
  let base: UnsafePointer<Float>?
  let rowCount: Int
  let dim: Int
  var label: String { "train rows" }

  static func placeholder(dim: Int) -> _RowPointerFeatures {
    _RowPointerFeatures(base: nil, rowCount: 1, dim: dim)
  }

  func readRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
    try checkRange(rows)
    guard let base else { throw WinnowError(.internal, "a placeholder source was read") }
    out.update(from: base + rows.lowerBound * dim, count: rows.count * dim)
  }

  func withRows<R>(_ rows: Range<Int>, _ body: (UnsafePointer<Float>) throws -> R) throws -> R? {
    try checkRange(rows)
    guard let base else { throw WinnowError(.internal, "a placeholder source was read") }
    return try body(base + rows.lowerBound * dim)
  }
}
