/// The checked list of linear layers shared by the factored projector and the
/// ghost dot products: ids, dimensions, and the validation of batch inputs.
struct FactoredLayout: Sendable {
  let layers: [LinearLayerSpec]
  let indexByID: [UInt64: Int]

  /// Checks that `layers` is non-empty, ids are unique and dims positive.
  init(_ layers: [LinearLayerSpec], checkRanks: Bool) throws {
    guard !layers.isEmpty else { throw WinnowError.invalid("at least one layer is required") }
    var index: [UInt64: Int] = [:]
    for (position, layer) in layers.enumerated() {
      guard index.updateValue(position, forKey: layer.id) == nil else {
        throw WinnowError.invalid("layer id \(layer.id) appears more than once")
      }
      guard layer.inputDim > 0, layer.outputDim > 0 else {
        throw WinnowError.invalid(
          "layer \(layer.id): inputDim = \(layer.inputDim) and outputDim = \(layer.outputDim) "
            + "must be positive")
      }
      if checkRanks {
        guard layer.inputRank > 0, layer.outputRank > 0 else {
          throw WinnowError.invalid(
            "layer \(layer.id): inputRank = \(layer.inputRank) and "
              + "outputRank = \(layer.outputRank) must be positive")
        }
      }
    }
    self.layers = layers
    self.indexByID = index
  }

  /// `.unsupported` unless every dim (and, with `ranks`, every rank) fits
  /// the 32-bit integers of BLAS, so that a layer BLAS cannot take is
  /// refused when the layers are given rather than at the first batch.
  func checkBLASDims(ranks: Bool) throws {
    for layer in layers {
      _ = try BLAS.int(layer.inputDim, "layer \(layer.id): d_in")
      _ = try BLAS.int(layer.outputDim, "layer \(layer.id): d_out")
      if ranks {
        _ = try BLAS.int(layer.inputRank, "layer \(layer.id): k_in")
        _ = try BLAS.int(layer.outputRank, "layer \(layer.id): k_out")
      }
    }
  }

  /// Checks per-sample token counts and returns their sum `ΣT`.
  static func totalTokens(_ tokenCounts: [Int]) throws -> Int {
    var total = 0
    for (s, t) in tokenCounts.enumerated() {
      guard t >= 0 else { throw WinnowError.invalid("tokenCounts[\(s)] = \(t) is negative") }
      total += t
    }
    return total
  }

  /// Matches `factors` to the layers: returns them in layer order, after
  /// checking that each layer appears exactly once and holds `rows` tokens.
  ///
  /// - Parameters:
  ///   - factors: One entry per layer, any order.
  ///   - rows: `ΣT`, the expected number of rows of every factor matrix.
  ///   - what: Names the input in error messages ("batch", "target").
  func ordered(_ factors: [LayerFactors], rows: Int, what: String) throws -> [LayerFactors] {
    var slots = [LayerFactors?](repeating: nil, count: layers.count)
    for f in factors {
      guard let position = indexByID[f.layerID] else {
        throw WinnowError.invalid(
          "\(what): layer id \(f.layerID) is unknown; known ids: \(layers.map(\.id))")
      }
      guard slots[position] == nil else {
        throw WinnowError.invalid("\(what): layer id \(f.layerID) is given more than once")
      }
      try checkSizes(f, at: position, rows: rows, what: what)
      slots[position] = f
    }
    if let missing = slots.firstIndex(where: { $0 == nil }) {
      throw WinnowError.invalid("\(what): layer id \(layers[missing].id) is missing")
    }
    return slots.compactMap { $0 }
  }

  /// The positions of `factors`, any of the layers each at most once (for
  /// per-layer work: whitening, EK-FAC), after checking that each holds
  /// `rows` rows of its layer's dims.
  func positions(ofAny factors: [LayerFactors], rows: Int, what: String) throws -> [Int] {
    var seen = Set<UInt64>()
    return try factors.map { f in
      guard let l = indexByID[f.layerID] else {
        throw WinnowError.invalid("\(what): layer id \(f.layerID) is unknown; known ids: \(layers.map(\.id))")
      }
      guard seen.insert(f.layerID).inserted else {
        throw WinnowError.invalid("\(what): layer id \(f.layerID) is given more than once")
      }
      try checkSizes(f, at: l, rows: rows, what: what)
      return l
    }
  }

  /// Checks that `f` holds `rows` rows of the dims of layer `position`.
  func checkSizes(_ f: LayerFactors, at position: Int, rows: Int, what: String) throws {
    let layer = layers[position]
    try Self.check(
      f.inputs, rows: rows, cols: layer.inputDim, "\(what): layer \(layer.id) inputs", "d_in")
    try Self.check(
      f.outputGradients, rows: rows, cols: layer.outputDim,
      "\(what): layer \(layer.id) output gradients", "d_out")
  }

  private static func check(
    _ buffer: FactorBuffer, rows: Int, cols: Int, _ name: String, _ dimName: String
  ) throws {
    if buffer.count == rows * cols { return }
    guard buffer.count % cols == 0 else {
      throw WinnowError.shape(
        "\(name) hold \(buffer.count) elements, not a whole number of rows of "
          + "\(dimName) = \(cols)")
    }
    throw WinnowError.shape(
      "\(name) hold \(buffer.count / cols) rows of \(dimName) = \(cols), but the token "
        + "counts give \(rows)")
  }
}
