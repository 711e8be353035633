import Testing
@testable import Winnow

/// Changes the process-wide BLAS thread count, hence `.serialized`.
@Suite(.serialized) struct EngineDeterminismTests {
  let f = EngineFixture(n: 3000, k: 64)

  func plans(policy: Double, threads: Int) throws -> [EpochPlan] {
    let saved = Runtime.blasThreads
    Runtime.blasThreads = threads
    defer { Runtime.blasThreads = saved }
    let e = try f.engine([(.policy, policy), (.seed, 77), (.mixtureRule, 2), (.selectFraction, 0.05)])
    return try (0..<3).map { try f.runEpoch(e, $0, learningRate: 1 / Double($0 + 1)) }
  }

  @Test(arguments: [0.0, 1, 2, 3])
  func identicalInputsAndSeedGiveIdenticalPlansWithOneOrTwoBLASThreads(policy: Double) throws {
    let one = try plans(policy: policy, threads: 1)
    let again = try plans(policy: policy, threads: 1)
    let two = try plans(policy: policy, threads: 2)
    #expect(one == again)
    #expect(one == two)
  }

  @Test func differentSeedsGiveDifferentStochasticPlans() throws {
    let a = try f.engine([(.policy, 2), (.seed, 1)]), b = try f.engine([(.policy, 2), (.seed, 2)])
    #expect(try f.runEpoch(a, 0).positions != (try f.runEpoch(b, 0).positions))
  }

  @Test func stepModeKeepsTheGreedyPicksWithUnitWeights() throws {
    let batch = try Matrix(rows: 256, cols: f.k, storage: Array(f.features.storage[0..<256 * f.k]))
    let target = f.target.row(0)
    let saved = Runtime.blasThreads
    defer { Runtime.blasThreads = saved }
    Runtime.blasThreads = 1
    let s1 = try StepSelection.select(features: batch, target: target, keep: 64, stepSize: 0.05)
    Runtime.blasThreads = 2
    let s2 = try StepSelection.select(features: batch, target: target, keep: 64, stepSize: 0.05)
    #expect(s1 == s2 && s1.indices.count == 64 && Set(s1.indices).count == 64)
    #expect(s1.weights.allSatisfy { $0 == 1 })
    let direct = try GreedyDiversity.select(
      features: batch.storage, rows: 256, dim: f.k, target: target, count: 64, stepSize: 0.05)
    #expect(direct.indices == s1.indices)
    #expect(throws: WinnowError.self) {
      try StepSelection.select(features: batch, target: target, keep: 257, stepSize: 0.05)
    }
  }
}
