import Testing
@testable import Winnow

@Suite struct FactoredGhostTests {
  static let specs = [
    LinearLayerSpec(id: 4, inputDim: 13, outputDim: 7),
    LinearLayerSpec(id: 2, inputDim: 5, outputDim: 9),
    LinearLayerSpec(id: 8, inputDim: 16, outputDim: 16),
  ]
  static let tokenCounts = [4, 1, 0, 9, 6]

  /// `Σ_l ⟨G_i, G_j⟩` from explicitly materialized gradients.
  static func explicitGram(_ batch: FactorBatch) -> [Double] {
    let n = batch.tokenCounts.count
    var gram = [Double](repeating: 0, count: n * n)
    for l in batch.layers.indices {
      let g = (0..<n).map { batch.gradient(layer: l, sample: $0) }
      for i in 0..<n { for j in 0..<n { gram[i * n + j] += dot(g[i], g[j]) } }
    }
    return gram
  }

  @Test(arguments: [GhostPath.ghost, .materialized, nil])
  func gramEqualsExplicitGradientDotProducts(path: GhostPath?) throws {
    var ghost = try GhostDotProducts(layers: Self.specs)
    // Tiny budgets force several column blocks and row slabs.
    ghost.ghostBlockBudget = 4 * 8 * 10
    ghost.materializationBudget = 4 * 5 * 16 * 3  // 3 rows of G per slab
    let batch = FactorBatch.random(Self.specs, tokenCounts: Self.tokenCounts, seed: 11)
    let result = try batch.with {
      try ghost.gram(tokenCounts: batch.tokenCounts, layers: $0, forcing: path)
    }
    #expect(result.values.rows == 5 && result.values.cols == 5)
    #expect(relativeL2Error(result.values.storage, Self.explicitGram(batch)) < 1e-4)
    if let path { #expect(result.paths == [path, path, path]) }
  }

  @Test func ghostAndMaterializedPathsAgree() throws {
    let ghost = try GhostDotProducts(layers: Self.specs)
    let batch = FactorBatch.random(Self.specs, tokenCounts: [30, 2, 17], seed: 12)
    let (g, m) = try batch.with {
      (try ghost.gram(tokenCounts: batch.tokenCounts, layers: $0, forcing: .ghost),
       try ghost.gram(tokenCounts: batch.tokenCounts, layers: $0, forcing: .materialized))
    }
    #expect(relativeL2Error(g.values.storage, m.values.storage) < 1e-5)
  }

  @Test func automaticPathFollowsTheCostModel() throws {
    let wide = LinearLayerSpec(id: 0, inputDim: 4096, outputDim: 4096)
    let narrow = LinearLayerSpec(id: 1, inputDim: 8, outputDim: 8)
    // Few tokens, wide layer: token kernels are cheaper than gradients.
    #expect(GhostDotProducts.gramPath(wide, tokenCounts: [512, 512]) == .ghost)
    // Many tokens, narrow layer: an 8 × 8 gradient is cheaper.
    #expect(GhostDotProducts.gramPath(narrow, tokenCounts: [512, 512]) == .materialized)
    let ghost = try GhostDotProducts(layers: [narrow, LinearLayerSpec(id: 2, inputDim: 64, outputDim: 64)])
    let batch = FactorBatch.random(ghost.layers, tokenCounts: [10, 10], seed: 13)
    let result = try batch.with { try ghost.gram(tokenCounts: batch.tokenCounts, layers: $0) }
    #expect(result.paths == [.materialized, .ghost])
  }

  @Test(arguments: [GhostPath.ghost, .materialized, nil])
  func targetDotProductsEqualExplicitOnes(path: GhostPath?) throws {
    var ghost = try GhostDotProducts(layers: Self.specs)
    ghost.materializationBudget = 4 * 5 * 16 * 3
    let batch = FactorBatch.random(Self.specs, tokenCounts: Self.tokenCounts, seed: 14)
    let target = FactorBatch.random(Self.specs, tokenCounts: [5], seed: 15)
    var expected = [Double](repeating: 0, count: 5)
    for l in Self.specs.indices {
      let gt = target.gradient(layer: l, sample: 0)
      for i in 0..<5 { expected[i] += dot(batch.gradient(layer: l, sample: i), gt) }
    }
    // The target as factors for layers 0 and 2, as a matrix for layer 1.
    let g1 = target.gradient(layer: 1, sample: 0).map { Float($0) }
    let result = try batch.with { layers in
      try target.with { t in
        try g1.withUnsafeBufferPointer { g1p in
          let targets = [
            LayerTarget(layerID: 4, gradient: .factors(inputs: t[0].inputs, outputGradients: t[0].outputGradients, tokenCount: 5)),
            LayerTarget(layerID: 2, gradient: .gradient(.float32(g1p))),
            LayerTarget(layerID: 8, gradient: .factors(inputs: t[2].inputs, outputGradients: t[2].outputGradients, tokenCount: 5)),
          ]
          return try ghost.dotProducts(
            tokenCounts: batch.tokenCounts, layers: layers, targets: targets, forcing: path)
        }
      }
    }
    #expect(result.values.rows == 5 && result.values.cols == 1)
    #expect(relativeL2Error(result.values.storage, expected) < 1e-4)
    if path == nil { #expect(result.paths[1] == .ghost) }
  }

  @Test func halfPrecisionFactorsGiveTheGramOfTheirValues() throws {
    let spec = LinearLayerSpec(id: 1, inputDim: 10, outputDim: 6)
    let ghost = try GhostDotProducts(layers: [spec])
    var batch = FactorBatch.random([spec], tokenCounts: [3, 5], seed: 16)
    // Round to half first, so both sides see the same values.
    batch.layers[0].inputs = batch.layers[0].inputs.mapElements { Float(Float16($0)) }
    batch.layers[0].outputGradients = batch.layers[0].outputGradients.mapElements { Float(Float16($0)) }
    let a = batch.layers[0].inputs.storage.map { Float16($0).bitPattern }
    let d = batch.layers[0].outputGradients.storage.map { Float16($0).bitPattern }
    let result = try a.withUnsafeBufferPointer { ap in
      try d.withUnsafeBufferPointer { dp in
        try ghost.gram(
          tokenCounts: [3, 5],
          layers: [LayerFactors(layerID: 1, inputs: .float16(ap), outputGradients: .float16(dp))])
      }
    }
    #expect(relativeL2Error(result.values.storage, Self.explicitGram(batch)) < 1e-4)
  }
}
