import Testing
@testable import Winnow

/// An engine never gets stuck: unbiased weighting is refused when the epoch
/// begins, tiny-norm rows are zero rows, and after a failed `endEpoch` the
/// caller may change parameters and retry, or abandon the epoch.
@Suite struct EngineRecoveryTests {
  let fixture = EngineFixture(n: 40, k: 8)

  @Test func unbiasedWeightingWithoutTheStochasticPolicyIsRefusedAtBeginEpoch() throws {
    let e = try fixture.engine([(.weighting, 3), (.selectFraction, 0.5)])
    #expect(throws: WinnowError.self) { try e.beginEpoch(0) }
    #expect(!e.state.isOpen)
    try e.setParameter(.policy, 2)  // stochastic: accepted
    let plan = try fixture.runEpoch(e, 0)
    #expect(plan.weights.allSatisfy { $0.isFinite && $0 > 0 })
  }

  @Test func rowsWhoseInverseNormOverflowsAreZeroRows() throws {
    var x: Float = 1e-39
    #expect(try SelectionEngine.inverseNorm(&x, 1) == 0)
    var y: Float = 2
    #expect(try SelectionEngine.inverseNorm(&y, 1) == 0.5)
  }

  @Test func aFailedEndEpochAcceptsParametersAndCanBeAbandoned() throws {
    let e = try fixture.engine()
    try e.beginEpoch(0)
    #expect(throws: WinnowError.self) { try e.setParameter(.selectFraction, 0.5) }
    #expect(throws: WinnowError.self) { _ = try e.endEpoch() }  // no features yet
    try e.setParameter(.selectFraction, 0.5)  // allowed now
    #expect(throws: WinnowError.self) { try e.beginEpoch(0) }  // must come after it
    try e.beginEpoch(1)  // abandons epoch 0
    #expect(e.state.isOpen && e.state.epoch == 1 && e.state.epochsEnded == 0)
    #expect(throws: WinnowError.self) { try e.setParameter(.selectFraction, 0.25) }
    try e.addTarget(task: 0, features: fixture.target)
    try e.addCandidates(ids: fixture.ids, features: fixture.features)
    let plan = try e.endEpoch()
    #expect(plan.epoch == 1 && plan.count == fixture.n / 2)
    // A failed end fixed by a parameter, then ended: no data lost.
    try e.beginEpoch(2)
    try e.addTarget(task: 0, features: fixture.target)
    try e.addCandidates(ids: fixture.ids, features: fixture.features)
    e.auditLogPath = "/nonexistent-dir/winnow/audit.jsonl"
    #expect(throws: WinnowError.self) { _ = try e.endEpoch() }
    try e.setParameter(.selectFraction, 0.25)
    e.auditLogPath = nil
    #expect(try e.endEpoch().count == fixture.n / 4)
  }
}
