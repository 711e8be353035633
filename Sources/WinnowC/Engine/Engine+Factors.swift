import CWinnowABI
import Winnow

// Linear-layer factors into the engine and step mode, projected with a
// factored projector whose feature dim must equal the engine's.

@c @implementation
public func wn_engine_add_target_factors(
  _ engine: OpaquePointer?, _ projector: OpaquePointer?, _ task: Int, _ sampleCount: Int,
  _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int, _ layerCount: Int,
  _ layerIDs: UnsafePointer<UInt64>?, _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?
) -> Int32 {
  onEngine(engine) { e in
    let p = try factoredProjector(projector)
    let task = try Check.count(task, "task")
    let batch = try FactorBatch(
      p, sampleCount, tokenCounts, totalTokens, layerCount, layerIDs, inputs, outputGradients,
      FactorBuffer.float32)
    try e.addTarget(task: task, tokenCounts: batch.tokenCounts, factors: batch.layers, projector: p)
  }
}

@c @implementation
public func wn_engine_add_candidate_factors(
  _ engine: OpaquePointer?, _ projector: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
  _ count: Int, _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int, _ layerCount: Int,
  _ layerIDs: UnsafePointer<UInt64>?, _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?, _ losses: UnsafePointer<Float>?,
  _ referenceLosses: UnsafePointer<Float>?
) -> Int32 {
  onEngine(engine) { e in
    let p = try factoredProjector(projector)
    let batch = try FactorBatch(
      p, count, tokenCounts, totalTokens, layerCount, layerIDs, inputs, outputGradients,
      FactorBuffer.float32)
    var none: Int64 = 0
    try withUnsafePointer(to: &none) { placeholder in
      let ids = batch.tokenCounts.isEmpty ? ids ?? placeholder : try Check.present(ids, "ids")
      try e.addCandidates(
        ids: ids, tokenCounts: batch.tokenCounts, factors: batch.layers, projector: p,
        losses: losses, referenceLosses: referenceLosses)
    }
  }
}

@c @implementation
public func wn_select_step_factors(
  _ projector: OpaquePointer?, _ sampleCount: Int, _ tokenCounts: UnsafePointer<Int>?,
  _ totalTokens: Int, _ layerCount: Int, _ layerIDs: UnsafePointer<UInt64>?,
  _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?, _ targetTokens: Int,
  _ targetInputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ targetOutputGradients: UnsafePointer<UnsafePointer<Float>?>?, _ keep: Int, _ stepSize: Float,
  _ outIndices: UnsafeMutablePointer<Int64>?, _ outWeights: UnsafeMutablePointer<Float>?,
  _ capacity: Int
) -> Int32 {
  onFactoredProjector(projector) { p in
    let batch = try FactorBatch(
      p, sampleCount, tokenCounts, totalTokens, layerCount, layerIDs, inputs, outputGradients,
      FactorBuffer.float32)
    let target = try FactorBatch(
      target: p, tokens: targetTokens, layerCount, layerIDs, targetInputs, targetOutputGradients)
    let (f, t) = (try batch.features(p), try target.features(p))
    try step(f, batch.tokenCounts.count, p.featureDim, t, keep, stepSize, outIndices, outWeights, capacity) {
      try StepSelection.select(
        features: $0, rows: batch.tokenCounts.count, dim: p.featureDim, target: $1, keep: keep,
        stepSize: stepSize)
    }
  }
}

@c @implementation
public func wn_engine_select_step_factors(
  _ engine: OpaquePointer?, _ projector: OpaquePointer?, _ sampleCount: Int,
  _ tokenCounts: UnsafePointer<Int>?, _ totalTokens: Int, _ layerCount: Int,
  _ layerIDs: UnsafePointer<UInt64>?, _ inputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ outputGradients: UnsafePointer<UnsafePointer<Float>?>?, _ targetTokens: Int,
  _ targetInputs: UnsafePointer<UnsafePointer<Float>?>?,
  _ targetOutputGradients: UnsafePointer<UnsafePointer<Float>?>?, _ keep: Int, _ stepSize: Float,
  _ outIndices: UnsafeMutablePointer<Int64>?, _ outWeights: UnsafeMutablePointer<Float>?,
  _ capacity: Int
) -> Int32 {
  onEngine(engine) { e in
    let p = try factoredProjector(projector)
    guard p.featureDim == e.featureDim else {
      throw WinnowError(
        .shapeMismatch,
        "the factored projector gives \(p.featureDim) features, the engine's feature dim is \(e.featureDim)")
    }
    let batch = try FactorBatch(
      p, sampleCount, tokenCounts, totalTokens, layerCount, layerIDs, inputs, outputGradients,
      FactorBuffer.float32)
    let target = try FactorBatch(
      target: p, tokens: targetTokens, layerCount, layerIDs, targetInputs, targetOutputGradients)
    let (f, t) = (try batch.features(p), try target.features(p))
    try step(f, batch.tokenCounts.count, p.featureDim, t, keep, stepSize, outIndices, outWeights, capacity) {
      try StepSelection.select(
        features: $0, rows: batch.tokenCounts.count, dim: p.featureDim, target: $1, keep: keep,
        stepSize: stepSize)
    }
  }
}
