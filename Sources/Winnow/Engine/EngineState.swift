/// The mutable state of a `SelectionEngine`: what carries across epochs and
/// what one open epoch has accumulated.
struct EngineState {
  let poolSize: Int, tasks: Int, domains: Int, dim: Int

  // MARK: Across epochs
  /// `N × T`: the combined per-task scores (a weighted sum or an EMA).
  var scoreSums: [Float]
  /// `N`: `Σ η_e` (weighted sum) or 1 once scored (EMA); 0 = never scored.
  var scoreWeights: [Float]
  var alignment: GradientAlignmentMixture
  var excessLoss: ExcessLossMixture
  var bandit: Exp3Mixture
  var lastEpoch: Int?
  var epochsEnded = 0
  var lastPlanned: EpochPlan?

  // MARK: The open epoch
  var isOpen = false
  /// The open epoch's `endEpoch` failed: `beginEpoch` may abandon it.
  var endFailed = false
  var epoch = 0
  var learningRate = 1.0
  /// Serial number of the open epoch; `fedSerial[p] == serial` ⇔ fed this epoch.
  var serial: Int32 = 0
  var fedSerial: [Int32]
  /// `featuredSerial[p] == serial` ⇔ fed with features this epoch.
  var featuredSerial: [Int32]
  /// `T × k` sums of unit-norm target rows, and row counts per task.
  var targetUnitSum: [Float]
  var targetRows: [Int]
  /// `k`: the sum of raw target rows over all tasks, and their count.
  var targetRawSum: [Double]
  var targetRawRows = 0
  /// `T × k`: per-task means of unit-norm target rows, fixed at the first candidates.
  var targetMeans: [Float]?
  /// `K × k` sums of raw candidate rows and counts per domain.
  var domainRawSum: [Double]
  var domainRows: [Int]
  /// Per domain: Σ loss, count; Σ max(loss − ref, 0), count.
  var lossSum: [Double], lossRows: [Int], excessSum: [Double], excessRows: [Int]
  /// `N × k` unit-norm features of the epoch (diversity policy only).
  var features: [Float] = []
  /// Scratch space for one chunk of normalized rows and scores.
  var scratch: [Float] = []
  var scratchScores: [Float] = []

  init(poolSize n: Int, tasks t: Int, domains k: Int, dim: Int) {
    (poolSize, tasks, domains, self.dim) = (n, t, k, dim)
    scoreSums = [Float](repeating: 0, count: n * t)
    scoreWeights = [Float](repeating: 0, count: n)
    fedSerial = [Int32](repeating: 0, count: n)
    featuredSerial = [Int32](repeating: 0, count: n)
    let uniform = [Double](repeating: 1 / Double(k), count: k)
    alignment = GradientAlignmentMixture(initial: uniform)
    excessLoss = ExcessLossMixture(initial: uniform)
    bandit = Exp3Mixture(domainCount: k)
    targetUnitSum = []
    targetRows = []
    targetRawSum = []
    domainRawSum = []
    domainRows = []
    (lossSum, lossRows, excessSum, excessRows) = ([], [], [], [])
  }

  /// Throws `.outOfMemory` unless the buffers of an engine of this size are
  /// addressable and feasible (`CheckedSize`): `N × T` scores and `N` ids at
  /// creation, `T × k` + `K × k` sums each epoch. The `N × k` features of the
  /// diversity policy are checked when an epoch opens under that policy.
  static func checkFeasible(poolSize n: Int, tasks t: Int, domains k: Int, dim: Int) throws {
    let bytes = try CheckedSize.sum(
      [
        try CheckedSize.bytes([n, t], elementSize: 4, "the engine's scores"),
        try CheckedSize.bytes([n], elementSize: 32, "the engine's per-sample state"),
        try CheckedSize.bytes([t, dim], elementSize: 4, "the target sums (tasks × feature dim)"),
        try CheckedSize.bytes([k + 1, dim], elementSize: 8, "the domain sums (domains × feature dim)"),
      ], "the engine's state")
    try CheckedSize.checkFeasible(
      bytes: bytes, "an engine of \(n) samples, \(t) tasks, \(k) domains and feature dim \(dim)")
  }

  mutating func resetMixture(_ initial: [Double]) {
    alignment = GradientAlignmentMixture(initial: initial)
    excessLoss = ExcessLossMixture(initial: initial)
    bandit = Exp3Mixture(domainCount: domains)
  }

  mutating func open(epoch e: Int, learningRate lr: Double, keepFeatures: Bool) {
    isOpen = true
    endFailed = false
    epoch = e
    learningRate = lr
    serial &+= 1
    targetUnitSum = [Float](repeating: 0, count: tasks * dim)
    targetRows = [Int](repeating: 0, count: tasks)
    targetRawSum = [Double](repeating: 0, count: dim)
    targetRawRows = 0
    targetMeans = nil
    domainRawSum = [Double](repeating: 0, count: domains * dim)
    domainRows = [Int](repeating: 0, count: domains)
    lossSum = [Double](repeating: 0, count: domains)
    excessSum = lossSum
    lossRows = domainRows
    excessRows = domainRows
    if keepFeatures, features.count != poolSize * dim {
      features = [Float](repeating: 0, count: poolSize * dim)
    } else if !keepFeatures {
      features = []
    }
  }

  /// The combined score of every position; never-scored samples get the
  /// lowest score seen. `nil` if no sample has ever been scored.
  func combinedScores(_ combination: ScoreCombination) -> [Float]? {
    var out = [Float](repeating: 0, count: poolSize)
    var lowest = Float.infinity
    for p in 0..<poolSize where scoreWeights[p] > 0 {
      let w = combination == .learningRateWeighted ? scoreWeights[p] : 1
      var best = -Float.infinity
      for t in 0..<tasks { best = max(best, scoreSums[p * tasks + t] / w) }
      out[p] = best
      lowest = min(lowest, best)
    }
    guard lowest.isFinite else { return nil }
    for p in 0..<poolSize where scoreWeights[p] == 0 { out[p] = lowest }
    return out
  }
}
