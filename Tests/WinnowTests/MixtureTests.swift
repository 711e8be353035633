import Testing
@testable import Winnow

/// Expected numbers computed by hand with Python's `math` module from the
/// DESIGN §2.5 formulas (the script is in each test's comment).
@Suite struct MixtureTests {
  func close(_ a: [Double], _ b: [Double], _ tol: Double = 1e-12) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol }
  }

  @Test func excessLossUpdateMatchesDoReMiByHand() {
    // α = [.5,.5], λ = [1, .5], η = 1, ε = .1:
    // softmax(log α + λ) = [1/(1+e^-.5), …] → α = .9·that + .05.
    var m = ExcessLossMixture(initial: [0.5, 0.5])
    m.update(excess: [1, 0.5], stepSize: 1, smoothing: 0.1)
    #expect(close(m.mixture, [0.6102133980816691, 0.38978660191833087]))
    // Domain 1 absent: it keeps λ = .5; domain 0 now λ = .25.
    m.update(excess: [0.25, nil], stepSize: 1, smoothing: 0.1)
    #expect(close(m.mixture, [0.5444516600970067, 0.45554833990299326]))
    #expect(close(m.excess, [0.25, 0.5]))
    #expect(abs(m.average[0] - 0.5773325290893379) < 1e-12)
  }

  @Test func exp3UpdateMatchesODMByHand() {
    // K = 3, rewards [1, 2, .5] every update; ε_t = min(1/3, √(ln 3/(3t))):
    // uniform until ε_{t+1} < 1/3 (t + 1 ≥ 4).
    var m = Exp3Mixture(domainCount: 3)
    for _ in 0..<2 { m.update(rewards: [1, 2, 0.5]) }
    #expect(close(m.mixture, [1.0 / 3, 1.0 / 3, 1.0 / 3]))
    m.update(rewards: [1, 2, 0.5])
    #expect(close(m.mixture, [0.30690453633375575, 0.389555192223932, 0.30354027144231227]))
    m.update(rewards: [1, 2, 0.5])
    #expect(close(m.mixture, [0.277343952767693, 0.45096902990607085, 0.2716870173262361]))
    #expect(abs(Exp3Mixture.exploration(step: 4, domainCount: 3) - (1.0986122886681098 / 12).squareRoot()) < 1e-12)
  }

  @Test func gradientAlignmentUpdateMatchesDoGEByHand() {
    // W = [.5, 1.0] clipped at .8 → [.5, .8]; μ = 2 → softmax([.25, .4]).
    var m = GradientAlignmentMixture(initial: [0.5, 0.5])
    m.update(alignment: [0.5, 1.0], clip: 0.8, mu: 2)
    #expect(close(m.mixture, [0.46257015465625045, 0.5374298453437496]))
  }

  @Test func engineComputesAlignmentFromDomainAndTargetFeatureMeans() throws {
    // Domain means [1,0] and [0,2], target mean [.5,.5]: W = [.5, 1] as above.
    let e = try SelectionEngine(ids: [10, 11, 12], domains: [0, 1, 1], featureDim: 2)
    try e.setParameter(.mixtureRule, 1)
    try e.setParameter(.alignmentClip, 0.8)
    try e.setParameter(.alignmentTemperature, 2)
    try e.beginEpoch(0)
    try e.addTarget(task: 0, features: try Matrix(rows: 2, cols: 2, storage: [1, 0, 0, 1]))
    try e.addCandidates(
      ids: [10, 11, 12], features: try Matrix(rows: 3, cols: 2, storage: [1, 0, 0, 1, 0, 3]))
    let plan = try e.endEpoch()
    #expect(close(plan.mixture, [0.46257015465625045, 0.5374298453437496], 1e-7))
  }

  @Test func engineComputesExcessLossFromPerSampleLosses() throws {
    let e = try SelectionEngine(ids: [1, 2, 3], domains: [0, 0, 1], featureDim: 1)
    try e.setParameter(.mixtureRule, 2)
    try e.setParameter(.mixtureSmoothing, 0.1)
    try e.beginEpoch(0)
    try e.addTarget(task: 0, features: try Matrix(rows: 1, cols: 1, storage: [1]))
    try e.addCandidates(
      ids: [1, 2, 3], features: try Matrix(rows: 3, cols: 1, storage: [1, 1, 1]),
      losses: [3, 1, 2], referenceLosses: [1, 2, 1.5])
    let plan = try e.endEpoch()
    #expect(close(plan.mixture, [0.6102133980816691, 0.38978660191833087], 1e-9))
    #expect(close(plan.mixtureAverage, plan.mixture))
  }
}
