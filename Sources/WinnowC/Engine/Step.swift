import CWinnowABI
import Winnow

// Step mode (online batch selection, GREATS), with or without an engine.

@c @implementation
public func wn_select_step(
  _ features: UnsafePointer<Float>?, _ rows: Int, _ dim: Int, _ target: UnsafePointer<Float>?,
  _ keep: Int, _ stepSize: Float, _ outIndices: UnsafeMutablePointer<Int64>?,
  _ outWeights: UnsafeMutablePointer<Float>?, _ capacity: Int
) -> Int32 {
  status {
    try step(features, rows, dim, target, keep, stepSize, outIndices, outWeights, capacity) {
      try StepSelection.select(
        features: $0, rows: rows, dim: dim, target: $1, keep: keep, stepSize: stepSize)
    }
  }
}

@c @implementation
public func wn_engine_select_step(
  _ engine: OpaquePointer?, _ features: UnsafePointer<Float>?, _ rows: Int, _ dim: Int,
  _ target: UnsafePointer<Float>?, _ keep: Int, _ stepSize: Float,
  _ outIndices: UnsafeMutablePointer<Int64>?, _ outWeights: UnsafeMutablePointer<Float>?,
  _ capacity: Int
) -> Int32 {
  onEngine(engine) { e in
    try step(features, rows, dim, target, keep, stepSize, outIndices, outWeights, capacity) {
      // Step mode needs no engine state: only the engine's feature dim.
      guard dim == e.featureDim else {
        throw WinnowError(
          .shapeMismatch, "step features have dim \(dim), the engine expects \(e.featureDim)")
      }
      return try StepSelection.select(
        features: $0, rows: rows, dim: dim, target: $1, keep: keep, stepSize: stepSize)
    }
  }
}

/// Checks the shared arguments of step mode, runs `rule`, copies the result.
func step(
  _ features: UnsafePointer<Float>?, _ rows: Int, _ dim: Int, _ target: UnsafePointer<Float>?,
  _ keep: Int, _ stepSize: Float, _ outIndices: UnsafeMutablePointer<Int64>?,
  _ outWeights: UnsafeMutablePointer<Float>?, _ capacity: Int,
  _ rule: (UnsafePointer<Float>, UnsafePointer<Float>) throws -> StepPlan
) throws {
  let f = try Check.present(features, "features")
  let t = try Check.present(target, "target")
  let out = try Check.present(outIndices, "out_indices")
  let (rows, dim) = (try Check.count(rows, "rows"), try Check.count(dim, "dim"))
  guard rows >= 1, dim >= 1 else {
    throw WinnowError(.shapeMismatch, "a step batch needs rows ≥ 1 and dim ≥ 1, got \(rows) × \(dim)")
  }
  _ = try Check.product(rows, dim, "features")
  guard keep >= 1, keep <= rows else {
    throw WinnowError(.invalidArgument, "keep = \(UInt(bitPattern: keep)) is outside 1...\(rows)")
  }
  guard stepSize.isFinite, stepSize >= 0 else {
    throw WinnowError(.invalidArgument, "step size \(stepSize) must be finite and ≥ 0")
  }
  try Check.capacity(capacity, keep, "out_indices")
  let plan = try rule(f, t)
  for (i, index) in plan.indices.enumerated() { out[i] = Int64(index) }
  if let outWeights {
    for (i, w) in plan.weights.enumerated() { outWeights[i] = w }
  }
}
