/// K-FAC whitening of linear-layer factors (DESIGN 2.9), for one damping.
///
/// With `C = Q_C diag(e_C) Q_Cᵀ` and `S = Q_S diag(e_S) Q_Sᵀ` fitted by
/// `KroneckerCurvature`, the whitened factors of a sample are
///
///     A_w = A (C + λ_C I)^{-1/2},   Δ_w = Δ (S + λ_S I)^{-1/2}
///
/// so its whitened gradient `G_w = Δ_wᵀ A_w = (S+λ_S)^{-1/2} G (C+λ_C)^{-1/2}`
/// and `⟨G_w,i, G_w,j⟩ = g_iᵀ ((S+λ_S I) ⊗ (C+λ_C I))⁻¹ g_j`. The damping
/// factors per side (`λ_X = fraction · mean(e_X)` when relative), which is
/// what keeps the gradient unformed: `FactoredProjector` projects `A_w`,
/// `Δ_w` as it would `A`, `Δ`. (kronfluence damps the product instead,
/// `(e_S ⊗ e_C + λ)`; `KroneckerCurvature.eigenbasisFeatures` does that.)
///
/// Holds `(X + λI)^{-1/2}` per layer and side: `4·Σ(d_in² + d_out²)` bytes.
/// Immutable; safe to use from several threads at once.
public struct KFACWhitener: Sendable {
  /// The layers, in the curvature's order.
  public var layers: [LinearLayerSpec] { layout.layers }
  /// The damping it was built with.
  public let damping: CurvatureDamping
  /// `(λ_C, λ_S)` per layer, as resolved from `damping`.
  public let lambdas: [(input: Double, output: Double)]

  let layout: FactoredLayout
  /// `(C + λ_C I)^{-1/2}` per layer, `d_in × d_in`, symmetric.
  let inputMaps: [[Float]]
  /// `(S + λ_S I)^{-1/2}` per layer, `d_out × d_out`, symmetric.
  let outputMaps: [[Float]]

  init(_ curvature: KroneckerCurvature, damping: CurvatureDamping) throws {
    guard curvature.phase == .fitted else {
      throw WinnowError(.badState, "the curvature is not fitted yet: call fit() before whitening")
    }
    var lambdas: [(Double, Double)] = [], inputs: [[Float]] = [], outputs: [[Float]] = []
    for (l, state) in curvature.states.enumerated() {
      let id = curvature.layers[l].id
      let lc = damping.lambda(for: state.inputEigenvalues)
      let ls = damping.lambda(for: state.outputEigenvalues)
      lambdas.append((lc, ls))
      inputs.append(
        try Self.inverseRoot(
          state.inputBasis, state.inputEigenvalues, dim: state.inputDim, lambda: lc, "layer \(id): C"))
      outputs.append(
        try Self.inverseRoot(
          state.outputBasis, state.outputEigenvalues, dim: state.outputDim, lambda: ls, "layer \(id): S"))
    }
    self.layout = curvature.layout
    self.damping = damping
    self.lambdas = lambdas.map { (input: $0.0, output: $0.1) }
    self.inputMaps = inputs
    self.outputMaps = outputs
  }

  /// `Q diag((e + λ)^{-1/2}) Qᵀ`.
  static func inverseRoot(
    _ q: [Float], _ e: [Float], dim: Int, lambda: Double, _ what: String
  ) throws -> [Float] {
    var scaled = q  // column j scaled by (e_j + λ)^{-1/2}
    let s = try e.map { try CurvatureDamping.inverseRoot($0, lambda, what) }
    for i in 0..<dim {
      for j in 0..<dim { scaled[i * dim + j] *= s[j] }
    }
    var m = [Float](repeating: 0, count: dim * dim)
    try scaled.withUnsafeBufferPointer { a in
      try q.withUnsafeBufferPointer { b in
        try m.withUnsafeMutableBufferPointer { c in
          try BLAS.sgemm(
            .none, .transposed, m: dim, n: dim, k: dim, alpha: 1, a: a.baseAddress!, lda: dim,
            b: b.baseAddress!, ldb: dim, beta: 0, c: c.baseAddress!, ldc: dim)
        }
      }
    }
    return m
  }

