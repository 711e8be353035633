import Testing
@testable import Winnow

/// `FactoredProjector.factorMatrix` hands out the projector's own matrices,
/// so a first stage on another device gets the same features (DESIGN 2.10).
@Suite struct FactorMatrixTests {
  @Test(arguments: [ProjectorKind.rademacher, .gaussian])
  func fetchedMatricesAreTheProjectorsOwn(kind: ProjectorKind) throws {
    let layers = [
      LinearLayerSpec(id: 3, inputDim: 9, outputDim: 5, inputRank: 4, outputRank: 2),
      LinearLayerSpec(id: 1 << 62, inputDim: 6, outputDim: 7, inputRank: 3, outputRank: 5),
    ]
    let p = try FactoredProjector(layers: layers, seed: 99, kind: kind)
    for (l, spec) in layers.enumerated() {
      var pIn = [Float](repeating: .nan, count: spec.inputDim * spec.inputRank)
      var pOut = [Float](repeating: .nan, count: spec.outputDim * spec.outputRank)
      try pIn.withUnsafeMutableBufferPointer {
        try FactoredProjector.factorMatrix(
          kind: kind, seed: 99, layerID: spec.id, factor: .input, rows: spec.inputDim,
          cols: spec.inputRank, into: $0)
      }
      try pOut.withUnsafeMutableBufferPointer {
        try FactoredProjector.factorMatrix(
          kind: kind, seed: 99, layerID: spec.id, factor: .output, rows: spec.outputDim,
          cols: spec.outputRank, into: $0)
      }
      // The same generator on the same key: the same bits, not just close.
      #expect(pIn == p.inputProjections[l])
      #expect(pOut == p.outputProjections[l])
    }
  }

  @Test func tooSmallBuffersAndEmptyShapesAreRefused() {
    var small = [Float](repeating: 0, count: 5)
    small.withUnsafeMutableBufferPointer { out in
      #expect(throws: WinnowError.self) {
        try FactoredProjector.factorMatrix(
          kind: .rademacher, seed: 0, layerID: 0, factor: .input, rows: 2, cols: 3, into: out)
      }
      #expect(throws: WinnowError.self) {
        try FactoredProjector.factorMatrix(
          kind: .rademacher, seed: 0, layerID: 0, factor: .input, rows: 0, cols: 3, into: out)
      }
    }
  }
}
