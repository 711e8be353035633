/// Which eigenvalues divide a gradient in the Kronecker eigenbasis.
public enum CurvatureMethod: Int32, Sendable, CaseIterable, CustomStringConvertible {
  /// `e_S ⊗ e_C`, the Kronecker product of the factors' eigenvalues: K-FAC
  /// with the damping added to the product (as kronfluence's `kfac`).
  case kfac = 0
  /// The fitted second moments `E_s[(Q_Sᵀ G_s Q_C)²]`: EK-FAC (as
  /// kronfluence's `ekfac`); needs `accumulateCorrections`.
  case ekfac = 1

  public var description: String { self == .kfac ? "kfac" : "ekfac" }
}

extension KroneckerCurvature {
  /// Adds a batch of the fit set to EK-FAC's second moments: for each
  /// sample, `(Q_Sᵀ G_s Q_C)²` elementwise, per layer.
  ///
  /// The gradient is formed in the eigenbasis, `d_out × d_in` per sample
  /// per layer: this is the cost of EK-FAC, `2·T·(d_in² + d_out²) + 2·T·d_out·d_in`
  /// flops per sample and layer, against K-FAC's free eigenvalues. A
  /// refused batch leaves the fit as it was.
  ///
  /// Any subset of the layers may be given (each at most once): EK-FAC
  /// for the layers where it is affordable, K-FAC (`whitener`) for the
  /// others; each layer counts its own samples.
  ///
  /// - Parameters: as `accumulate(tokenCounts:layers:)`, for any layers.
  /// - Throws: `.badState` before `fit()`; as `accumulate`.
  public mutating func accumulateCorrections(tokenCounts: [Int], layers: [LayerFactors]) throws {
    guard phase == .fitted else {
      throw WinnowError(.badState, "the curvature is not fitted yet: call fit() before accumulating corrections")
    }
    let rows = try FactoredLayout.totalTokens(tokenCounts)
    let positions = try layout.positions(ofAny: layers, rows: rows, what: "correction batch")
    try checkFinite(layers, rows: rows, what: "correction batch")
    // An empty batch adds nothing: starting the sums here would save a file
    // whose corrections disagree with correctionSamples == 0.
    guard !tokenCounts.isEmpty else { return }
    for (l, factors) in zip(positions, layers) {
      let state = states[l]
      var sums = state.corrections.isEmpty
        ? [Float](repeating: 0, count: state.outputDim * state.inputDim) : state.corrections
      try sums.withUnsafeMutableBufferPointer { sum in
        try state.forEachRotatedGradient(factors, tokenCounts: tokenCounts, rows: rows) { _, g in
          for i in 0..<sum.count { sum[i] += g[i] * g[i] }
        }
      }
      states[l].corrections = sums
      states[l].correctionSamples += tokenCounts.count
    }
  }

  /// Features in the Kronecker eigenbasis: for each sample and layer,
  /// `(Q_Sᵀ G Q_C) / √(Λ + λ)` elementwise (`d_out × d_in`, row-major), so
  /// `⟨f_i, f_j⟩ = g_iᵀ (H + λI)⁻¹ g_j` with `H` the layer's K-FAC or EK-FAC
  /// curvature. `λ = fraction · mean(Λ)` per layer when the damping is
  /// relative (kronfluence's rule). Project them with a dense or sparse map
  /// for a smaller `k`.
  ///
  /// Any subset of the layers may be given (each at most once): the row of
  /// a sample holds the given layers' blocks in the curvature's layer
  /// order, `eigenbasisFeatureDim(of:)` floats; with every layer, layer `l`
  /// is at `featureOffsets[l]` of `featureDim`.
  ///
  /// - Parameters:
  ///   - tokenCounts: `T_s` per sample; `S` entries summing to `ΣT`.
  ///   - layers: Any of the layers, each at most once, any order.
  ///   - method: `.kfac` (`Λ = e_S ⊗ e_C`) or `.ekfac` (fitted).
  ///   - damping: The damping of `Λ`.
  ///   - out: At least `S × eigenbasisFeatureDim(of: ids)` floats, row-major.
  /// - Throws: `.badState` before `fit()`, or for `.ekfac` for a layer
  ///   without corrections; `.numerical` for a non-positive damped
  ///   eigenvalue; `.bufferTooSmall`; as `FactoredProjector.project`.
  public func eigenbasisFeatures(
    tokenCounts: [Int], layers: [LayerFactors], method: CurvatureMethod,
    damping: CurvatureDamping = .default, into out: UnsafeMutableBufferPointer<Float>
  ) throws {
    try checkFitted()
    let rows = try FactoredLayout.totalTokens(tokenCounts)
    // The given layers in the curvature's order, and their columns.
    let given = try zip(layout.positions(ofAny: layers, rows: rows, what: "batch"), layers).sorted { $0.0 < $1.0 }
    let scales = try given.map { try eigenbasisScale(layer: $0.0, method: method, damping: damping) }
    let dim = given.reduce(0) { $0 + states[$1.0].outputDim * states[$1.0].inputDim }
    let samples = tokenCounts.count
    _ = try CheckedSize.product([samples, dim], "the eigenbasis features")
    guard out.count >= samples * dim else {
      throw WinnowError(.bufferTooSmall, "output holds \(out.count) floats, needs \(samples) × \(dim)")
    }
    guard samples > 0, let base = out.baseAddress else { return }
    var offset = 0
    for ((l, factors), scale) in zip(given, scales) {
      let column = offset
      try states[l].forEachRotatedGradient(factors, tokenCounts: tokenCounts, rows: rows) { s, g in
        let f = base + s * dim + column
        for i in 0..<scale.count { f[i] = g[i] * scale[i] }
      }
      offset += scale.count
    }
  }

