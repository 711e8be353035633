import Testing

@testable import Winnow

/// A pool with `checkpoints` checkpoints of dims `dims`, for NumPy comparison.
struct ScoringFixture {
  var trains: [Matrix]
  var targets: [Matrix]
  var weights: [Double]
  var groups: [Int]?

  init(n: Int, m: Int, dims: [Int], weights: [Double], groups: [Int]?, seed: UInt64) {
    var rng = SeededRNG(seed: seed)
    trains = dims.map { Matrix.random(n, $0, &rng) }
    targets = dims.map { Matrix.random(m, $0, &rng) }
    self.weights = weights
    self.groups = groups
  }

  var checkpoints: [ScoringCheckpoint] {
    trains.indices.map {
      ScoringCheckpoint(train: trains[$0], target: targets[$0], weight: weights[$0])
    }
  }

  /// The same formula in float64 NumPy (influence through `numpy.linalg.solve`).
  func reference(_ measure: ScoreMeasure, damping: Double = 0) throws -> [Double] {
    var inputs = [String: [Float]]()
    for c in trains.indices {
      inputs["train\(c)"] = trains[c].storage
      inputs["target\(c)"] = targets[c].storage
    }
    let m = targets[0].rows
    inputs["groups"] = (groups ?? [Int](repeating: 0, count: m)).map { Float($0) }
    let script = """
      dims = \(trains.map(\.cols)); w = np.array(\(weights)); w = w / w.sum()
      S = 0
      for c, k in enumerate(dims):
          T, V = load(f'train{c}', k), load(f'target{c}', k)
          if '\(measure)' == 'cosine':
              nt = np.linalg.norm(T, axis=1, keepdims=True); nv = np.linalg.norm(V, axis=1, keepdims=True)
              T = T / np.where(nt == 0, 1, nt); V = V / np.where(nv == 0, 1, nv)
          if '\(measure)' == 'influence':
              S = S + w[c] * (T @ np.linalg.solve(T.T @ T + \(damping) * np.eye(k), V.T))
          else:
              S = S + w[c] * (T @ V.T)
      g = load('groups')
      save(np.max([S[:, g == l].mean(axis=1) for l in np.unique(g)], axis=0))
      """
    return try NumPy.run(script, inputs: inputs)
  }
}

@Suite struct ScorerTests {
  static let unequalGroups = [3, 3, 3, -1, 7, 7, 3]

  @Test(arguments: ScoreMeasure.allCases)
  func weightedCheckpointsWithUnequalGroupsMatchNumPy(_ measure: ScoreMeasure) throws {
    let f = ScoringFixture(
      n: 300, m: 7, dims: [16, 12, 16], weights: [1, 2, 0.5],
      groups: Self.unequalGroups, seed: 11)
    let scorer = Scorer(measure: measure, damping: 0.5)
    let result = try scorer.score(f.checkpoints, targetGroups: f.groups)
    #expect(result.groupCount == 3)
    #expect(result.skippedRows.isEmpty)
    expectClose(result.scores, try f.reference(measure, damping: 0.5))
  }

  @Test(arguments: ScoreMeasure.allCases)
  func oneCheckpointOneGroupMatchesNumPy(_ measure: ScoreMeasure) throws {
    let f = ScoringFixture(n: 257, m: 5, dims: [32], weights: [3], groups: nil, seed: 5)
    let result = try Scorer(measure: measure, damping: 2).score(f.checkpoints)
    expectClose(result.scores, try f.reference(measure, damping: 2))
  }

  @Test(arguments: ScoreMeasure.allCases)
  func blockSizeDoesNotChangeScores(_ measure: ScoreMeasure) throws {
    let f = ScoringFixture(
      n: 2500, m: 6, dims: [24, 24], weights: [1, 1], groups: [0, 1, 1, 2, 2, 2], seed: 3)
    let reference = try Scorer(measure: measure, damping: 1).score(f.checkpoints, targetGroups: f.groups)
    var blockSizes = Set<Int>()
    for cap in [8 << 10, 40 << 10, 200 << 10, 1 << 30] {
      let scorer = Scorer(measure: measure, damping: 1, memoryCap: cap)
      let plan = try ScoringPlan(scorer, f.checkpoints, f.groups)
      blockSizes.insert(plan.blockRows)
      let got = try scorer.score(f.checkpoints, targetGroups: f.groups)
      expectClose(got.scores, reference.scores.map(Double.init))
    }
    #expect(blockSizes.count == 4, "caps gave block sizes \(blockSizes.sorted())")
  }

  @Test func copiedSourcesAreReadInBlocksAndReleased() throws {
    let f = ScoringFixture(n: 100, m: 3, dims: [8], weights: [1], groups: nil, seed: 9)
    let copied = CopyingSource(matrix: f.trains[0])
    let cp = [ScoringCheckpoint(train: copied, target: f.targets[0])]
    let cap = 8 * 3 * 4 + 8 * 4 + 10 * (2 * 8 * 4 + 2 * 4)  // 10 rows per block
    var seen = [Int]()
    let got = try Scorer(measure: .dot, memoryCap: cap).score(cp) { done, total in
      seen.append(done)
      #expect(total == 100)
    }
    #expect(seen == Array(stride(from: 10, through: 100, by: 10)))
    #expect(copied.log.released == (0..<10).map { ($0 * 10)..<($0 * 10 + 10) })
    let direct = try Scorer(measure: .dot).score(f.checkpoints)
    #expect(got.scores == direct.scores)
  }

  @Test func zeroRowsHaveCosineZero() throws {
    var f = ScoringFixture(n: 4, m: 2, dims: [4], weights: [1], groups: nil, seed: 1)
    for j in 0..<4 { f.trains[0][2, j] = 0 }
    let result = try Scorer().score(f.checkpoints)
    #expect(result.scores[2] == 0)
  }
}

/// A source that only copies (no in-place lending) and logs releases.
final class CopyingSource: FeatureSource {
  final class Log { var released: [Range<Int>] = [] }
  let matrix: Matrix
  let log = Log()
  init(matrix: Matrix) { self.matrix = matrix }
  var rowCount: Int { matrix.rows }
  var dim: Int { matrix.cols }
  var label: String { "copying source" }
  func readRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
    try matrix.readRows(rows, into: out)
  }
  func release(rows: Range<Int>) { log.released.append(rows) }
}
