import Testing
@testable import Winnow

@Suite struct FactoredProjectorTests {
  /// `φ` computed the slow way: `P_outᵀ G P_in` with `G` materialized.
  static func naiveFeatures(_ p: FactoredProjector, _ batch: FactorBatch, sample s: Int) -> [Double] {
    var features: [Double] = []
    for (l, spec) in p.layers.enumerated() {
      let g = batch.gradient(layer: l, sample: s)
      let (pIn, pOut) = (p.inputProjections[l], p.outputProjections[l])
      for a in 0..<spec.outputRank {
        for b in 0..<spec.inputRank {
          var sum = 0.0
          for o in 0..<spec.outputDim {
            for i in 0..<spec.inputDim {
              sum += Double(pOut[o * spec.outputRank + a]) * g[o * spec.inputDim + i]
                * Double(pIn[i * spec.inputRank + b])
            }
          }
          features.append(sum)
        }
      }
    }
    return features
  }

  @Test func featuresEqualMaterializedGradientTimesKroneckerProduct() throws {
    let spec = LinearLayerSpec(id: 7, inputDim: 9, outputDim: 6, inputRank: 4, outputRank: 3)
    let p = try FactoredProjector(layers: [spec], seed: 42)
    let batch = FactorBatch.random([spec], tokenCounts: [11], seed: 1)
    let features = try batch.with { try p.project(tokenCounts: batch.tokenCounts, layers: $0) }
    // Row-major vec(G)ᵀ · (P_out ⊗ P_in): row (o·d_in + i), column (a·k_in + b).
    let g = batch.gradient(layer: 0, sample: 0)
    let (pIn, pOut) = (p.inputProjections[0], p.outputProjections[0])
    var expected = [Double](repeating: 0, count: 12)
    for o in 0..<6 {
      for i in 0..<9 {
        for a in 0..<3 {
          for b in 0..<4 {
            let kron = Double(pOut[o * 3 + a]) * Double(pIn[i * 4 + b])
            expected[a * 4 + b] += g[o * 9 + i] * kron
          }
        }
      }
    }
    #expect(relativeL2Error(features.storage, expected) < 1e-4)
  }

  @Test(arguments: ProjectorKind.allCases)
  func severalLayersAndUnequalTokenCountsMatchNaiveProjection(kind: ProjectorKind) throws {
    let specs = [
      LinearLayerSpec(id: 3, inputDim: 12, outputDim: 5, inputRank: 4, outputRank: 2),
      LinearLayerSpec(id: 1, inputDim: 6, outputDim: 10, inputRank: 3, outputRank: 5),
      LinearLayerSpec(id: 9, inputDim: 8, outputDim: 8, inputRank: 1, outputRank: 6),
    ]
    let p = try FactoredProjector(layers: specs, seed: 5, kind: kind)
    #expect(p.featureDim == 8 + 15 + 6)
    #expect(p.featureOffsets == [0, 8, 23])
    let batch = FactorBatch.random(specs, tokenCounts: [3, 0, 7, 1], seed: 2)
    // Layers handed over in a different order than the projector's.
    let features = try LayerFactors.withMatrices(batch.layers.reversed()) {
      try p.project(tokenCounts: batch.tokenCounts, layers: $0)
    }
    #expect(features.rows == 4 && features.cols == p.featureDim)
    for s in 0..<4 {
      let expected = Self.naiveFeatures(p, batch, sample: s)
      if s == 1 {
        #expect(features.row(s).allSatisfy { $0 == 0 })
      } else {
        #expect(relativeL2Error(features.row(s), expected) < 1e-4)
      }
    }
  }

  @Test func halfPrecisionInputMatchesFloatInputOfTheSameValues() throws {
    let spec = LinearLayerSpec(id: 0, inputDim: 24, outputDim: 16, inputRank: 8, outputRank: 8)
    let p = try FactoredProjector(layers: [spec], seed: 9)
    // 600 tokens: more than two 256-row conversion panels.
    var batch = FactorBatch.random([spec], tokenCounts: [250, 100, 250], seed: 3)
    let round: (Matrix) -> Matrix = { m in m.mapElements { Float(Float16($0)) } }
    batch.layers[0].inputs = round(batch.layers[0].inputs)
    batch.layers[0].outputGradients = round(batch.layers[0].outputGradients)
    let viaFloat = try batch.with { try p.project(tokenCounts: batch.tokenCounts, layers: $0) }
    let aHalf = batch.layers[0].inputs.storage.map { Float16($0).bitPattern }
    let dHalf = batch.layers[0].outputGradients.storage.map { Float16($0).bitPattern }
    let viaHalf = try aHalf.withUnsafeBufferPointer { a in
      try dHalf.withUnsafeBufferPointer { d in
        try p.project(
          tokenCounts: batch.tokenCounts,
          layers: [LayerFactors(layerID: 0, inputs: .float16(a), outputGradients: .float16(d))])
      }
    }
    #expect(relativeL2Error(viaHalf.storage, viaFloat.storage) < 1e-5)
  }

  @Test func layerFeaturesDependOnLayerIdNotPosition() throws {
    let a = LinearLayerSpec(id: 10, inputDim: 5, outputDim: 4, inputRank: 2, outputRank: 2)
    let b = LinearLayerSpec(id: 20, inputDim: 6, outputDim: 3, inputRank: 3, outputRank: 2)
    let both = try FactoredProjector(layers: [a, b], seed: 77)
    let onlyB = try FactoredProjector(layers: [b], seed: 77)
    #expect(both.inputProjections[1] == onlyB.inputProjections[0])
    #expect(both.outputProjections[1] == onlyB.outputProjections[0])
    // Sides, layers and seeds key different matrices.
    let seeds: Set<UInt64> = [
      FactoredProjector.sideSeed(77, 10, .input), FactoredProjector.sideSeed(77, 10, .output),
      FactoredProjector.sideSeed(77, 20, .input), FactoredProjector.sideSeed(78, 10, .input),
    ]
    #expect(seeds.count == 4)
  }

  @Test func factorsAreScaledSoSquaredNormIsPreservedOnAverage() throws {
    let spec = LinearLayerSpec(id: 1, inputDim: 20, outputDim: 15, inputRank: 8, outputRank: 8)
    let batch = FactorBatch.random([spec], tokenCounts: [6], seed: 4)
    let exact = dot(batch.gradient(layer: 0, sample: 0), batch.gradient(layer: 0, sample: 0))
    var ratio = 0.0
    let trials = 200
    for seed in 0..<UInt64(trials) {
      let p = try FactoredProjector(layers: [spec], seed: seed, kind: seed % 2 == 0 ? .rademacher : .gaussian)
      let f = try batch.with { try p.project(tokenCounts: [6], layers: $0) }
      ratio += f.storage.reduce(0) { $0 + Double($1) * Double($1) } / exact / Double(trials)
    }
    // The spread of one ratio is below ~0.5 for rank-6 G with k = 8 per side,
    // so the mean of 200 lies within ±0.15 with a wide margin.
    #expect(abs(ratio - 1) < 0.15)
  }

  @Test func emptyBatchGivesNoRows() throws {
    let spec = LinearLayerSpec(id: 1, inputDim: 3, outputDim: 2, inputRank: 2, outputRank: 2)
    let p = try FactoredProjector(layers: [spec], seed: 0)
    let batch = FactorBatch.random([spec], tokenCounts: [], seed: 0)
    let f = try batch.with { try p.project(tokenCounts: [], layers: $0) }
    #expect(f.rows == 0 && f.cols == 4)
  }
}