  /// The eigenbasis features of a batch, `S × eigenbasisFeatureDim(of:)`;
  /// see `eigenbasisFeatures(tokenCounts:layers:method:damping:into:)`.
  public func eigenbasisFeatures(
    tokenCounts: [Int], layers: [LayerFactors], method: CurvatureMethod,
    damping: CurvatureDamping = .default
  ) throws -> Matrix {
    let dim = try eigenbasisFeatureDim(of: layers.map(\.layerID))
    _ = try CheckedSize.allocatable(
      [tokenCounts.count, dim], elementSize: 4, "the eigenbasis features of \(tokenCounts.count) samples")
    var out = Matrix(rows: tokenCounts.count, cols: dim)
    try out.withUnsafeMutableBufferPointer {
      try eigenbasisFeatures(tokenCounts: tokenCounts, layers: layers, method: method, damping: damping, into: $0)
    }
    return out
  }

  /// `Σ d_out·d_in` of the layers `ids` (known ids; duplicates counted once
  /// are an error in `eigenbasisFeatures`, not here).
  ///
  /// - Throws: `.invalidArgument` for an unknown id.
  public func eigenbasisFeatureDim(of ids: [UInt64]) throws -> Int {
    try ids.reduce(0) { total, id in
      guard let l = layout.indexByID[id] else {
        throw WinnowError.invalid("layer id \(id) is unknown; known ids: \(layers.map(\.id))")
      }
      return total + states[l].outputDim * states[l].inputDim
    }
  }

  func checkFitted() throws {
    guard phase == .fitted else {
      throw WinnowError(.badState, "the curvature is not fitted yet: call fit() before computing features")
    }
  }

  /// `1/√(Λ + λ)` of layer `l`, `d_out × d_in`.
  func eigenbasisScale(layer l: Int, method: CurvatureMethod, damping: CurvatureDamping) throws -> [Float] {
    let state = states[l]
    if method == .ekfac && state.correctionSamples == 0 {
      throw WinnowError(
        .badState,
        "EK-FAC needs its corrections: call accumulateCorrections on the fit set after fit()"
          + (correctionSamples > 0 ? " (layer \(layers[l].id) has none: it was left out of them)" : ""))
    }
    let lambdas = eigenvalues(of: state, method: method)
    let lambda = damping.lambda(for: lambdas)
    let what = "layer \(layers[l].id): \(method)"
    // Undamped, a direction whose moment is at rounding level (below one
    // float ulp of the largest) is one the fit set never moved: dividing
    // by it would turn noise into features.
    if lambda == 0, let top = lambdas.max(), let low = lambdas.min(), low <= top * Float.ulpOfOne {
      throw WinnowError(
        .numerical,
        "\(what): an eigenvalue of \(low) against a largest of \(top) is rounding noise (the fit set "
          + "does not span this layer), and the damping is 0; use a positive damping")
    }
    return try lambdas.map { try CurvatureDamping.inverseRoot($0, lambda, what) }
  }

  /// `Λ` of one layer, `d_out × d_in`.
  func eigenvalues(of state: LayerCurvature, method: CurvatureMethod) -> [Float] {
    switch method {
    case .kfac:
      var l = [Float](repeating: 0, count: state.outputDim * state.inputDim)
      for i in 0..<state.outputDim {
        for j in 0..<state.inputDim { l[i * state.inputDim + j] = state.outputEigenvalues[i] * state.inputEigenvalues[j] }
      }
      return l
    case .ekfac:
      let n = Float(state.correctionSamples)
      return state.corrections.map { $0 / n }
    }
  }
}

extension LayerCurvature {
  /// Calls `body(s, Ĝ_s)` with each sample's gradient in the eigenbasis,
  /// `Ĝ_s = (Δ_s Q_S)ᵀ (A_s Q_C)` (`d_out × d_in`), from two tall GEMMs over
  /// the batch and one small GEMM per sample.
  func forEachRotatedGradient(
    _ f: LayerFactors, tokenCounts: [Int], rows: Int,
    _ body: (Int, UnsafeMutableBufferPointer<Float>) throws -> Void
  ) throws {
    let aq = try FactoredProjector.rightMultiply(
      f.inputs, rows: rows, cols: inputDim, by: inputBasis, rank: inputDim, name: "inputs")
    let dq = try FactoredProjector.rightMultiply(
      f.outputGradients, rows: rows, cols: outputDim, by: outputBasis, rank: outputDim,
      name: "output gradients")
    var g = [Float](repeating: 0, count: outputDim * inputDim)
    try g.withUnsafeMutableBufferPointer { gp in
      try aq.withUnsafeBufferPointer { a in
        try dq.withUnsafeBufferPointer { d in
          var row0 = 0
          for (s, t) in tokenCounts.enumerated() {
            if t == 0 {
              gp.update(repeating: 0)
            } else {
              try BLAS.sgemm(
                .transposed, .none, m: outputDim, n: inputDim, k: t, alpha: 1,
                a: d.baseAddress! + row0 * outputDim, lda: outputDim,
                b: a.baseAddress! + row0 * inputDim, ldb: inputDim, beta: 0, c: gp.baseAddress!,
                ldc: inputDim)
            }
            try body(s, gp)
            row0 += t
          }
        }
      }
    }
  }
}
