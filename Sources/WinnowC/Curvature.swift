import CWinnowABI
#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import Winnow

// wn_curvature_*: a thin translation of `KroneckerCurvature`.

/// What a curvature handle holds: the fit, and the whitener of the last
/// damping asked for (its inverse roots cost O(d³) per layer, so a loop that
/// whitens batch after batch computes them once).
struct OpenCurvature {
  var curvature: KroneckerCurvature
  var whitener: KFACWhitener?

  mutating func whitener(for damping: CurvatureDamping) throws -> KFACWhitener {
    if let w = whitener, w.damping == damping { return w }
    let w = try curvature.whitener(damping: damping)
    whitener = w
    return w
  }
}

/// Runs `body` on the live curvature behind `pointer`.
private func onCurvature(_ pointer: OpaquePointer?, _ body: (Handle<OpenCurvature>) throws -> Void) -> Int32 {
  call(pointer, .curvature) { (h: Handle<OpenCurvature>) in try body(h) }
}

/// A `WN_DAMPING_*` kind and its value.
private func damping(_ value: Double, _ kind: Int32) throws -> CurvatureDamping {
  switch kind {
  case 0: return try .relative(value)
  case 1: return try .absolute(value)
  default:
    throw WinnowError(
      .invalidArgument, "damping_kind \(kind) is neither WN_DAMPING_RELATIVE (0) nor WN_DAMPING_ABSOLUTE (1)")
  }
}

/// The C batch arguments as token counts and `LayerFactors`.
private func batch(
  _ c: KroneckerCurvature, _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int,
  _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?, _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?
) throws -> ([Int], [LayerFactors]) {
  let counts = try FactorArguments.tokenCounts(sampleCount, tokenCounts, total: totalTokens)
  let specs = try FactorArguments.layerOrder(c.layers, count: layerCount, ids: layerIDs, owner: "curvature")
  let layers = try FactorArguments.factors(
    specs, rows: totalTokens, inputs: inputs, outputGradients: outputGradients, FactorBuffer.float32)
  return (counts, layers)
}

@c @implementation
public func wn_curvature_create(
  _ out: UnsafeMutablePointer<OpaquePointer?>?, _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?,
  _ inputDims: UnsafePointer<Int>?, _ outputDims: UnsafePointer<Int>?
) -> Int32 {
  status {
    let out = try Check.present(out, "out")
    out.pointee = nil
    let n = try Check.count(layerCount, "layer_count")
    guard n >= 1 else { throw WinnowError(.invalidArgument, "at least one layer is required") }
    _ = try Check.product(n, 1, elementSize: 8, "layer arrays")
    let ids = try Check.present(layerIDs, "layer_ids")
    let dIn = try Check.present(inputDims, "input_dims")
    let dOut = try Check.present(outputDims, "output_dims")
    let layers = try (0..<n).map { l in
      LinearLayerSpec(
        id: ids[l], inputDim: try Check.count(dIn[l], "input_dims[\(l)]"),
        outputDim: try Check.count(dOut[l], "output_dims[\(l)]"))
    }
    let c = try KroneckerCurvature(layers: layers)
    out.pointee = Registry.open(Handle(OpenCurvature(curvature: c)), as: .curvature)
  }
}

@c @implementation
public func wn_curvature_free(_ curvature: OpaquePointer?) {
  Registry.close(curvature, as: .curvature, type: OpenCurvature.self)
}

@c @implementation
public func wn_curvature_last_error(_ curvature: OpaquePointer?) -> UnsafePointer<CChar>? {
  lastError(curvature, as: .curvature, OpenCurvature.self)
}

@c @implementation
public func wn_curvature_info(
  _ curvature: OpaquePointer?, _ outPhase: UnsafeMutablePointer<Int32>?, _ outTokens: UnsafeMutablePointer<Int>?,
  _ outSamples: UnsafeMutablePointer<Int>?, _ outCorrectionSamples: UnsafeMutablePointer<Int>?,
  _ outFeatureDim: UnsafeMutablePointer<Int>?, _ outLayerCount: UnsafeMutablePointer<Int>?
) -> Int32 {
  onCurvature(curvature) { h in
    let c = h.value.curvature
    outPhase?.pointee = Int32(c.phase.rawValue)
    outTokens?.pointee = c.tokens
    outSamples?.pointee = c.samples
    outCorrectionSamples?.pointee = c.correctionSamples
    outFeatureDim?.pointee = c.featureDim
    outLayerCount?.pointee = c.layers.count
  }
}

@c @implementation
public func wn_curvature_layers(
  _ curvature: OpaquePointer?, _ outIDs: UnsafeMutablePointer<UInt64>?,
  _ outInputDims: UnsafeMutablePointer<Int>?, _ outOutputDims: UnsafeMutablePointer<Int>?, _ capacity: Int
) -> Int32 {
  onCurvature(curvature) { h in
    let layers = h.value.curvature.layers
    if outIDs != nil || outInputDims != nil || outOutputDims != nil {
      try Check.capacity(capacity, layers.count, "the layer arrays")
    }
    for (l, spec) in layers.enumerated() {
      outIDs?[l] = spec.id
      outInputDims?[l] = spec.inputDim
      outOutputDims?[l] = spec.outputDim
    }
  }
}

@c @implementation
public func wn_curvature_accumulate_f32(
  _ curvature: OpaquePointer?, _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int,
  _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?, _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?
) -> Int32 {
  onCurvature(curvature) { h in
    let (counts, layers) = try batch(
      h.value.curvature, sampleCount, tokenCounts, totalTokens, layerCount, layerIDs, inputs, outputGradients)
    try h.value.curvature.accumulate(tokenCounts: counts, layers: layers)
  }
}

