import Foundation
import Testing
@testable import Winnow

@Suite struct PolicyStochasticTests {
  /// A pool with spread-out scores: at τ = 0.5 the top few are capped at π = 1.
  let scores: [Float] = (0..<50).map { Float(($0 * 37) % 50) / 10 }
  let ids: [Int64] = (0..<50).map { Int64(1000 + 7 * $0) }
  let values: [Double] = (0..<50).map { sin(Double($0)) * 3 + Double($0 % 7) }

  func draw(seed: UInt64, n: Int = 10, epoch: Int = 0) throws -> StochasticSelection.Draw {
    try scores.withUnsafeBufferPointer { s in
      try ids.withUnsafeBufferPointer { i in
        try StochasticSelection.draw(
          scores: s, ids: i, count: n, temperature: 0.5, floor: 0.1, seed: seed, epoch: epoch)
      }
    }
  }

  @Test func inclusionProbabilitiesSumToTheSampleSizeAndCapAtOne() throws {
    let pi = try draw(seed: 0).inclusion
    #expect(abs(pi.reduce(0, +) - 10) < 1e-9)
    #expect(pi.allSatisfy { $0 > 0 && $0 <= 1 })
    #expect(pi.filter { $0 == 1 }.count >= 1, "the top scores should be taken with certainty")
    // Uncapped items stay proportional to p.
    let p = try scores.withUnsafeBufferPointer {
      try StochasticSelection.probabilities($0, temperature: 0.5, floor: 0.1)
    }
    let free = pi.indices.filter { pi[$0] < 1 }
    let ratio = pi[free[0]] / p[free[0]]
    for i in free { #expect(abs(pi[i] / p[i] - ratio) < 1e-9 * ratio) }
  }

  @Test func everyDrawHasExactlyTheSampleSizeOfDistinctItems() throws {
    for seed in 0..<200 as Range<UInt64> {
      let d = try draw(seed: seed)
      #expect(d.indices.count == 10 && Set(d.indices).count == 10)
    }
  }

  @Test func weightedSumOfASampleIsAnUnbiasedEstimateOfThePoolMean() throws {
    let truth = values.reduce(0, +) / Double(values.count)
    var estimates = [Double]()
    var hits = [Int](repeating: 0, count: 50)
    let runs = 4000
    for seed in 0..<UInt64(runs) {
      let d = try draw(seed: seed)
      let w = try Reweighting.unbiased(inclusion: d.indices.map { d.inclusion[$0] }, poolSize: 50)
      // (1/n)·Σ w_i x_i with w_i = n/(N·π_i) is Horvitz–Thompson for the mean.
      let est = zip(d.indices, w).reduce(0.0) { $0 + Double($1.1) * values[$1.0] } / 10
      estimates.append(est)
      for i in d.indices { hits[i] += 1 }
    }
    let mean = estimates.reduce(0, +) / Double(runs)
    let variance = estimates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(runs - 1)
    let halfWidth = 4 * (variance / Double(runs)).squareRoot()  // a 4σ interval
    #expect(abs(mean - truth) < halfWidth, "mean \(mean) vs truth \(truth) ± \(halfWidth)")
    #expect(variance > 0)
    // Each item's empirical frequency matches its π (binomial, 5σ).
    let pi = try draw(seed: 0).inclusion
    for i in 0..<50 {
      let sd = (pi[i] * (1 - pi[i]) / Double(runs)).squareRoot()
      #expect(abs(Double(hits[i]) / Double(runs) - pi[i]) <= 5 * sd + 1e-12, "item \(i)")
    }
  }

  @Test func drawsDependOnIdsNotOnPoolOrder() throws {
    let a = try draw(seed: 42, epoch: 3)
    // Reverse the pool: the same ids must be chosen.
    let rs = Array(scores.reversed()), ri = Array(ids.reversed())
    let b = try rs.withUnsafeBufferPointer { s in
      try ri.withUnsafeBufferPointer { i in
        try StochasticSelection.draw(
          scores: s, ids: i, count: 10, temperature: 0.5, floor: 0.1, seed: 42, epoch: 3)
      }
    }
    #expect(Set(a.indices.map { ids[$0] }) == Set(b.indices.map { ri[$0] }))
    #expect(try draw(seed: 42, epoch: 3) == a)
    #expect(try draw(seed: 42, epoch: 4) != a)
  }

  @Test func explorationFloorKeepsEveryProbabilityPositive() throws {
    let s: [Float] = [100, 0, 0, 0]
    let p = try s.withUnsafeBufferPointer {
      try StochasticSelection.probabilities($0, temperature: 0.01, floor: 0.2)
    }
    #expect(abs(p[1] - 0.05) < 1e-12 && abs(p[0] - 0.85) < 1e-12)
  }

  @Test func selfNormalizedWeightsHaveMeanOneWithinTheirClips() throws {
    let s: [Float] = [0, 1, 2, 10, -3]
    let w = try s.withUnsafeBufferPointer {
      try Reweighting.selfNormalized($0, temperature: 1, minimum: 0.1, maximum: 2)
    }
    let mean = w.reduce(0, +) / Float(w.count)
    #expect(abs(mean - 1) < 1e-5)
    #expect(w.allSatisfy { $0 >= 0.1 && $0 <= 2 })
    #expect(w[3] == 2 && w[4] == Float(0.1))
    // Unclipped weights keep the ratio exp(Δs/τ).
    #expect(abs(w[2] / w[1] - Float(M_E)) < 1e-4)
  }
}
