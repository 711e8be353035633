/// A target gradient of one linear layer (e.g. a validation gradient).
public enum TargetGradient {
  /// Given by factors: `G_t = Δ_tᵀ A_t` with `A_t` `tokenCount × d_in` and
  /// `Δ_t` `tokenCount × d_out`, row-major.
  case factors(inputs: FactorBuffer, outputGradients: FactorBuffer, tokenCount: Int)
  /// Given explicitly: `G_t`, `d_out × d_in`, row-major.
  case gradient(FactorBuffer)
}

/// The target gradient of the layer `layerID`.
public struct LayerTarget {
  /// The `LinearLayerSpec.id` of the layer.
  public var layerID: UInt64
  /// The layer's target gradient.
  public var gradient: TargetGradient

  /// Pairs a layer id with its target gradient.
  public init(layerID: UInt64, gradient: TargetGradient) {
    self.layerID = layerID
    self.gradient = gradient
  }
}

extension GhostDotProducts {
  /// The dot products `⟨G_i, G_target⟩` of a batch with one target gradient,
  /// summed over layers.
  ///
  /// The ghost path uses `sum((A_i A_tᵀ) ∘ (Δ_i Δ_tᵀ))` for a target given by
  /// factors, and `sum((Δ_i G_t) ∘ A_i)` for an explicit target; neither
  /// forms a per-sample gradient. The explicit form always takes it unless
  /// forced, being never costlier than materializing.
  ///
  /// - Parameters:
  ///   - tokenCounts: `T_s` per sample; `S` entries summing to `ΣT`.
  ///   - layers: One `LayerFactors` per layer, any order (`A` `ΣT × d_in`,
  ///     `Δ` `ΣT × d_out`).
  ///   - targets: One `LayerTarget` per layer, any order.
  ///   - path: Forces one path for every layer; `nil` picks the cheaper.
  /// - Returns: Values `S × 1` and the path used per layer.
  /// - Throws: As `gram(tokenCounts:layers:forcing:)`, for targets too.
  /// - Complexity: Per layer, ghost `ΣT·T_t·(d_in + d_out)` (factors) or
  ///   `ΣT·d_in·d_out` (explicit); materialized `(ΣT + T_t + S)·d_in·d_out`.
  public func dotProducts(
    tokenCounts: [Int], layers: [LayerFactors], targets: [LayerTarget],
    forcing path: GhostPath? = nil
  ) throws -> ExactDotProducts {
    let rows = try FactoredLayout.totalTokens(tokenCounts)
    let ordered = try layout.ordered(layers, rows: rows, what: "batch")
    let orderedTargets = try orderTargets(targets)
    try layout.checkBLASDims(ranks: false)  // after the sizes: those are OOM
    var sums = [Double](repeating: 0, count: tokenCounts.count)
    var paths: [GhostPath] = []
    for (l, f) in ordered.enumerated() {
      let spec = layout.layers[l]
      let chosen = path ?? Self.targetPath(spec, tokenCounts: tokenCounts, orderedTargets[l])
      paths.append(chosen)
      try f.inputs.withFloat32(rows: rows, cols: spec.inputDim, name: "batch: layer \(spec.id) inputs") { a in
        try f.outputGradients.withFloat32(
          rows: rows, cols: spec.outputDim, name: "batch: layer \(spec.id) output gradients"
        ) { d in
          let batch = FloatFactors(a: a, d: d, spec: spec, tokenCounts: tokenCounts)
          try accumulateTarget(batch, orderedTargets[l], chosen, into: &sums)
        }
      }
    }
    let values = try Matrix(rows: sums.count, cols: 1, storage: sums.map { Float($0) })
    return ExactDotProducts(values: values, paths: paths)
  }

  /// The path `dotProducts` picks for a layer: the one with fewer multiply-adds.
  static func targetPath(_ spec: LinearLayerSpec, tokenCounts: [Int], _ target: TargetGradient) -> GhostPath {
    guard case .factors(_, _, let tt) = target else { return .ghost }
    let total = Double(tokenCounts.reduce(0, +))
    let size = Double(spec.inputDim) * Double(spec.outputDim)
    let ghost = total * Double(tt) * Double(spec.inputDim + spec.outputDim)
    let materialized = (total + Double(tt) + Double(tokenCounts.count)) * size
    return ghost <= materialized ? .ghost : .materialized
  }

  /// Targets in layer order, after checking ids and sizes.
  private func orderTargets(_ targets: [LayerTarget]) throws -> [TargetGradient] {
    var slots = [TargetGradient?](repeating: nil, count: layout.layers.count)
    for t in targets {
      guard let l = layout.indexByID[t.layerID] else {
        throw WinnowError.invalid(
          "target: layer id \(t.layerID) is unknown; known ids: \(layout.layers.map(\.id))")
      }
      guard slots[l] == nil else {
        throw WinnowError.invalid("target: layer id \(t.layerID) is given more than once")
      }
      let spec = layout.layers[l]
      switch t.gradient {
      case .factors(let a, let d, let tt):
        guard tt >= 0 else { throw WinnowError.invalid("target: layer \(spec.id) tokenCount = \(tt) is negative") }
        try layout.checkSizes(
          LayerFactors(layerID: spec.id, inputs: a, outputGradients: d), at: l, rows: tt,
          what: "target")
      case .gradient(let g):
        guard g.count == spec.inputDim * spec.outputDim else {
          throw WinnowError.shape(
            "target: layer \(spec.id) gradient holds \(g.count) elements, expected "
              + "d_out × d_in = \(spec.outputDim) × \(spec.inputDim)")
        }
      }
      slots[l] = t.gradient
    }
    if let missing = slots.firstIndex(where: { $0 == nil }) {
      throw WinnowError.invalid("target: layer id \(layout.layers[missing].id) is missing")
    }
    return slots.compactMap { $0 }
  }
}
