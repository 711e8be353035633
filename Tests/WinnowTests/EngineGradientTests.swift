import Testing
@testable import Winnow

@Suite struct EngineGradientTests {
  @Test func rawGradientsGiveTheSamePlanAsTheirProjectedFeatures() throws {
    let f = EngineFixture(n: 120, k: 48)  // the fixture's rows serve as D = 48 gradients
    let projector = try DenseProjector(seed: 5, inputDim: 48, outputDim: 16)
    var feats = [Float](repeating: 0, count: 120 * 16), tfeats = [Float](repeating: 0, count: 4 * 16)
    try projector.project(f.features.storage, rows: 120, into: &feats)
    try projector.project(f.target.storage, rows: 4, into: &tfeats)

    let raw = try SelectionEngine(ids: f.ids, featureDim: 16, projector: projector)
    let pre = try SelectionEngine(ids: f.ids, featureDim: 16)
    for e in [raw, pre] { try e.setParameter(.selectFraction, 0.1) }
    try raw.beginEpoch(0)
    try raw.addTarget(task: 0, gradients: f.target.storage, rows: 4, dim: 48)
    try raw.addCandidates(ids: f.ids, count: 120, gradients: f.features.storage, dim: 48)
    try pre.beginEpoch(0)
    try pre.addTarget(task: 0, features: tfeats, rows: 4, dim: 16)
    try pre.addCandidates(ids: f.ids, count: 120, features: feats, dim: 16)
    // The same computation on both sides (120 and 4 rows through the same
    // projector, in the same batch shapes): bit-identical by promise.
    #expect(try raw.endEpoch() == (try pre.endEpoch()))

    let step = try StepSelection.select(
      gradients: f.features.storage, rows: 120, dim: 48, targetGradient: f.target.storage,
      projector: projector, keep: 8, stepSize: 0.1)
    let direct = try StepSelection.select(
      features: feats, rows: 120, dim: 16, target: tfeats, keep: 8, stepSize: 0.1)
    // Different computations: the engine projects the target gradient as a
    // batch of one row, `tfeats` came from a batch of four, and the BLAS
    // kernels may round the two differently (they do on AVX2). Compare up to
    // the rounding the math allows.
    let tolerance = greatsGainTolerance(
      features: feats, rows: 120, k: 16, target: Array(tfeats[0..<16]), inputDim: 48, keep: 8,
      stepSize: 0.1)
    #expect(tolerance < 1e-4)  // the comparison still has teeth
    expectSamePicks(step, direct, tolerance: tolerance)
    // Wrong raw dimension, and raw gradients without a projector.
    try raw.beginEpoch(1)
    #expect(throws: WinnowError.self) {
      try raw.addTarget(task: 0, gradients: f.target.storage, rows: 4, dim: 47)
    }
    try pre.beginEpoch(1)
    #expect(throws: WinnowError.self) {
      try pre.addTarget(task: 0, gradients: f.target.storage, rows: 4, dim: 48)
    }
  }
}
