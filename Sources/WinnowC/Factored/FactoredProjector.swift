import CWinnowABI
import Winnow

// wn_factored_projector_*: a thin translation of `FactoredProjector`.

/// Runs `body` on the live factored projector behind `pointer`.
func onFactoredProjector(
  _ pointer: OpaquePointer?, _ body: (FactoredProjector) throws -> Void
) -> Int32 {
  call(pointer, .factoredProjector) { (h: Handle<FactoredProjector>) in try body(h.value) }
}

/// The factored projector behind `pointer`, for entry points on another
/// handle (the engine's): NULL and dead pointers throw.
func factoredProjector(_ pointer: OpaquePointer?) throws -> FactoredProjector {
  guard pointer != nil else { throw WinnowError(.nullPointer, "the factored projector handle is NULL") }
  guard let h: Handle<FactoredProjector> = Registry.lookup(pointer, as: .factoredProjector) else {
    throw WinnowError(.invalidArgument, "the pointer is not a live factored projector handle")
  }
  return h.value
}

@c @implementation
public func wn_factored_projector_create(
  _ out: UnsafeMutablePointer<OpaquePointer?>?, _ layerCount: Int,
  _ layerIDs: UnsafePointer<UInt64>?, _ inputDims: UnsafePointer<Int>?,
  _ outputDims: UnsafePointer<Int>?, _ inputRanks: UnsafePointer<Int>?,
  _ outputRanks: UnsafePointer<Int>?, _ seed: UInt64, _ kind: Int32
) -> Int32 {
  status {
    let out = try Check.present(out, "out")
    out.pointee = nil
    let kinds: [Int32: ProjectorKind] = [0: .rademacher, 1: .gaussian]
    guard let kind = kinds[kind] else {
      throw WinnowError(
        .invalidArgument,
        "projector kind \(kind) is neither WN_PROJECTOR_RADEMACHER (0) nor WN_PROJECTOR_GAUSSIAN (1)")
    }
    let n = try Check.count(layerCount, "layer_count")
    guard n >= 1 else { throw WinnowError(.invalidArgument, "at least one layer is required") }
    _ = try Check.product(n, 1, elementSize: 8, "layer arrays")
    let ids = try Check.present(layerIDs, "layer_ids")
    let arrays = try [inputDims, outputDims, inputRanks, outputRanks].enumerated().map {
      try Check.present($1, ["input_dims", "output_dims", "input_ranks", "output_ranks"][$0])
    }
    // Sizes are checked (overflow, feasibility) by `FactoredProjector.init`.
    var layers: [LinearLayerSpec] = []
    for l in 0..<n {
      let din = try Check.count(arrays[0][l], "input_dims[\(l)]")
      let dout = try Check.count(arrays[1][l], "output_dims[\(l)]")
      let kin = try Check.count(arrays[2][l], "input_ranks[\(l)]")
      let kout = try Check.count(arrays[3][l], "output_ranks[\(l)]")
      layers.append(
        LinearLayerSpec(id: ids[l], inputDim: din, outputDim: dout, inputRank: kin, outputRank: kout))
    }
    let p = try FactoredProjector(layers: layers, seed: seed, kind: kind)
    out.pointee = Registry.open(Handle(p), as: .factoredProjector)
  }
}

@c @implementation
public func wn_factored_projector_free(_ projector: OpaquePointer?) {
  Registry.close(projector, as: .factoredProjector, type: FactoredProjector.self)
}

@c @implementation
public func wn_factored_projector_last_error(_ projector: OpaquePointer?) -> UnsafePointer<CChar>? {
  lastError(projector, as: .factoredProjector, FactoredProjector.self)
}

