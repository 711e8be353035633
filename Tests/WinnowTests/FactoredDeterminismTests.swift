import Testing
@testable import Winnow

@Suite(.serialized) struct FactoredDeterminismTests {
  static let specs = [
    LinearLayerSpec(id: 5, inputDim: 300, outputDim: 180, inputRank: 16, outputRank: 12),
    LinearLayerSpec(id: 6, inputDim: 96, outputDim: 257, inputRank: 7, outputRank: 16),
  ]
  static let projector = try! FactoredProjector(layers: specs, seed: 2024)
  static let batch = FactorBatch.random(specs, tokenCounts: [37, 5, 120, 1, 64, 300], seed: 21)

  static func features(_ samples: [Int]) throws -> Matrix {
    let sub = batch.subset(samples)
    return try sub.with { try projector.project(tokenCounts: sub.tokenCounts, layers: $0) }
  }

  @Test func sampleFeaturesDoNotDependOnBatchComposition() throws {
    let alone = try Self.features([0]).row(0)
    let compositions: [([Int], Int)] = [
      ([2, 0], 1), ([5, 3, 0, 1], 2), ([0, 1, 2, 3, 4, 5], 0), ([4, 4, 0], 2),
    ]
    for (samples, position) in compositions {
      let f = try Self.features(samples).row(position)
      #expect(relativeL2Error(f, alone) < 1e-5, "batch \(samples)")
    }
  }

  @Test func featuresAndGramDoNotDependOnBLASThreadCount() throws {
    let saved = Runtime.blasThreads
    defer { Runtime.blasThreads = saved }
    let ghost = try GhostDotProducts(layers: Self.specs)
    var results: [(Matrix, Matrix)] = []
    for threads in [1, 2] {
      Runtime.blasThreads = threads
      let gram = try Self.batch.with { try ghost.gram(tokenCounts: Self.batch.tokenCounts, layers: $0) }
      results.append((try Self.features([0, 1, 2, 3, 4, 5]), gram.values))
    }
    #expect(relativeL2Error(results[0].0.storage, results[1].0.storage) < 1e-5)
    #expect(relativeL2Error(results[0].1.storage, results[1].1.storage) < 1e-5)
  }

  @Test func sameSeedAndLayersGiveIdenticalFeaturesAcrossProjectors() throws {
    let other = try FactoredProjector(layers: Self.specs, seed: 2024)
    let sub = Self.batch.subset([3, 1])
    let f = try sub.with { try other.project(tokenCounts: sub.tokenCounts, layers: $0) }
    #expect(f == (try Self.features([3, 1])))
  }
}
