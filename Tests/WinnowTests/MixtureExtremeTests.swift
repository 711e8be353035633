import Testing
@testable import Winnow

/// Every mixture and reweighting rule stays NaN-free (finite, summing to 1
/// where it is a distribution) for the most extreme finite inputs: weights of
/// `DBL_MAX`, losses and scores of `±FLT_MAX`, the parameters at their bounds.
@Suite struct MixtureExtremeTests {
  let big = Double(Float.greatestFiniteMagnitude)

  func expectDistribution(_ m: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(m.allSatisfy { $0.isFinite && $0 >= 0 }, "\(m)", sourceLocation: sourceLocation)
    #expect(abs(m.reduce(0, +) - 1) < 1e-12, "\(m)", sourceLocation: sourceLocation)
  }

  @Test func initialMixtureOfHugeWeightsIsNormalizedWithoutOverflow() throws {
    let e = try SelectionEngine(ids: [1, 2, 3], domains: [0, 1, 2], featureDim: 2)
    try e.setInitialMixture([.greatestFiniteMagnitude, .greatestFiniteMagnitude, .greatestFiniteMagnitude / 2])
    #expect(e.mixture.map { ($0 * 1e12).rounded() / 1e12 } == [0.4, 0.4, 0.2])
    // The ratio underflows: that domain's weight is 0, the others stay finite.
    try e.setInitialMixture([.greatestFiniteMagnitude, .leastNonzeroMagnitude, 1])
    expectDistribution(e.mixture)
    for rule in 1...2 {
      try e.setParameter(.mixtureRule, Double(rule))
      expectDistribution(e.mixture)
    }
  }

  @Test func excessLossWithoutSmoothingAndExtremeLossesStaysADistribution() throws {
    let e = try SelectionEngine(ids: [1, 2, 3, 4], domains: [0, 0, 1, 1], featureDim: 1)
    let features = try Matrix(rows: 4, cols: 1, storage: [1, -1, 2, 3])
    let target = try Matrix(rows: 1, cols: 1, storage: [1])
    try e.setParameter(.mixtureRule, 2)
    try e.setParameter(.mixtureSmoothing, 0)
    try e.setParameter(.excessLossStepSize, 1e6)
    try e.setParameter(.policy, 1)  // domain quotas: they read the mixture
    try e.setParameter(.selectFraction, 0.5)
    let f = Float.greatestFiniteMagnitude
    for epoch in 0..<3 {
      try e.beginEpoch(epoch)
      try e.addTarget(task: 0, features: target)
      try e.addCandidates(ids: [1, 2, 3, 4], features: features, losses: [f, f, -f, f], referenceLosses: [-f, -f, f, -f])
      let plan = try e.endEpoch()
      expectDistribution(plan.mixture)
      expectDistribution(plan.mixtureAverage)
    }
    // The rule works on: an ordinary epoch still plans.
    try e.beginEpoch(3)
    try e.addTarget(task: 0, features: target)
    try e.addCandidates(ids: [1, 2, 3, 4], features: features, losses: [1, 1, 2, 2], referenceLosses: [1, 1, 1, 1])
    expectDistribution(try e.endEpoch().mixture)
  }

  @Test func mixtureRulesStayDistributionsAtTheirExtremes() {
    var excess = ExcessLossMixture(initial: [0.5, 0.5])
    excess.update(excess: [big * 2, 0], stepSize: 1e6, smoothing: 0)
    expectDistribution(excess.mixture)
    #expect(excess.mixture == [1, 0])  // e^(−1e300) underflows in linear space…
    excess.update(excess: [0, .greatestFiniteMagnitude], stepSize: 1e6, smoothing: 0)
    expectDistribution(excess.mixture)
    #expect(excess.mixture == [0, 1])  // …but not in log space, where it recovers

    var alignment = GradientAlignmentMixture(initial: [0.5, 0.5])
    for _ in 0..<4 {
      alignment.update(alignment: [1e6, -1e6], clip: 1e6, mu: 1e-6)  // steps of ±1e12
      expectDistribution(alignment.mixture)
    }
    alignment.update(alignment: [-1e6, 1e6], clip: 1e6, mu: 1e-6)
    expectDistribution(alignment.mixture)

    var bandit = Exp3Mixture(domainCount: 3)
    for _ in 0..<5 {
      bandit.update(rewards: [big, -big, nil])
      expectDistribution(bandit.mixture)
    }
  }

  @Test func softmaxTakesTheLimitsOfInfiniteInputs() {
    #expect(Softmax.of([.infinity, 0, .infinity]) == [0.5, 0, 0.5])
    #expect(Softmax.of([-.infinity, -.infinity]) == [0.5, 0.5])
    #expect(Softmax.of([-.infinity, 3]) == [0, 1])
  }

  @Test func selfNormalizedWeightsOfExtremeScoresAreFiniteWithMeanOne() throws {
    let f = Float.greatestFiniteMagnitude
    for scores in [[f, -f, 0, -f], [f, f, -f, -f], [-f, -f, -f, f]] {
      let w = try scores.withUnsafeBufferPointer {
        try Reweighting.selfNormalized($0, temperature: 1e-6, minimum: 0.1, maximum: 10)
      }
      #expect(w.allSatisfy { $0.isFinite && $0 >= 0.1 && $0 <= 10 }, "\(w)")
      #expect(abs(w.reduce(0, +) / 4 - 1) < 1e-5, "\(w)")
    }
  }

  @Test func unbiasedWeightsRefuseProbabilitiesWhoseWeightOverflows() throws {
    #expect(try Reweighting.unbiased(inclusion: [0.5, 1], poolSize: 4) == [1, 0.5])
    #expect(throws: WinnowError.self) {
      try Reweighting.unbiased(inclusion: [1e-300, 1], poolSize: 4)
    }
  }

  @Test func stochasticProbabilitiesOfExtremeScoresAreFinite() throws {
    let f = Float.greatestFiniteMagnitude
    let scores: [Float] = [f, -f, 0, f, -f, 1]
    let ids: [Int64] = [1, 2, 3, 4, 5, 6]
    let draw = try scores.withUnsafeBufferPointer { s in
      try ids.withUnsafeBufferPointer { i in
        try StochasticSelection.draw(
          scores: s, ids: i, count: 3, temperature: 1e-6, floor: 0.01, seed: 1, epoch: 0)
      }
    }
    #expect(draw.inclusion.allSatisfy { $0.isFinite && $0 > 0 && $0 <= 1 })
    #expect(abs(draw.inclusion.reduce(0, +) - 3) < 1e-9)
    #expect(draw.indices.count == 3)
  }
}
