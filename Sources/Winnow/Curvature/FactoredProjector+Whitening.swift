extension FactoredProjector {
  /// The projector of K-FAC-whitened gradients: `base`'s maps with the
  /// whitening folded in, `P_in' = M_C P_in` and `P_out' = M_S P_out`.
  ///
  /// Because `M_C = (C + λ_C I)^{-1/2}` and `M_S` are symmetric,
  /// `P_outᵀ (M_S G M_C) P_in = P_out'ᵀ G P_in'`: projecting raw factors with
  /// this projector gives the features of the whitened factors, at the cost
  /// of a plain projection (`2T(d_in k_in + d_out k_out)` per sample, not
  /// whitening's `2T(d_in² + d_out²)`). Everything that takes a factored
  /// projector (the engine, step selection) then works on K-FAC features.
  ///
  /// - Parameters:
  ///   - base: The plain projector; its layers must be layers of the
  ///     curvature, with the same dims.
  ///   - whitener: The whitening, from `KroneckerCurvature.whitener(damping:)`.
  /// - Throws: `.invalidArgument` for a layer the curvature does not have,
  ///   or with other dims.
  /// - Complexity: O(Σ_l d_in²·k_in + d_out²·k_out).
  public convenience init(whitening base: FactoredProjector, by whitener: KFACWhitener) throws {
    var inputs: [[Float]] = [], outputs: [[Float]] = []
    for (l, spec) in base.layers.enumerated() {
      guard let w = whitener.layout.indexByID[spec.id] else {
        throw WinnowError.invalid(
          "layer \(spec.id) of the projector is not a layer of the curvature; its layers: "
            + "\(whitener.layers.map(\.id))")
      }
      let fitted = whitener.layers[w]
      guard fitted.inputDim == spec.inputDim, fitted.outputDim == spec.outputDim else {
        throw WinnowError.invalid(
          "layer \(spec.id): the projector has d_in = \(spec.inputDim), d_out = \(spec.outputDim), "
            + "the curvature d_in = \(fitted.inputDim), d_out = \(fitted.outputDim)")
      }
      inputs.append(
        try Self.whitened(base.inputProjections[l], by: whitener.inputMaps[w], dim: spec.inputDim, rank: spec.inputRank))
      outputs.append(
        try Self.whitened(
          base.outputProjections[l], by: whitener.outputMaps[w], dim: spec.outputDim, rank: spec.outputRank))
    }
    self.init(base, inputProjections: inputs, outputProjections: outputs, whitening: whitener.damping)
  }

  /// `M·P` for the whitening map `M` (`dim × dim`) and `P` (`dim × rank`).
  private static func whitened(_ p: [Float], by m: [Float], dim: Int, rank: Int) throws -> [Float] {
    try m.withUnsafeBufferPointer {
      try rightMultiply(.float32($0), rows: dim, cols: dim, by: p, rank: rank, name: "the whitening map")
    }
  }
}
