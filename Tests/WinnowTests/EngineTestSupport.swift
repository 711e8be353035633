import Testing
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

/// Expects two GREATS step plans computed from the same batch along two
/// different float paths (e.g. raw gradients projected inside the engine vs
/// features projected in another batch shape) to agree up to rounding.
///
/// Gains agree to within `tolerance`. Pick order is compared exactly while the
/// plans agree; where they first diverge, the two picks must be a near tie
/// (their gains within `tolerance`), after which later picks depend on that
/// choice and are no longer comparable.
func expectSamePicks(
  _ a: StepPlan, _ b: StepPlan, tolerance: Float, sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(a.indices.count == b.indices.count, sourceLocation: sourceLocation)
  for i in 0..<min(a.indices.count, b.indices.count) {
    #expect(abs(a.gains[i] - b.gains[i]) <= tolerance, "pick \(i)", sourceLocation: sourceLocation)
    if a.indices[i] != b.indices[i] { return }
  }
}

/// The rounding tolerance of GREATS gains computed from `rows × k` features
/// that were themselves projected from `D`-dimensional gradients in float32.
///
/// Each gain `η⟨g_i, t⟩ − η² Σ_{j∈S} ⟨g_i, g_j⟩` sums products whose
/// projected factors carry a relative error of at most `γ_D ≈ D·u` (a length-`D`
/// dot product, `u = 2⁻²⁴`), then adds `k`-term dot products and up to `b`
/// picks: at most `(D + k + b)·u` relative to the sum of the absolute terms,
/// which Cauchy–Schwarz bounds by `η‖t‖·max‖g‖ + η²·b·max‖g‖²`. A factor 4
/// covers the error of the bound itself (the `1/√k` scale, the `γ` terms' second order).
func greatsGainTolerance(
  features: [Float], rows: Int, k: Int, target: [Float], inputDim: Int, keep: Int, stepSize: Float
) -> Float {
  func norm(_ x: ArraySlice<Float>) -> Float { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
  let maxRow = (0..<rows).map { norm(features[$0 * k..<($0 + 1) * k]) }.max() ?? 0
  let scale = stepSize * norm(target[...]) * maxRow + stepSize * stepSize * Float(keep) * maxRow * maxRow
  return 4 * Float(inputDim + k + keep) * Float.ulpOfOne / 2 * scale
}
