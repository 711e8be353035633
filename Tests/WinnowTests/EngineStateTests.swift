import Foundation
import Testing
@testable import Winnow

@Suite struct EngineStateTests {
  let f = EngineFixture()

  func code(_ body: () throws -> Void) -> WinnowError.Code? {
    do { try body() } catch let e as WinnowError { return e.code } catch { return nil }
    return nil
  }

  @Test func callsOutOfOrderAreBadState() throws {
    let e = try f.engine()
    let one = Matrix(rows: 1, cols: f.k)
    #expect(code { _ = try e.endEpoch() } == .badState)
    #expect(code { try e.addTarget(task: 0, features: f.target) } == .badState)
    #expect(code { try e.addCandidates(ids: [f.ids[0]], features: one) } == .badState)
    try e.beginEpoch(3)
    #expect(code { try e.beginEpoch(4) } == .badState)
    #expect(code { try e.setParameter(.selectFraction, 0.5) } == .badState)
    // Candidate features before any target: the task has none this epoch.
    #expect(code { try e.addCandidates(ids: [f.ids[0]], features: one) } == .badState)
    // Nothing has been scored yet: no plan; the epoch stays open.
    #expect(code { _ = try e.endEpoch() } == .badState)
    try e.addTarget(task: 0, features: f.target)
    try e.addCandidates(ids: [f.ids[0], f.ids[1]], features: Matrix(rows: 2, cols: f.k))
    #expect(code { try e.addTarget(task: 0, features: f.target) } == .badState)
    #expect(code { try e.addCandidates(ids: [f.ids[1]], features: one) } == .badState)
    // A duplicate inside one batch fails without marking the others.
    #expect(code { try e.addCandidates(ids: [f.ids[2], f.ids[2]], features: nil, losses: [1, 1]) }
      == .badState)
    try e.addCandidates(ids: [f.ids[2]], features: one)
    _ = try e.endEpoch()
    #expect(code { try e.beginEpoch(3) } == .badState)  // epochs must increase
    try e.beginEpoch(4)
  }

  @Test func wrongShapesNonFiniteInputsAndUnknownIdsAreRejected() throws {
    let e = try f.engine()
    try e.beginEpoch(0)
    #expect(code { try e.addTarget(task: 0, features: Matrix(rows: 1, cols: f.k + 1)) }
      == .shapeMismatch)
    #expect(code { try e.addTarget(task: 1, features: f.target) } == .invalidArgument)
    var bad = f.target
    bad[1, 2] = .nan
    #expect(code { try e.addTarget(task: 0, features: bad) } == .nonFinite)
    try e.addTarget(task: 0, features: f.target)
    #expect(code { try e.addCandidates(ids: [f.ids[0]], features: Matrix(rows: 1, cols: 3)) }
      == .shapeMismatch)
    var row = Matrix(rows: 1, cols: f.k)
    row[0, 0] = .infinity
    #expect(code { try e.addCandidates(ids: [f.ids[0]], features: row) } == .nonFinite)
    #expect(code { try e.addCandidates(ids: [f.ids[0]], features: nil, losses: [.nan]) } == .nonFinite)
    #expect(code { try e.addCandidates(ids: [-1], features: nil, losses: [1]) } == .invalidArgument)
    #expect(code { try e.addCandidates(startingAt: f.n - 1, count: 2, features: nil, dim: 0) }
      == .invalidArgument)
    // None of the failed calls marked sample 0 as fed.
    try e.addCandidates(ids: [f.ids[0]], features: Matrix(rows: 1, cols: f.k))
  }

  @Test func parametersOutOfRangeAreInvalidArguments() throws {
    let e = try f.engine()
    let bad: [(EngineParameter, Double)] = [
      (.selectFraction, 0), (.selectFraction, 1.5), (.policy, 4), (.policy, 1.5),
      (.temperature, 0), (.explorationFloor, -0.1), (.emaDecay, 1), (.selectEvery, 0),
      (.weightMax, 0.5), (.weightMin, 2), (.seed, -1), (.mixtureRule, .nan), (.alignmentClip, 0),
    ]
    for (key, value) in bad { #expect(code { try e.setParameter(key, value) } == .invalidArgument) }
    try e.setParameter(.policy, 2)
    #expect(e.configuration.policy == .stochastic && e.parameter(.policy) == 2)
    try e.setIntegerParameter(.seed, -1)
    #expect(e.configuration.seed == UInt64.max)
    #expect(code { _ = try SelectionEngine(ids: [1, 1], featureDim: 2) } == .invalidArgument)
    #expect(code { _ = try SelectionEngine(ids: [1, 2], domains: [0], featureDim: 2) } == .shapeMismatch)
    #expect(code { _ = try SelectionEngine(ids: [1], domains: [-1], featureDim: 2) } == .invalidArgument)
    #expect(code { try e.setInitialMixture([1, 1]) } == .shapeMismatch)
  }

  @Test func topFractionSelectsTheBestScoresAndReportsCertainInclusion() throws {
    let e = try f.engine([(.selectFraction, 0.1)])
    let plan = try f.runEpoch(e, 0)
    let scores = try e.scores()
    let expected = try scores.withUnsafeBufferPointer { try Selection.top($0, k: 20) }
    #expect(plan.positions == expected && plan.ids == expected.map { f.ids[$0] })
    #expect(plan.weights.allSatisfy { $0 == 1 } && plan.inclusion.allSatisfy { $0 == 1 })
    #expect(e.inclusionProbabilities.reduce(0, +) == 20)
    #expect(plan.domainCounts.reduce(0, +) == 20)
  }

  @Test func scoresAreLearningRateWeightedOrMovingAverages() throws {
    let e = try SelectionEngine(ids: [7, 8], featureDim: 2)
    try e.beginEpoch(0, learningRate: 1)
    try e.addTarget(task: 0, features: try Matrix(rows: 1, cols: 2, storage: [1, 0]))
    try e.addCandidates(ids: [7, 8], features: try Matrix(rows: 2, cols: 2, storage: [1, 0, 0, 2]))
    _ = try e.endEpoch()
    try e.beginEpoch(1, learningRate: 3)
    try e.addTarget(task: 0, features: try Matrix(rows: 1, cols: 2, storage: [0, 5]))
    try e.addCandidates(ids: [7, 8], features: try Matrix(rows: 2, cols: 2, storage: [1, 0, 0, 2]))
    _ = try e.endEpoch()
    // Cosines: epoch 0 → [1, 0], epoch 1 → [0, 1]; weights 1 and 3.
    #expect(try e.scores() == [0.25, 0.75])
  }

  @Test func warmupSelectEveryAndReuseFollowTheSchedule() throws {
    let e = try f.engine([
      (.warmupEpochs, 2), (.warmupFraction, 0.25), (.selectEvery, 2), (.policy, 2),
      (.selectFraction, 0.1),
    ])
    let w0 = try f.runEpoch(e, 0), w1 = try f.runEpoch(e, 1)
    #expect(w0.kind == .warmup && w0.count == 50 && w0.inclusion.allSatisfy { $0 == 0.25 })
    #expect(w0.positions != w1.positions, "each warm-up epoch draws a fresh subset")
    let p2 = try f.runEpoch(e, 2), p3 = try f.runEpoch(e, 3), p4 = try f.runEpoch(e, 4)
    #expect(p2.kind == .planned && p3.kind == .reused && p4.kind == .planned)
    #expect(p3.positions == p2.positions && p3.weights == p2.weights && p3.epoch == 3)
    #expect(p2.count == 20)
  }

  @Test func stochasticPlansCarryUnbiasedWeights() throws {
    let e = try f.engine([(.policy, 2), (.selectFraction, 0.1), (.explorationFloor, 0.2)])
    let plan = try f.runEpoch(e, 0)
    let pi = e.inclusionProbabilities
    #expect(abs(pi.reduce(0, +) - 20) < 1e-9)
    for (j, p) in plan.positions.enumerated() {
      #expect(plan.inclusion[j] == pi[p])
      #expect(abs(Double(plan.weights[j]) - 20 / (200 * pi[p])) < 1e-5)
    }
  }

  @Test func quotaPlansFollowTheMixture() throws {
    let e = try f.engine([(.policy, 1), (.selectFraction, 0.1)])
    try e.setInitialMixture([2, 1, 1])
    let plan = try f.runEpoch(e, 0)
    #expect(plan.domainCounts == [10, 5, 5])
  }

  @Test func diversityPolicyRunsTheGreedyOverTheEpochFeatures() throws {
    let e = try f.engine([(.policy, 3), (.selectFraction, 0.05), (.diversityStepSize, 0.1)])
    let plan = try f.runEpoch(e, 0)
    #expect(plan.count == 10 && Set(plan.positions).count == 10)
    // η = 0: the greedy is top-k by cosine to the target mean.
    let plain = try f.engine([(.policy, 3), (.selectFraction, 0.05), (.diversityStepSize, 0)])
    let top = try f.runEpoch(plain, 0)
    let s = try plain.scores()
    #expect(Set(top.positions) == Set(try s.withUnsafeBufferPointer { try Selection.top($0, k: 10) }))
  }

  @Test func auditLinesAreJSONWithAChecksumOfIdsAndWeights() throws {
    let path = NSTemporaryDirectory() + "winnow-audit-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).jsonl"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let e = try f.engine([(.policy, 2), (.seed, 9)])
    e.auditLogPath = path
    let plans = [try f.runEpoch(e, 0), try f.runEpoch(e, 1)]
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 2)
    for (line, plan) in zip(lines, plans) {
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
      #expect(object["epoch"] as? Int == plan.epoch && object["policy"] as? String == "stochastic")
      #expect(object["selected"] as? Int == plan.count)
      let params = object["parameters"] as! [String: Any]
      #expect(params["seed"] as? Int == 9 && params["select_fraction"] as? Double == 0.05)
      let sum = AuditLog.checksum(ids: plan.ids, weights: plan.weights)
      #expect(object["checksum"] as? String == "fnv1a64:" + String(format: "%016llx", sum))
    }
    // FNV-1a 64 of no bytes is the offset basis; of the byte 0x61 ("a") a known value.
    #expect(AuditLog.checksum(ids: [], weights: []) == 0xcbf2_9ce4_8422_2325)
  }

  @Test func anAuditLogThatCannotBeOpenedIsNamedWithTheSystemsText() throws {
    let path = NSTemporaryDirectory() + "winnow-missing-\(UUID().uuidString)/audit.jsonl"
    #expect {
      try AuditLog.append("{}", to: path)
    } throws: {
      let message = ($0 as? WinnowError)?.message ?? ""
      return message.contains(path) && message.contains("the audit log")
        && message.contains("No such file or directory")
    }
  }
}
