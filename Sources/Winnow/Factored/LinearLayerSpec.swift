/// The shape of one linear layer and the ranks of its factored projection.
///
/// A linear layer `y = W x` with `W` `outputDim × inputDim` sees, for one
/// sample, per-token inputs `A` (`T × inputDim`) and output gradients `Δ`
/// (`T × outputDim`); its weight gradient is `G = Δᵀ A` (`outputDim × inputDim`).
/// The factored projection maps `G` to `outputRank × inputRank` features.
public struct LinearLayerSpec: Hashable, Codable, Sendable {
  /// A caller-chosen identifier, unique within a projector; it keys the
  /// layer's random matrices, so keep it stable across runs.
  public var id: UInt64
  /// `d_in`, the width of the layer's input.
  public var inputDim: Int
  /// `d_out`, the width of the layer's output.
  public var outputDim: Int
  /// `k_in`, the columns of `P_in` (`d_in × k_in`).
  public var inputRank: Int
  /// `k_out`, the columns of `P_out` (`d_out × k_out`).
  public var outputRank: Int

  /// Describes layer `id` with `W` of shape `outputDim × inputDim`, projected
  /// to `outputRank × inputRank` features.
  ///
  /// - Parameters:
  ///   - id: The layer's stable identifier.
  ///   - inputDim: `d_in`.
  ///   - outputDim: `d_out`.
  ///   - inputRank: `k_in`; ignored by `GhostDotProducts`.
  ///   - outputRank: `k_out`; ignored by `GhostDotProducts`.
  public init(id: UInt64, inputDim: Int, outputDim: Int, inputRank: Int = 1, outputRank: Int = 1) {
    self.id = id
    self.inputDim = inputDim
    self.outputDim = outputDim
    self.inputRank = inputRank
    self.outputRank = outputRank
  }

  /// `k_out · k_in`, the number of features this layer contributes.
  public var featureCount: Int { outputRank * inputRank }
}

/// A borrowed row-major matrix of `Float` or IEEE half (`UInt16` bit patterns).
///
/// The caller keeps the memory alive for the duration of the call it is
/// passed to; Winnow never retains it. Half-precision data is converted to
/// `Float` in panels, so no full `Float` copy is made when projecting.
public enum FactorBuffer {
  case float32(UnsafeBufferPointer<Float>)
  case float16(UnsafeBufferPointer<UInt16>)

  /// The number of elements.
  public var count: Int {
    switch self {
    case .float32(let b): b.count
    case .float16(let b): b.count
    }
  }
}

/// The factors of one linear layer for a batch of samples, or for a target.
///
/// Rows are tokens: the rows of sample `s` follow those of samples `0..<s`,
/// as counted by the batch's `tokenCounts`.
public struct LayerFactors {
  /// The `LinearLayerSpec.id` of the layer.
  public var layerID: UInt64
  /// `A`, the per-token layer inputs, `ΣT × d_in`, row-major.
  public var inputs: FactorBuffer
  /// `Δ`, the per-token gradients of the loss with respect to the layer
  /// output, `ΣT × d_out`, row-major.
  public var outputGradients: FactorBuffer

  /// Pairs the inputs `A` (`ΣT × d_in`) and output gradients `Δ`
  /// (`ΣT × d_out`) of layer `layerID`.
  public init(layerID: UInt64, inputs: FactorBuffer, outputGradients: FactorBuffer) {
    self.layerID = layerID
    self.inputs = inputs
    self.outputGradients = outputGradients
  }

  /// Calls `body` with borrowed views of owned factor matrices.
  ///
  /// A convenience for Swift callers holding `Matrix` values: each entry is
  /// `(layer id, A` `ΣT × d_in`, `Δ` `ΣT × d_out)`.
  ///
  /// - Parameters:
  ///   - layers: The owned factors, one entry per layer.
  ///   - body: Receives the borrowed `LayerFactors`, valid only inside it.
  public static func withMatrices<R>(
    _ layers: [(id: UInt64, inputs: Matrix, outputGradients: Matrix)],
    _ body: ([LayerFactors]) throws -> R
  ) rethrows -> R {
    try borrow(layers[...], into: [], body)
  }

  // Recursion keeps every borrowed pointer inside its closure's lifetime.
  private static func borrow<R>(
    _ rest: ArraySlice<(id: UInt64, inputs: Matrix, outputGradients: Matrix)>,
    into done: [LayerFactors], _ body: ([LayerFactors]) throws -> R
  ) rethrows -> R {
    guard let first = rest.first else { return try body(done) }
    return try first.inputs.storage.withUnsafeBufferPointer { a in
      try first.outputGradients.storage.withUnsafeBufferPointer { d in
        let layer = LayerFactors(layerID: first.id, inputs: .float32(a), outputGradients: .float32(d))
        return try borrow(rest.dropFirst(), into: done + [layer], body)
      }
    }
  }
}
