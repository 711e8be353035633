import Foundation
import Testing
import Winnow  // public API only, as a user sees it

/// The README's Swift example, with small data, so it cannot rot.
@Suite struct ReadmeExampleTests {
  @Test func theReadmeSwiftExampleRunsAsWritten() throws {
    let (n, D, k) = (40, 300, 16)
    var rng = TestRNG(4)
    let gradients = rng.normals(n * D)
    var features = [Float](repeating: 0, count: n * k)

    let projector = try DenseProjector(kind: .rademacher, seed: 0, inputDim: D, outputDim: k)
    try projector.project(gradients, rows: n, into: &features)

    let pool = try Matrix(rows: n, cols: k, storage: features)
    let targetFeatures = try Matrix(rows: 3, cols: k, storage: Array(features[0..<3 * k]))
    let subtasks = [0, 0, 1]
    let scores = try Scorer(measure: .cosine).score(
      [ScoringCheckpoint(train: pool, target: targetFeatures, weight: 1)],
      targetGroups: subtasks
    ).scores
    let best = try scores.withUnsafeBufferPointer { try Selection.top($0, fraction: 0.05) }
    #expect(best.count == 2)
    #expect(best.allSatisfy { $0 < 3 })  // the targets' own rows score highest

    let ids = (0..<Int64(n)).map { $0 + 100 }
    let domains = (0..<n).map { Int32($0 % 2) }
    let engine = try SelectionEngine(ids: ids, domains: domains, featureDim: k)
    try engine.setParameter(.policy, 2)  // stochastic
    try engine.beginEpoch(0, learningRate: 1e-4)
    try engine.addTarget(task: 0, features: targetFeatures)
    try engine.addCandidates(ids: ids, features: pool, losses: nil, referenceLosses: nil)
    let plan = try engine.endEpoch()
    #expect(plan.ids.count == plan.weights.count && plan.ids.count == plan.inclusion.count)
    #expect(!plan.ids.isEmpty && plan.mixture.count == 2)
  }
}
