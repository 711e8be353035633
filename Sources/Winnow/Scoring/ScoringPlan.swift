/// The validated shape of one scoring run: sizes, weights, groups, blocks.
struct ScoringPlan {
  var measure: ScoreMeasure
  var damping: Float
  var skipNonFinite: Bool
  /// Train rows `N` (the same for every checkpoint).
  var rowCount: Int
  /// Target rows `M` (the same for every checkpoint).
  var targetCount: Int
  /// `η_c`, summing to 1.
  var weights: [Double]
  /// The group index (`0..<groupCount`) of each target row.
  var groupOfTarget: [Int]
  var groupSizes: [Int]
  var groupCount: Int { groupSizes.count }
  /// The largest `k` over checkpoints.
  var maxDim: Int
  /// Train rows per block: a multiple of `gramChunk` once the cap allows it,
  /// so that blocks start on the same global chunk boundaries for every cap.
  var blockRows: Int

  /// Rows per `ssyrk` update; fixed so the Gram matrix does not depend on
  /// the memory cap, and large enough that each update is compute-bound.
  static let gramChunk = 1024

  init(_ scorer: Scorer, _ checkpoints: [ScoringCheckpoint], _ groups: [Int]?) throws {
    guard let first = checkpoints.first else {
      throw WinnowError.invalid("no checkpoints to score")
    }
    measure = scorer.measure
    damping = scorer.damping
    skipNonFinite = scorer.skipNonFinite
    rowCount = first.train.rowCount
    targetCount = first.target.rowCount
    guard rowCount > 0 else {
      throw WinnowError.invalid("the candidate pool \(first.train.label) is empty: nothing to score")
    }
    guard targetCount > 0 else {
      throw WinnowError.invalid("the targets \(first.target.label) have no rows")
    }
    try Self.checkShapes(checkpoints, rowCount, targetCount)
    weights = try Self.normalizedWeights(checkpoints.map(\.weight))
    if measure == .influence, !(damping.isFinite && damping > 0) {
      throw WinnowError.invalid("damping λ = \(damping) must be finite and > 0")
    }
    (groupOfTarget, groupSizes) = try Self.groups(groups, targetCount)
    maxDim = checkpoints.map(\.train.dim).max() ?? 0
    blockRows = try Self.blockRows(
      cap: scorer.memoryCap, checkpoints: checkpoints, rows: rowCount,
      maxDim: maxDim, groups: groupSizes.count, influence: measure == .influence)
  }

  static func checkShapes(_ checkpoints: [ScoringCheckpoint], _ n: Int, _ m: Int) throws {
    for (c, cp) in checkpoints.enumerated() {
      let name = "checkpoint \(c + 1)"
      guard cp.train.rowCount == n else {
        throw WinnowError.shape(
          "\(name): train \(cp.train.label) has \(cp.train.rowCount) rows, checkpoint 1 has \(n)")
      }
      guard cp.target.rowCount == m else {
        throw WinnowError.shape(
          "\(name): target \(cp.target.label) has \(cp.target.rowCount) rows, checkpoint 1 has \(m)")
      }
      guard cp.train.dim == cp.target.dim, cp.train.dim > 0 else {
        throw WinnowError.shape(
          "\(name): train \(cp.train.label) has k = \(cp.train.dim) but target "
            + "\(cp.target.label) has k = \(cp.target.dim)")
      }
    }
  }

  /// Weights over their sum; each must be finite and ≥ 0, the sum > 0.
  ///
  /// When the sum overflows (`{DBL_MAX, DBL_MAX}`), the weights are first
  /// scaled by the largest, as `MixtureRule.normalized` does: dividing by an
  /// infinite sum would make every weight, and so every score, 0.
  static func normalizedWeights(_ w: [Double]) throws -> [Double] {
    if let bad = w.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
      throw WinnowError.invalid(
        "checkpoint weight \(bad + 1) is \(w[bad]); weights must be finite and ≥ 0")
    }
    let sum = w.reduce(0, +)
    guard sum > 0 else { throw WinnowError.invalid("checkpoint weights sum to 0") }
    // A finite sum keeps the plain quotient (and the bits scores had so far).
    guard sum.isInfinite, let top = w.max() else { return w.map { $0 / sum } }
    let scaled = w.map { $0 / top }  // in [0, 1], the largest exactly 1
    let total = scaled.reduce(0, +)  // in [1, C]
    return scaled.map { $0 / total }
  }

  /// Dense group indices (labels in ascending order) and group sizes.
  static func groups(_ labels: [Int]?, _ m: Int) throws -> ([Int], [Int]) {
    guard let labels else { return ([Int](repeating: 0, count: m), [m]) }
    guard labels.count == m else {
      throw WinnowError.shape("\(labels.count) target group labels for \(m) target rows")
    }
    let distinct = Array(Set(labels)).sorted()
    let index = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
    var sizes = [Int](repeating: 0, count: distinct.count)
    let dense = labels.map { label -> Int in
      let g = index[label] ?? 0
      sizes[g] += 1
      return g
    }
    return (dense, sizes)
  }

  /// Rows per block: what the cap leaves after the fixed costs, per row.
  static func blockRows(
    cap: Int, checkpoints: [ScoringCheckpoint], rows: Int, maxDim: Int,
    groups: Int, influence: Bool
  ) throws -> Int {
    // Shapes come from files: every size is checked (a 2^31-wide influence
    // Gram matrix is 2^64 bytes), and what a block holds must be feasible.
    let f = MemoryLayout<Float>.stride
    let targets = try checkpoints.map {
      try CheckedSize.bytes([$0.target.rowCount, $0.target.dim], elementSize: f, "the targets \($0.target.label)")
    }.max() ?? 0
    let directions = try CheckedSize.sum(
      try checkpoints.map { try CheckedSize.bytes([groups, $0.train.dim], elementSize: f, "the target directions") },
      "the target directions")
    let gram = influence
      ? try CheckedSize.bytes([maxDim, maxDim], elementSize: f, "the \(maxDim) × \(maxDim) Gram matrix") : 0
    let fixed = try CheckedSize.sum([targets, directions, gram], "the targets and the Gram matrix")
    // A block row costs its features twice (a copy, and the source's pages
    // until they are released) and two score rows.
    let perRow = try CheckedSize.bytes(
      [try CheckedSize.sum([maxDim, groups], "one block row")], elementSize: 2 * f, "one block row")
    let available = cap - fixed
    guard available >= perRow else {
      throw WinnowError(
        .outOfMemory,
        "memory cap \(cap) bytes cannot hold one block: targets and "
          + (influence ? "the \(maxDim) × \(maxDim) Gram matrix " : "target directions ")
          + "take \(fixed) bytes, and a row \(perRow) more")
    }
    var block = min(rows, available / perRow)
    if block < rows, block >= gramChunk { block -= block % gramChunk }
    try CheckedSize.checkFeasible(bytes: fixed + block * perRow, "scoring blocks of \(block) rows")  // ≤ cap
    return block
  }
}

extension ScoringPlan {
  /// The plan of scoring one piece of a pool against prepared targets: one
  /// block of all `rows` (the caller already bounds the piece's memory).
  init(pieceOf targets: ScoringTargets, rows: Int, maxDim: Int) {
    measure = targets.measure
    damping = 0
    skipNonFinite = targets.skipNonFinite
    rowCount = rows
    targetCount = 0
    weights = []
    groupOfTarget = []
    groupSizes = [Int](repeating: 1, count: targets.groupCount)
    self.maxDim = maxDim
    blockRows = rows
  }
}
