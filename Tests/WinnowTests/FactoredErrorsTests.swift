import Testing
@testable import Winnow

@Suite struct FactoredErrorsTests {
  static let specs = [
    LinearLayerSpec(id: 1, inputDim: 4, outputDim: 3, inputRank: 2, outputRank: 2),
    LinearLayerSpec(id: 2, inputDim: 5, outputDim: 2, inputRank: 2, outputRank: 1),
  ]

  /// Runs `body` on the projector and the ghost products, expecting `code`
  /// with a message containing `fragment` from both.
  static func expectBoth(
    _ code: WinnowError.Code, _ fragment: String, tokenCounts: [Int], _ batch: FactorBatch,
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let p = try FactoredProjector(layers: specs, seed: 0)
    let g = try GhostDotProducts(layers: specs)
    let calls: [([LayerFactors]) throws -> Void] = [
      { _ = try p.project(tokenCounts: tokenCounts, layers: $0) },
      { _ = try g.gram(tokenCounts: tokenCounts, layers: $0) },
    ]
    for call in calls {
      let error = #expect(throws: WinnowError.self, sourceLocation: sourceLocation) {
        try batch.with { try call($0) }
      }
      #expect(error?.code == code, sourceLocation: sourceLocation)
      #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
    }
  }

  @Test func tokenCountsThatDoNotSumToTheRowsAreRejected() throws {
    let batch = FactorBatch.random(Self.specs, tokenCounts: [3, 4], seed: 0)
    try Self.expectBoth(.shapeMismatch, "token counts give 6", tokenCounts: [3, 3], batch)
    try Self.expectBoth(.invalidArgument, "tokenCounts[1] = -1", tokenCounts: [8, -1], batch)
  }

  @Test func factorsOfTheWrongWidthAreRejected() throws {
    var batch = FactorBatch.random(Self.specs, tokenCounts: [3, 4], seed: 0)
    batch.layers[1].inputs = Matrix(rows: 6, cols: 5)
    try Self.expectBoth(
      .shapeMismatch, "layer 2 inputs hold 6 rows of d_in = 5, but the token counts give 7",
      tokenCounts: [3, 4], batch)
    batch.layers[1].inputs = Matrix(rows: 7, cols: 6)
    try Self.expectBoth(.shapeMismatch, "not a whole number of rows of d_in = 5", tokenCounts: [3, 4], batch)
    batch = FactorBatch.random(Self.specs, tokenCounts: [3, 4], seed: 0)
    batch.layers[0].outputGradients = Matrix(rows: 1, cols: 4)
    try Self.expectBoth(.shapeMismatch, "not a whole number of rows of d_out = 3", tokenCounts: [3, 4], batch)
  }

  @Test func unknownDuplicateAndMissingLayerIdsAreRejected() throws {
    var batch = FactorBatch.random(Self.specs, tokenCounts: [2], seed: 0)
    batch.layers[1].id = 99
    try Self.expectBoth(.invalidArgument, "layer id 99 is unknown", tokenCounts: [2], batch)
    batch.layers[1].id = 1
    try Self.expectBoth(.invalidArgument, "layer id 1 is given more than once", tokenCounts: [2], batch)
    batch.layers.removeLast()
    try Self.expectBoth(.invalidArgument, "layer id 2 is missing", tokenCounts: [2], batch)
  }

  @Test func nonFiniteFactorsAreRejected() throws {
    var batch = FactorBatch.random(Self.specs, tokenCounts: [2, 2], seed: 0)
    batch.layers[1].outputGradients[3, 1] = .nan
    try Self.expectBoth(.nonFinite, "layer 2 output gradients hold 1 non-finite", tokenCounts: [2, 2], batch)
    batch = FactorBatch.random(Self.specs, tokenCounts: [2, 2], seed: 0)
    batch.layers[0].inputs[0, 0] = .infinity
    try Self.expectBoth(.nonFinite, "layer 1 inputs hold 1 non-finite", tokenCounts: [2, 2], batch)
  }

  @Test func nonFiniteHalfPrecisionFactorsAreRejected() throws {
    let p = try FactoredProjector(layers: [Self.specs[0]], seed: 0)
    var a = [UInt16](repeating: Float16(1).bitPattern, count: 8)
    a[5] = Float16.nan.bitPattern
    let d = [UInt16](repeating: Float16(1).bitPattern, count: 6)
    let error = #expect(throws: WinnowError.self) {
      try a.withUnsafeBufferPointer { ap in
        try d.withUnsafeBufferPointer { dp in
          _ = try p.project(
            tokenCounts: [2], layers: [LayerFactors(layerID: 1, inputs: .float16(ap), outputGradients: .float16(dp))])
        }
      }
    }
    #expect(error?.code == .nonFinite)
  }

  @Test func invalidLayerSpecsAreRejected() {
    let dup = [Self.specs[0], Self.specs[0]]
    #expect(throws: WinnowError.invalid("layer id 1 appears more than once")) {
      _ = try FactoredProjector(layers: dup, seed: 0)
    }
    #expect(throws: WinnowError.self) { _ = try FactoredProjector(layers: [], seed: 0) }
    let zeroRank = LinearLayerSpec(id: 1, inputDim: 3, outputDim: 3, inputRank: 0, outputRank: 2)
    #expect(throws: WinnowError.self) { _ = try FactoredProjector(layers: [zeroRank], seed: 0) }
    // Ghost products ignore ranks but not dims.
    #expect(throws: Never.self) { _ = try GhostDotProducts(layers: [zeroRank]) }
    let zeroDim = LinearLayerSpec(id: 1, inputDim: 0, outputDim: 3)
    #expect(throws: WinnowError.self) { _ = try GhostDotProducts(layers: [zeroDim]) }
  }

  @Test func shortOutputBufferIsRejected() throws {
    let p = try FactoredProjector(layers: Self.specs, seed: 0)
    let batch = FactorBatch.random(Self.specs, tokenCounts: [1, 1], seed: 0)
    var out = [Float](repeating: 0, count: 2 * p.featureDim - 1)
    let error = #expect(throws: WinnowError.self) {
      try batch.with { layers in
        try out.withUnsafeMutableBufferPointer {
          try p.project(tokenCounts: [1, 1], layers: layers, into: $0)
        }
      }
    }
    #expect(error?.code == .bufferTooSmall)
  }

  @Test func malformedTargetsAreRejected() throws {
    let g = try GhostDotProducts(layers: Self.specs)
    let batch = FactorBatch.random(Self.specs, tokenCounts: [2], seed: 0)
    let wrong = [Float](repeating: 0, count: 11)
    let right = [Float](repeating: 0, count: 10)
    let error = #expect(throws: WinnowError.self) {
      try batch.with { layers in
        try wrong.withUnsafeBufferPointer { w in
          try right.withUnsafeBufferPointer { r in
            _ = try g.dotProducts(
              tokenCounts: [2], layers: layers,
              targets: [
                LayerTarget(layerID: 1, gradient: .gradient(.float32(w))),
                LayerTarget(layerID: 2, gradient: .gradient(.float32(r))),
              ])
          }
        }
      }
    }
    #expect(error?.code == .shapeMismatch)
    #expect(error?.message.contains("d_out × d_in = 3 × 4") == true)
    let missing = #expect(throws: WinnowError.self) {
      try batch.with { layers in
        try right.withUnsafeBufferPointer { r in
          _ = try g.dotProducts(
            tokenCounts: [2], layers: layers,
            targets: [LayerTarget(layerID: 2, gradient: .gradient(.float32(r)))])
        }
      }
    }
    #expect(missing?.message == "target: layer id 1 is missing")
  }
}
