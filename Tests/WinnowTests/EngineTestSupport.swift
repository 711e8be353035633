@testable import Winnow

/// A deterministic synthetic pool for engine tests.
struct EngineFixture {
  let n: Int, k: Int
  let ids: [Int64]
  let domains: [Int32]
  let features: Matrix
  let target: Matrix

  init(n: Int = 200, k: Int = 16, domains: Int = 3, seed: UInt64 = 1) {
    self.n = n
    self.k = k
    ids = (0..<n).map { Int64(5000 + 3 * $0) }
    self.domains = (0..<n).map { Int32($0 % domains) }
    func value(_ i: Int) -> Float {
      let h = CounterRandom.mix(seed &+ UInt64(i))
      return Float(Int(h % 2001) - 1000) / 1000
    }
    features = try! Matrix(rows: n, cols: k, storage: (0..<n * k).map(value))
    target = try! Matrix(rows: 4, cols: k, storage: (0..<4 * k).map { value(1_000_000 + $0) })
  }

  func engine(_ parameters: [(EngineParameter, Double)] = []) throws -> SelectionEngine {
    let e = try SelectionEngine(ids: ids, domains: domains, featureDim: k)
    for (key, value) in parameters { try e.setParameter(key, value) }
    return e
  }

  /// One full epoch: targets, candidates in two batches, losses.
  func runEpoch(_ e: SelectionEngine, _ epoch: Int, learningRate: Double = 1) throws -> EpochPlan {
    try e.beginEpoch(epoch, learningRate: learningRate)
    try e.addTarget(task: 0, features: target)
    let half = n / 2
    for range in [0..<half, half..<n] {
      let rows = try Matrix(
        rows: range.count, cols: k,
        storage: Array(features.storage[range.lowerBound * k..<range.upperBound * k]))
      let losses = range.map { Float(1 + ($0 % 5)) + Float(epoch) * 0.1 }
      try e.addCandidates(
        ids: Array(ids[range]), features: rows, losses: losses,
        referenceLosses: range.map { _ in 2 })
    }
    return try e.endEpoch()
  }
}