  /// Whitens a batch into caller-owned matrices.
  ///
  /// - Parameters:
  ///   - rows: `ΣT`, the rows of every factor matrix.
  ///   - layers: Any of the layers, each at most once, any order.
  ///   - outputs: Per entry of `layers` (same order), the destinations of
  ///     `A_w` (`ΣT × d_in` floats) and `Δ_w` (`ΣT × d_out` floats).
  /// - Throws: `.shapeMismatch`, `.invalidArgument`, `.nonFinite` as
  ///   `FactoredProjector.project`; `.bufferTooSmall` for a short output.
  /// - Complexity: O(ΣT·Σ_l(d_in² + d_out²)) flops.
  public func whiten(
    rows: Int, layers: [LayerFactors],
    into outputs: [(inputs: UnsafeMutableBufferPointer<Float>, outputGradients: UnsafeMutableBufferPointer<Float>)]
  ) throws {
    guard rows >= 0 else { throw WinnowError.invalid("rows = \(rows) is negative") }
    guard outputs.count == layers.count else {
      throw WinnowError.invalid("\(layers.count) layers of factors but \(outputs.count) outputs")
    }
    let positions = try layout.positions(ofAny: layers, rows: rows, what: "whiten")
    for (l, (a, d)) in zip(positions, outputs) {
      let spec = layout.layers[l]
      guard a.count >= rows * spec.inputDim, d.count >= rows * spec.outputDim else {
        throw WinnowError(
          .bufferTooSmall,
          "whiten: layer \(spec.id): the outputs hold \(a.count) and \(d.count) floats, "
            + "need \(rows) × \(spec.inputDim) and \(rows) × \(spec.outputDim)")
      }
    }
    for ((l, factors), (a, d)) in zip(zip(positions, layers), outputs) {
      try whitenLayer(l, factors, rows: rows, inputs: a.baseAddress, outputGradients: d.baseAddress)
    }
  }

  /// Whitens a batch; returns `(layer id, A_w, Δ_w)` in the order of `layers`.
  public func whiten(rows: Int, layers: [LayerFactors]) throws -> [(
    id: UInt64, inputs: Matrix, outputGradients: Matrix
  )] {
    guard rows >= 0 else { throw WinnowError.invalid("rows = \(rows) is negative") }
    let positions = try layout.positions(ofAny: layers, rows: rows, what: "whiten")
    for l in positions {
      let spec = layout.layers[l]
      _ = try CheckedSize.allocatable(
        [rows, spec.inputDim + spec.outputDim], elementSize: 4, "the whitened factors of layer \(spec.id)")
    }
    return try zip(positions, layers).map { l, factors in
      let spec = layout.layers[l]
      var a = Matrix(rows: rows, cols: spec.inputDim), d = Matrix(rows: rows, cols: spec.outputDim)
      try a.withUnsafeMutableBufferPointer { ap in
        try d.withUnsafeMutableBufferPointer { dp in
          try whitenLayer(l, factors, rows: rows, inputs: ap.baseAddress, outputGradients: dp.baseAddress)
        }
      }
      return (factors.layerID, a, d)
    }
  }

  /// `A·M_C` and `Δ·M_S` of layer `l` into memory of `rows` rows (nil only
  /// when it holds no element).
  private func whitenLayer(
    _ l: Int, _ factors: LayerFactors, rows: Int, inputs: UnsafeMutablePointer<Float>?,
    outputGradients: UnsafeMutablePointer<Float>?
  ) throws {
    let spec = layout.layers[l]
    guard rows > 0, let inputs, let outputGradients else { return }
    try FactoredProjector.rightMultiply(
      factors.inputs, rows: rows, cols: spec.inputDim, by: inputMaps[l], rank: spec.inputDim, into: inputs,
      name: "whiten: layer \(spec.id) inputs")
    try FactoredProjector.rightMultiply(
      factors.outputGradients, rows: rows, cols: spec.outputDim, by: outputMaps[l], rank: spec.outputDim,
      into: outputGradients, name: "whiten: layer \(spec.id) output gradients")
  }
}

extension KroneckerCurvature {
  /// The K-FAC whitener of this fit for `damping`; see `KFACWhitener`.
  ///
  /// - Throws: `.badState` before `fit()`; `.numerical` when a damped
  ///   eigenvalue is not positive (zero damping of a singular factor).
  /// - Complexity: O(Σ_l d_in³ + d_out³).
  public func whitener(damping: CurvatureDamping = .default) throws -> KFACWhitener {
    try KFACWhitener(self, damping: damping)
  }
}
