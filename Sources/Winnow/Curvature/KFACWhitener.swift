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
      let lc = damping.lambda(mean: Self.mean(state.inputEigenvalues))
      let ls = damping.lambda(mean: Self.mean(state.outputEigenvalues))
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

  static func mean(_ values: [Float]) -> Double {
    values.isEmpty ? 0 : values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
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
    try checkSubset(layers, rows: rows)
    for (entry, factors) in layers.enumerated() {
      let l = layout.indexByID[factors.layerID]!
      let spec = layout.layers[l]
      let (ai, ao) = outputs[entry]
      guard ai.count >= rows * spec.inputDim, ao.count >= rows * spec.outputDim else {
        throw WinnowError(
          .bufferTooSmall,
          "whiten: layer \(spec.id): the outputs hold \(ai.count) and \(ao.count) floats, "
            + "need \(rows) × \(spec.inputDim) and \(rows) × \(spec.outputDim)")
      }
    }
    for (entry, factors) in layers.enumerated() {
      let l = layout.indexByID[factors.layerID]!
      let spec = layout.layers[l]
      try Self.multiply(
        factors.inputs, rows: rows, dim: spec.inputDim, by: inputMaps[l], into: outputs[entry].inputs,
        name: "whiten: layer \(spec.id) inputs")
      try Self.multiply(
        factors.outputGradients, rows: rows, dim: spec.outputDim, by: outputMaps[l],
        into: outputs[entry].outputGradients, name: "whiten: layer \(spec.id) output gradients")
    }
  }

  /// Whitens a batch; returns `(layer id, A_w, Δ_w)` in the order of `layers`.
  public func whiten(rows: Int, layers: [LayerFactors]) throws -> [(
    id: UInt64, inputs: Matrix, outputGradients: Matrix
  )] {
    guard rows >= 0 else { throw WinnowError.invalid("rows = \(rows) is negative") }
    try checkSubset(layers, rows: rows)
    var buffers: [(inputs: UnsafeMutableBufferPointer<Float>, outputGradients: UnsafeMutableBufferPointer<Float>)] = []
    defer {
      for b in buffers {
        b.inputs.deallocate()
        b.outputGradients.deallocate()
      }
    }
    for factors in layers {
      let spec = layout.layers[layout.indexByID[factors.layerID]!]
      let a = try CheckedSize.allocatable([rows, spec.inputDim], elementSize: 4, "the whitened inputs of layer \(spec.id)")
      let d = try CheckedSize.allocatable(
        [rows, spec.outputDim], elementSize: 4, "the whitened output gradients of layer \(spec.id)")
      buffers.append((.allocate(capacity: max(a, 1)), .allocate(capacity: max(d, 1))))
    }
    try whiten(rows: rows, layers: layers, into: buffers)
    return try zip(layers, buffers).map { factors, b in
      let spec = layout.layers[layout.indexByID[factors.layerID]!]
      return (
        factors.layerID,
        try Matrix(rows: rows, cols: spec.inputDim, storage: Array(b.inputs.prefix(rows * spec.inputDim))),
        try Matrix(
          rows: rows, cols: spec.outputDim, storage: Array(b.outputGradients.prefix(rows * spec.outputDim)))
      )
    }
  }

  /// Checks that `layers` name known layers, each at most once (whitening
  /// is per layer: any subset may be whitened), with `rows` rows each.
  func checkSubset(_ layers: [LayerFactors], rows: Int) throws {
    var seen = Set<UInt64>()
    for f in layers {
      guard let l = layout.indexByID[f.layerID] else {
        throw WinnowError.invalid(
          "whiten: layer id \(f.layerID) is unknown; known ids: \(layout.layers.map(\.id))")
      }
      guard seen.insert(f.layerID).inserted else {
        throw WinnowError.invalid("whiten: layer id \(f.layerID) is given more than once")
      }
      try layout.checkSizes(f, at: l, rows: rows, what: "whiten")
    }
  }

  /// `out = X·M` for `X` `rows × dim` (float or half, in panels), `M` `dim × dim`.
  static func multiply(
    _ x: FactorBuffer, rows: Int, dim: Int, by m: [Float], into out: UnsafeMutableBufferPointer<Float>,
    name: String
  ) throws {
    try m.withUnsafeBufferPointer { mp in
      try x.forEachFloatPanel(rows: rows, cols: dim, name: name) { row0, n, panel in
        try BLAS.sgemm(
          .none, .none, m: n, n: dim, k: dim, alpha: 1, a: panel, lda: dim, b: mp.baseAddress!,
          ldb: dim, beta: 0, c: out.baseAddress! + row0 * dim, ldc: dim)
      }
    }
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
