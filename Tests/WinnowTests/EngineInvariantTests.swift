import Testing
@testable import Winnow

@Suite struct EngineInvariantTests {
  let f = EngineFixture()

  @Test(arguments: [0.0, 1, 2, 3])
  func theStateIsConsistentThroughEpochCyclesUnderEveryPolicy(policy: Double) throws {
    let e = try f.engine([(.policy, policy), (.mixtureRule, 2), (.selectFraction, 0.1)])
    e._checkInvariants()
    for epoch in [1, 2, 5] {
      _ = try f.runEpoch(e, epoch, learningRate: 0.5)
      e._checkInvariants()
    }
    // The open epoch, part fed: shapes and counters agree mid-epoch too.
    try e.beginEpoch(6)
    e._checkInvariants()
    try e.addTarget(task: 0, features: f.target)
    try e.addCandidates(ids: Array(f.ids[0..<3]), features: try Matrix(rows: 3, cols: f.k, storage: Array(f.features.storage[0..<3 * f.k])))
    e._checkInvariants()
    #expect(e.state.domainRows.reduce(0, +) == 3)
    #expect(e.state.fedSerial.filter { $0 == e.state.serial }.count == 3)
  }
}

#if DEBUG
  @Suite struct BrokenInvariantTests {
    @Test func aPerCandidateArrayOfTheWrongLengthTraps() async {
      await #expect(processExitsWith: .failure) {
        var state = EngineState(poolSize: 4, tasks: 1, domains: 2, dim: 3)
        state.scoreWeights.removeLast()
        state._checkInvariants()
      }
    }

    @Test func domainRowsThatDisagreeWithTheFeaturedCandidatesTrap() async {
      await #expect(processExitsWith: .failure) {
        var state = EngineState(poolSize: 4, tasks: 1, domains: 2, dim: 3)
        state.open(epoch: 0, learningRate: 1, keepFeatures: false)
        state.domainRows[1] = 1
        state._checkInvariants()
      }
    }
  }
#endif
