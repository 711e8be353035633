extension FactoredProjector {
  /// Projects the weight gradients of a batch of samples, layer by layer.
  ///
  /// Sample `s` owns `tokenCounts[s]` consecutive rows of every factor
  /// matrix. Its features are `φ(G_s)` for each layer, concatenated in layer
  /// order. A sample with no tokens has a zero gradient and zero features.
  ///
  /// - Parameters:
  ///   - tokenCounts: `T_s` per sample; `S` entries summing to `ΣT`.
  ///   - layers: One `LayerFactors` per layer of the projector, any order,
  ///     with `A` `ΣT × d_in` and `Δ` `ΣT × d_out`, `Float` or half.
  /// - Returns: The features, `S × featureDim`, row-major.
  /// - Throws: `.shapeMismatch` when a factor's size disagrees with the token
  ///   counts or the layer's dims, `.invalidArgument` for unknown, duplicate
  ///   or missing layer ids or negative counts, `.nonFinite` for NaN or ±Inf.
  /// - Complexity: O(ΣT·Σ_l(d_in·k_in + d_out·k_out + k_in·k_out)) flops;
  ///   O(ΣT·(k_in + k_out)) scratch per layer.
  public func project(tokenCounts: [Int], layers: [LayerFactors]) throws -> Matrix {
    _ = try CheckedSize.allocatable(
      [tokenCounts.count, featureDim], elementSize: 4, "the features of \(tokenCounts.count) samples")
    var out = Matrix(rows: tokenCounts.count, cols: featureDim)
    try out.withUnsafeMutableBufferPointer {
      try project(tokenCounts: tokenCounts, layers: layers, into: $0)
    }
    return out
  }

  /// Projects a batch into caller-owned memory; see
  /// `project(tokenCounts:layers:)`.
  ///
  /// - Parameters:
  ///   - tokenCounts: `T_s` per sample; `S` entries summing to `ΣT`.
  ///   - layers: One `LayerFactors` per layer of the projector, any order.
  ///   - out: At least `S × featureDim` floats, written row-major.
  /// - Throws: `.bufferTooSmall` when `out` is too short, and as
  ///   `project(tokenCounts:layers:)`.
  public func project(
    tokenCounts: [Int], layers: [LayerFactors], into out: UnsafeMutableBufferPointer<Float>
  ) throws {
    let rows = try FactoredLayout.totalTokens(tokenCounts)
    let ordered = try layout.ordered(layers, rows: rows, what: "batch")
    let samples = tokenCounts.count
    guard out.count >= samples * featureDim else {
      throw WinnowError(
        .bufferTooSmall,
        "output holds \(out.count) floats, needs \(samples) × \(featureDim)")
    }
    guard samples > 0, let base = out.baseAddress else { return }
    for (l, factors) in ordered.enumerated() {
      try projectLayer(l, factors, tokenCounts: tokenCounts, rows: rows, out: base)
    }
  }

  /// Writes layer `l`'s features of every sample into its column block of
  /// `out` (`S × featureDim`).
  private func projectLayer(
    _ l: Int, _ factors: LayerFactors, tokenCounts: [Int], rows: Int,
    out: UnsafeMutablePointer<Float>
  ) throws {
    let spec = layout.layers[l]
    let (kIn, kOut) = (spec.inputRank, spec.outputRank)
    // Two tall GEMMs over all tokens of the batch: A·P_in and Δ·P_out.
    let ap = try Self.rightMultiply(
      factors.inputs, rows: rows, cols: spec.inputDim, by: inputProjections[l], rank: kIn,
      name: "batch: layer \(spec.id) inputs")
    let dp = try Self.rightMultiply(
      factors.outputGradients, rows: rows, cols: spec.outputDim, by: outputProjections[l],
      rank: kOut, name: "batch: layer \(spec.id) output gradients")
    // Then per sample a small GEMM: φ_s = (Δ_s P_out)ᵀ (A_s P_in), k_out × k_in,
    // stored contiguously (row-major) in the sample's block of the layer.
    var row0 = 0
    for (s, t) in tokenCounts.enumerated() {
      let c = out + s * featureDim + featureOffsets[l]
      if t == 0 {
        // BLAS leaves C untouched for an empty inner dimension on some builds.
        c.update(repeating: 0, count: kOut * kIn)
        continue
      }
      try dp.withUnsafeBufferPointer { d in
        try ap.withUnsafeBufferPointer { a in
          try BLAS.sgemm(
            .transposed, .none, m: kOut, n: kIn, k: t, alpha: 1,
            a: d.baseAddress! + row0 * kOut, lda: kOut,
            b: a.baseAddress! + row0 * kIn, ldb: kIn, beta: 0, c: c, ldc: kIn)
        }
      }
      row0 += t
    }
  }

  /// `X·P` for `X` `rows × cols` (`Float` or half, converted in panels) and
  /// `P` `cols × rank`; returns `rows × rank`, row-major.
  static func rightMultiply(
    _ x: FactorBuffer, rows: Int, cols: Int, by p: [Float], rank: Int, name: String
  ) throws -> [Float] {
    var result = [Float](repeating: 0, count: rows * rank)
    try result.withUnsafeMutableBufferPointer { r in
      try rightMultiply(x, rows: rows, cols: cols, by: p, rank: rank, into: r.baseAddress!, name: name)
    }
    return result
  }

  /// `X·P` into caller memory (`rows × rank` floats, row-major); `X` is
  /// checked finite as it is read.
  static func rightMultiply(
    _ x: FactorBuffer, rows: Int, cols: Int, by p: [Float], rank: Int, into out: UnsafeMutablePointer<Float>,
    name: String
  ) throws {
    try p.withUnsafeBufferPointer { pp in
      try x.forEachFloatPanel(rows: rows, cols: cols, name: name) { row0, n, panel in
        try BLAS.sgemm(
          .none, .none, m: n, n: rank, k: cols, alpha: 1, a: panel, lda: cols,
          b: pp.baseAddress!, ldb: rank, beta: 0, c: out + row0 * rank, ldc: rank)
      }
    }
  }
}
