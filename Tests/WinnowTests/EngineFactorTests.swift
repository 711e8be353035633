import Testing
@testable import Winnow

/// The engine fed with linear-layer factors through a `FactoredProjector`
/// behaves exactly as the engine fed with the projected features.
@Suite struct EngineFactorTests {
  static let specs = [
    LinearLayerSpec(id: 3, inputDim: 20, outputDim: 12, inputRank: 4, outputRank: 3),
    LinearLayerSpec(id: 9, inputDim: 7, outputDim: 16, inputRank: 2, outputRank: 5),
  ]
  static let projector = try! FactoredProjector(layers: specs, seed: 31)
  static let counts = (0..<40).map { 1 + ($0 * 7) % 9 }
  static let batch = FactorBatch.random(specs, tokenCounts: counts, seed: 4)
  static let target = FactorBatch.random(specs, tokenCounts: [6, 3], seed: 5)
  static let ids = (0..<40).map { Int64(100 + $0) }

  static func features(_ b: FactorBatch) throws -> Matrix {
    try b.with { try projector.project(tokenCounts: b.tokenCounts, layers: $0) }
  }

  @Test func anEpochFedWithFactorsPlansAsOneFedWithTheirFeatures() throws {
    let byFactors = try SelectionEngine(ids: Self.ids, featureDim: Self.projector.featureDim)
    let byFeatures = try SelectionEngine(ids: Self.ids, featureDim: Self.projector.featureDim)
    for e in [byFactors, byFeatures] { try e.setParameter(.selectFraction, 0.25) }
    try byFactors.beginEpoch(0)
    try Self.target.with {
      try byFactors.addTarget(
        task: 0, tokenCounts: Self.target.tokenCounts, factors: $0, projector: Self.projector)
    }
    for part in [Array(0..<15), Array(15..<40)] {
      let sub = Self.batch.subset(part)
      let ids = part.map { Self.ids[$0] }
      try sub.with { layers in
        try ids.withUnsafeBufferPointer {
          try byFactors.addCandidates(
            ids: $0.baseAddress!, tokenCounts: sub.tokenCounts, factors: layers,
            projector: Self.projector)
        }
      }
    }
    let a = try byFactors.endEpoch()
    try byFeatures.beginEpoch(0)
    try byFeatures.addTarget(task: 0, features: try Self.features(Self.target))
    try byFeatures.addCandidates(ids: Self.ids, features: try Self.features(Self.batch))
    let b = try byFeatures.endEpoch()
    #expect(a.ids == b.ids)
    #expect(a.ids.count == 10)
  }

  @Test func stepModeFromFactorsPicksAsFromTheEquivalentFeatures() throws {
    let one = FactorBatch.random(Self.specs, tokenCounts: [11], seed: 8)
    let t = try Self.features(one).row(0)
    let expected = try StepSelection.select(
      features: try Self.features(Self.batch).storage, rows: 40, dim: Self.projector.featureDim,
      target: t, keep: 8, stepSize: 0.05)
    let fromFactors = try Self.batch.with { layers in
      try one.with { target in
        try StepSelection.select(
          tokenCounts: Self.counts, factors: layers, targetTokenCount: 11, target: target,
          projector: Self.projector, keep: 8, stepSize: 0.05)
      }
    }
    #expect(fromFactors.indices == expected.indices)
  }

  @Test func aProjectorOfAnotherFeatureDimIsRefusedBeforeAnyWork() throws {
    let e = try SelectionEngine(ids: Self.ids, featureDim: Self.projector.featureDim + 1)
    try e.beginEpoch(0)
    #expect(throws: WinnowError.self) {
      try Self.target.with {
        try e.addTarget(
          task: 0, tokenCounts: Self.target.tokenCounts, factors: $0, projector: Self.projector)
      }
    }
  }
}