@c @implementation
public func wn_curvature_fit(_ curvature: OpaquePointer?) -> Int32 {
  onCurvature(curvature) { h in
    try h.value.curvature.fit()
    h.value.whitener = nil
  }
}

@c @implementation
public func wn_curvature_accumulate_corrections_f32(
  _ curvature: OpaquePointer?, _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int,
  _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?, _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?
) -> Int32 {
  onCurvature(curvature) { h in
    let (counts, layers) = try batch(
      h.value.curvature, sampleCount, tokenCounts, totalTokens, layerCount, layerIDs, inputs, outputGradients)
    try h.value.curvature.accumulateCorrections(tokenCounts: counts, layers: layers)
  }
}

@c @implementation
public func wn_curvature_whiten_f32(
  _ curvature: OpaquePointer?, _ dampingValue: Double, _ dampingKind: Int32, _ totalTokens: Int,
  _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?, _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?,
  _ outInputs: UnsafePointer<UnsafeMutablePointer<Float>?>?,
  _ outOutputGradients: UnsafePointer<UnsafeMutablePointer<Float>?>?, _ outRowsCapacity: Int
) -> Int32 {
  onCurvature(curvature) { h in
    let d = try damping(dampingValue, dampingKind)
    let rows = try Check.count(totalTokens, "total_tokens")
    let specs = try FactorArguments.layerOrder(
      h.value.curvature.layers, count: layerCount, ids: layerIDs, owner: "curvature")
    let layers = try FactorArguments.factors(
      specs, rows: rows, inputs: inputs, outputGradients: outputGradients, FactorBuffer.float32)
    let capacity = try Check.count(outRowsCapacity, "out_rows_capacity")
    guard capacity >= rows else {
      throw WinnowError(
        .bufferTooSmall, "out_rows_capacity = \(capacity) rows, but total_tokens = \(rows) must fit")
    }
    let a = try Check.present(outInputs, "out_inputs")
    let o = try Check.present(outOutputGradients, "out_output_gradients")
    let outputs = try specs.enumerated().map { i, spec in
      let ai = try FactorArguments.matrix(UnsafePointer(a[i]), rows * spec.inputDim, "out_inputs[\(i)]")
      let oi = try FactorArguments.matrix(
        UnsafePointer(o[i]), rows * spec.outputDim, "out_output_gradients[\(i)]")
      return (
        inputs: UnsafeMutableBufferPointer(start: UnsafeMutablePointer(mutating: ai), count: rows * spec.inputDim),
        outputGradients: UnsafeMutableBufferPointer(
          start: UnsafeMutablePointer(mutating: oi), count: rows * spec.outputDim)
      )
    }
    try h.value.whitener(for: d).whiten(rows: rows, layers: layers, into: outputs)
  }
}

@c @implementation
public func wn_curvature_whitened_projector(
  _ curvature: OpaquePointer?, _ dampingValue: Double, _ dampingKind: Int32, _ base: OpaquePointer?,
  _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
  onCurvature(curvature) { h in
    let out = try Check.present(out, "out")
    out.pointee = nil
    let d = try damping(dampingValue, dampingKind)
    let projector = try FactoredProjector(whitening: try factoredProjector(base), by: try h.value.whitener(for: d))
    out.pointee = Registry.open(Handle(projector), as: .factoredProjector)
  }
}

@c @implementation
public func wn_curvature_features_f32(
  _ curvature: OpaquePointer?, _ method: Int32, _ dampingValue: Double, _ dampingKind: Int32,
  _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int, _ layerCount: Int,
  _ layerIDs: UnsafePointer<UInt64>?, _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?, _ out: UnsafeMutablePointer<Float>?,
  _ outCapacity: Int
) -> Int32 {
  onCurvature(curvature) { h in
    guard let method = CurvatureMethod(rawValue: method) else {
      throw WinnowError(
        .invalidArgument, "method \(method) is neither WN_CURVATURE_KFAC (0) nor WN_CURVATURE_EKFAC (1)")
    }
    let d = try damping(dampingValue, dampingKind)
    let c = h.value.curvature
    let (counts, layers) = try batch(
      c, sampleCount, tokenCounts, totalTokens, layerCount, layerIDs, inputs, outputGradients)
    let out = try Check.present(out, "out")
    let dim = try c.eigenbasisFeatureDim(of: layers.map(\.layerID))
    try Check.capacity(outCapacity, try Check.product(counts.count, dim, "out"), "out")
    try c.eigenbasisFeatures(
      tokenCounts: counts, layers: layers, method: method, damping: d,
      into: UnsafeMutableBufferPointer(start: out, count: counts.count * dim))
  }
}

@c @implementation
public func wn_curvature_save(_ curvature: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
  onCurvature(curvature) { h in
    let path = String(cString: try Check.present(path, "path"))
    try h.value.curvature.save(to: URL(fileURLWithPath: path))
  }
}

@c @implementation
public func wn_curvature_load(_ out: UnsafeMutablePointer<OpaquePointer?>?, _ path: UnsafePointer<CChar>?) -> Int32 {
  status {
    let out = try Check.present(out, "out")
    out.pointee = nil
    let path = String(cString: try Check.present(path, "path"))
    let c = try KroneckerCurvature.load(from: URL(fileURLWithPath: path))
    out.pointee = Registry.open(Handle(OpenCurvature(curvature: c)), as: .curvature)
  }
}