@c @implementation
public func wn_factored_projector_dims(
  _ projector: OpaquePointer?, _ outFeatureDim: UnsafeMutablePointer<Int>?,
  _ outLayerCount: UnsafeMutablePointer<Int>?, _ outOffsets: UnsafeMutablePointer<Int>?,
  _ offsetsCapacity: Int
) -> Int32 {
  onFactoredProjector(projector) { p in
    if let outOffsets {
      try Check.capacity(offsetsCapacity, p.layers.count, "out_offsets")
      for (l, offset) in p.featureOffsets.enumerated() { outOffsets[l] = offset }
    }
    outFeatureDim?.pointee = p.featureDim
    outLayerCount?.pointee = p.layers.count
  }
}

@c @implementation
public func wn_factored_projector_project_f32(
  _ projector: OpaquePointer?, _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?,
  _ totalTokens: Int, _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?,
  _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?, _ out: UnsafeMutablePointer<Float>?,
  _ outCapacity: Int
) -> Int32 {
  onFactoredProjector(projector) { p in
    let batch = try FactorBatch(
      p, sampleCount, tokenCounts, totalTokens, layerCount, layerIDs, inputs, outputGradients,
      FactorBuffer.float32)
    try batch.project(p, into: out, capacity: outCapacity)
  }
}

@c @implementation
public func wn_factored_projector_project_f16(
  _ projector: OpaquePointer?, _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?,
  _ totalTokens: Int, _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?,
  _ inputs: UnsafePointer<UnsafePointer<UInt16>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<UInt16>?>?, _ out: UnsafeMutablePointer<Float>?,
  _ outCapacity: Int
) -> Int32 {
  onFactoredProjector(projector) { p in
    let batch = try FactorBatch(
      p, sampleCount, tokenCounts, totalTokens, layerCount, layerIDs, inputs, outputGradients,
      FactorBuffer.float16)
    try batch.project(p, into: out, capacity: outCapacity)
  }
}

/// A batch of factors from the C arguments, checked against a projector.
struct FactorBatch {
  let tokenCounts: [Int]
  let layers: [LayerFactors]

  init<T>(
    _ p: FactoredProjector, _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?,
    _ totalTokens: Int, _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?,
    _ inputs: UnsafePointer<UnsafePointer<T>?>?,
    _ outputGradients: UnsafePointer<UnsafePointer<T>?>?,
    _ wrap: (UnsafeBufferPointer<T>) -> FactorBuffer
  ) throws {
    self.tokenCounts = try FactorArguments.tokenCounts(sampleCount, tokenCounts, total: totalTokens)
    let specs = try FactorArguments.layerOrder(p.layers, count: layerCount, ids: layerIDs)
    self.layers = try FactorArguments.factors(
      specs, rows: totalTokens, inputs: inputs, outputGradients: outputGradients, wrap)
  }

  /// The target of step mode: one sample of `tokens` rows, its pointer
  /// arrays in the batch's layer order.
  init(
    target p: FactoredProjector, tokens: Int, _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?,
    _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
    _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?
  ) throws {
    let tokens = try Check.count(tokens, "target_tokens")
    self.tokenCounts = [tokens]
    let specs = try FactorArguments.layerOrder(p.layers, count: layerCount, ids: layerIDs)
    self.layers = try FactorArguments.factors(
      specs, rows: tokens, inputs: inputs, outputGradients: outputGradients,
      names: ("target_inputs", "target_output_gradients"), FactorBuffer.float32)
  }

  /// Projects into the caller's `S × featureDim` buffer.
  func project(_ p: FactoredProjector, into out: UnsafeMutablePointer<Float>?, capacity: Int) throws {
    let out = try Check.present(out, "out")
    let needed = try Check.product(tokenCounts.count, p.featureDim, "out")
    try Check.capacity(capacity, needed, "out")
    try p.project(
      tokenCounts: tokenCounts, layers: layers, into: UnsafeMutableBufferPointer(start: out, count: needed))
  }

  /// Projects into a new `S × featureDim` array.
  func features(_ p: FactoredProjector) throws -> [Float] {
    _ = try Check.allocation([tokenCounts.count, p.featureDim], "the batch's features")
    return try p.project(tokenCounts: tokenCounts, layers: layers).storage
  }
}
