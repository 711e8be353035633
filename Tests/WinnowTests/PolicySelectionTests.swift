import Testing
@testable import Winnow

@Suite struct PolicySelectionTests {
  @Test func quotasFollowTheMixtureByLargestRemainder() throws {
    #expect(try DomainQuota.quotas(mixture: [0.5, 0.3, 0.2], available: [9, 9, 9], total: 10)
      == [5, 3, 2])
    // Remainder ties (.5, .5) go to the lower domain index.
    #expect(try DomainQuota.quotas(mixture: [0.5, 0.25, 0.25], available: [9, 9, 9], total: 10)
      == [5, 3, 2])
  }

  @Test func leftoverCapacityIsRedistributedByTheMixture() throws {
    // Domain 0 holds 1 sample: its 4 spare slots go to 1 and 2 equally.
    #expect(try DomainQuota.quotas(mixture: [0.5, 0.25, 0.25], available: [1, 9, 9], total: 10)
      == [1, 5, 4])
    // More than the pool holds: everything.
    #expect(try DomainQuota.quotas(mixture: [1, 0], available: [2, 3], total: 10) == [2, 3])
    // Zero-weight domains fill only when the others are full.
    #expect(try DomainQuota.quotas(mixture: [1, 0], available: [2, 3], total: 4) == [2, 2])
  }

  @Test func quotaSelectionTakesTheBestOfEachDomain() throws {
    let scores: [Float] = [9, 8, 7, 6, 1, 2, 3, 3]
    let domains: [Int32] = [0, 0, 0, 0, 1, 1, 1, 1]
    let got = try scores.withUnsafeBufferPointer { s in
      try domains.withUnsafeBufferPointer { d in
        try DomainQuota.select(s, domains: d, mixture: [0.5, 0.5], count: 4)
      }
    }
    // Domain 1's tie at 3 goes to the lower index 6; best first overall.
    #expect(got == [0, 1, 6, 7])
  }

  /// Brute-force GREATS in Double with explicit loops.
  func referenceGreedy(_ g: [[Double]], _ target: [Double], _ n: Int, _ eta: Double) -> [Int] {
    func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
    var chosen = [Int]()
    for _ in 0..<n {
      var best = -1, bestGain = -Double.infinity
      for i in g.indices where !chosen.contains(i) {
        // η = 0 means the limit η → 0⁺: rank by alignment alone.
        let gain = eta == 0 ? dot(g[i], target)
          : eta * dot(g[i], target) - eta * eta * chosen.reduce(0) { $0 + dot(g[i], g[$1]) }
        if gain > bestGain { (best, bestGain) = (i, gain) }
      }
      chosen.append(best)
    }
    return chosen
  }

  @Test func greedyDiversityMatchesABruteForceReference() throws {
    var state: UInt64 = 7
    func next() -> Float {
      state = CounterRandom.mix(state)
      return Float(Int(state % 2001) - 1000) / 1000
    }
    for (rows, dim, n, eta) in [(8, 5, 4, 0.5), (12, 3, 6, 1.0), (10, 6, 10, 0.2), (6, 4, 3, 0.0)] {
      let g = (0..<rows * dim).map { _ in next() }
      let t = (0..<dim).map { _ in next() }
      let got = try GreedyDiversity.select(
        features: g, rows: rows, dim: dim, target: t, count: n, stepSize: Float(eta))
      let rowsD = (0..<rows).map { r in (0..<dim).map { Double(g[r * dim + $0]) } }
      #expect(got.indices == referenceGreedy(rowsD, t.map(Double.init), n, eta))
    }
  }

  @Test func greedyPrefersDiverseOverRedundantCandidates() throws {
    // Rows 0 and 1 are identical and most aligned; row 2 is orthogonal to them.
    let g: [Float] = [1, 0, 1, 0, 0, 0.9]
    let t: [Float] = [1, 1]
    let got = try GreedyDiversity.select(features: g, rows: 3, dim: 2, target: t, count: 2, stepSize: 1)
    #expect(got.indices == [0, 2])
    let plain = try GreedyDiversity.select(features: g, rows: 3, dim: 2, target: t, count: 2, stepSize: 0)
    #expect(plain.indices == [0, 1])
  }

  @Test func greedyNeverFormsAnNByNMatrix() throws {
    // A 300 000² Float Gram matrix would need 360 GB; O(N·k) memory runs at once.
    let rows = 300_000, dim = 2
    let g = (0..<rows * dim).map { Float(($0 * 7919) % 1000) / 1000 }
    let got = try GreedyDiversity.select(
      features: g, rows: rows, dim: dim, target: [1, 0.5], count: 3, stepSize: 0.1)
    #expect(got.indices.count == 3)
  }
}
