import Testing

@testable import Winnow

@Suite struct StepSelectionTests {
  /// Raw gradients and a projector passed per call, dense or sparse, keep
  /// what the same projector's features keep (the target projected as a
  /// batch of one row, as the call does): the same computation, bit for bit.
  @Test func gradientsWithAPerCallProjectorKeepWhatTheirFeaturesKeep() throws {
    let f = EngineFixture(n: 96, k: 40)
    let projectors: [any FeatureProjector] = [
      try DenseProjector(seed: 3, inputDim: 40, outputDim: 12),
      try SparseProjector(seed: 3, inputDim: 40, outputDim: 12, nonzeros: 2),
    ]
    for projector in projectors {
      var features = [Float](repeating: 0, count: 96 * 12), target = [Float](repeating: 0, count: 12)
      try projector.project(
        piece: f.features.storage, rows: 96, offset: 0, length: 40, into: &features,
        accumulate: false)
      try projector.project(
        piece: f.target.storage, rows: 1, offset: 0, length: 40, into: &target, accumulate: false)
      let byGradients = try StepSelection.select(
        gradients: f.features.storage, rows: 96, dim: 40, targetGradient: f.target.storage,
        projector: projector, keep: 10, stepSize: 0.05)
      let byFeatures = try StepSelection.select(
        features: features, rows: 96, dim: 12, target: target, keep: 10, stepSize: 0.05)
      #expect(byGradients == byFeatures)
      #expect(byGradients.indices.count == 10 && byGradients.weights.allSatisfy { $0 == 1 })
    }
  }

  @Test func badInputsAreNamedErrors() throws {
    let f = EngineFixture(n: 8, k: 4)
    let projector = try DenseProjector(seed: 1, inputDim: 4, outputDim: 2)
    #expect {
      _ = try StepSelection.select(
        gradients: f.features.storage, rows: 8, dim: 3, targetGradient: f.target.storage,
        projector: projector, keep: 2, stepSize: 0.1)
    } throws: { ($0 as? WinnowError)?.code == .shapeMismatch }
    var nan = f.features.storage
    nan[5] = .nan
    #expect {
      _ = try StepSelection.select(
        features: nan, rows: 8, dim: 4, target: f.target.storage, keep: 2, stepSize: 0.1)
    } throws: { ($0 as? WinnowError)?.code == .nonFinite }
    #expect {
      _ = try StepSelection.select(
        features: f.features, target: f.target.row(0), keep: 9, stepSize: 0.1)
    } throws: { ($0 as? WinnowError)?.code == .invalidArgument }
  }
}
