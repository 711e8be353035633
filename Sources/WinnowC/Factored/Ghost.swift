import CWinnowABI
import Winnow

// wn_ghost_*: exact gradient dot products, a thin translation of
// `GhostDotProducts`. No handle: layers are described by their dims, and
// layer l of the pointer arrays is given the id l.

/// The layers `0..<layerCount` with the given dims.
private func ghostLayers(
  _ layerCount: Int, _ inputDims: UnsafePointer<Int>?, _ outputDims: UnsafePointer<Int>?
) throws -> [LinearLayerSpec] {
  let n = try Check.count(layerCount, "layer_count")
  guard n >= 1 else { throw WinnowError(.invalidArgument, "at least one layer is required") }
  _ = try Check.product(n, 1, elementSize: 8, "layer arrays")
  let din = try Check.present(inputDims, "input_dims")
  let dout = try Check.present(outputDims, "output_dims")
  return try (0..<n).map { l in
    LinearLayerSpec(
      id: UInt64(l), inputDim: try Check.count(din[l], "input_dims[\(l)]"),
      outputDim: try Check.count(dout[l], "output_dims[\(l)]"))
  }
}

/// The arguments both ghost calls share, checked: layers, path, token
/// counts and the batch's float32 factors.
private struct GhostBatch {
  let specs: [LinearLayerSpec]
  let dots: GhostDotProducts
  let path: GhostPath?
  let counts: [Int]
  let factors: [LayerFactors]

  init(
    _ layerCount: Int, _ inputDims: UnsafePointer<Int>?, _ outputDims: UnsafePointer<Int>?,
    _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int,
    _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
    _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?, _ path: Int32
  ) throws {
    specs = try ghostLayers(layerCount, inputDims, outputDims)
    dots = try GhostDotProducts(layers: specs)
    self.path = try FactorArguments.path(path)
    counts = try FactorArguments.tokenCounts(sampleCount, tokenCounts, total: totalTokens)
    factors = try FactorArguments.factors(
      specs, rows: totalTokens, inputs: inputs, outputGradients: outputGradients,
      FactorBuffer.float32)
  }
}

extension ExactDotProducts {
  /// Copies the values into the caller's buffer and reports each layer's path.
  fileprivate func write(to out: UnsafeMutablePointer<Float>, paths: UnsafeMutablePointer<Int32>?) {
    values.storage.withUnsafeBufferPointer {
      guard let base = $0.baseAddress else { return }
      out.update(from: base, count: $0.count)
    }
    FactorArguments.report(self.paths, to: paths)
  }
}

@c @implementation
public func wn_ghost_gram_f32(
  _ layerCount: Int, _ inputDims: UnsafePointer<Int>?, _ outputDims: UnsafePointer<Int>?,
  _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int,
  _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?, _ path: Int32,
  _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int,
  _ outPaths: UnsafeMutablePointer<Int32>?
) -> Int32 {
  status {
    let b = try GhostBatch(
      layerCount, inputDims, outputDims, sampleCount, tokenCounts, totalTokens, inputs,
      outputGradients, path)
    let out = try Check.present(out, "out")
    try Check.capacity(outCapacity, try Check.product(b.counts.count, b.counts.count, "out"), "out")
    let result = try b.dots.gram(tokenCounts: b.counts, layers: b.factors, forcing: b.path)
    result.write(to: out, paths: outPaths)
  }
}

@c @implementation
public func wn_ghost_target_dots_f32(
  _ layerCount: Int, _ inputDims: UnsafePointer<Int>?, _ outputDims: UnsafePointer<Int>?,
  _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int,
  _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?,
  _ targetTokenCounts: UnsafePointer<Int>?, _ targetInputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ targetOutputGradients: UnsafePointer<UnsafePointer<Float>?>?,
  _ targetGradients: UnsafePointer<UnsafePointer<Float>?>?, _ path: Int32,
  _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int,
  _ outPaths: UnsafeMutablePointer<Int32>?
) -> Int32 {
  status {
    let b = try GhostBatch(
      layerCount, inputDims, outputDims, sampleCount, tokenCounts, totalTokens, inputs,
      outputGradients, path)
    let targets = try b.specs.enumerated().map { l, spec in
      LayerTarget(
        layerID: spec.id,
        gradient: try target(
          l, spec, targetTokenCounts, targetInputs, targetOutputGradients, targetGradients))
    }
    let out = try Check.present(out, "out")
    try Check.capacity(outCapacity, b.counts.count, "out")
    let result = try b.dots.dotProducts(
      tokenCounts: b.counts, layers: b.factors, targets: targets, forcing: b.path)
    result.write(to: out, paths: outPaths)
  }
}

/// Layer `l`'s target: explicit when `gradients?[l]` is set, else factors.
private func target(
  _ l: Int, _ spec: LinearLayerSpec, _ tokenCounts: UnsafePointer<Int>?,
  _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?,
  _ gradients: UnsafePointer<UnsafePointer<Float>?>?
) throws -> TargetGradient {
  if let g = gradients?[l] {
    let n = try Check.product(spec.outputDim, spec.inputDim, "target_gradients[\(l)]")
    return .gradient(.float32(UnsafeBufferPointer(start: g, count: n)))
  }
  guard let tokenCounts else {
    throw WinnowError(
      .nullPointer,
      "layer \(l) has no explicit target gradient, and target_token_counts is NULL")
  }
  let tokens = try Check.count(tokenCounts[l], "target_token_counts[\(l)]")
  let a = try Check.present(inputs, "target_inputs")
  let d = try Check.present(outputGradients, "target_output_gradients")
  let aCount = try Check.product(tokens, spec.inputDim, "target_inputs[\(l)]")
  let dCount = try Check.product(tokens, spec.outputDim, "target_output_gradients[\(l)]")
  let ai = try FactorArguments.matrix(a[l], aCount, "target_inputs[\(l)]")
  let di = try FactorArguments.matrix(d[l], dCount, "target_output_gradients[\(l)]")
  return .factors(
    inputs: .float32(UnsafeBufferPointer(start: ai, count: aCount)),
    outputGradients: .float32(UnsafeBufferPointer(start: di, count: dCount)), tokenCount: tokens)
}
