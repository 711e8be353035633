/// The result of step mode: which rows of a candidate batch to train on.
public struct StepPlan: Sendable, Equatable {
  /// Row indices into the batch, in greedy pick order.
  public var indices: [Int]
  /// One weight per kept row (1: GREATS trains on the plain mean of the kept rows).
  public var weights: [Float]
  /// The marginal gain of each pick, same order.
  public var gains: [Float]
}

extension SelectionEngine {
  /// Online batch selection: keeps `keep` of a batch of `rows` by the GREATS
  /// greedy rule (`GreedyDiversity`, the code the `diversity` policy runs).
  ///
  /// Features are used as given (not normalized), so `stepSize` is the
  /// training learning rate `η` in the gradient scale of the inputs.
  /// Independent of epochs: may be called at any time.
  /// - Parameters:
  ///   - features: `rows × dim` per-sample (projected) gradients, row-major.
  ///   - target: `dim` values: the target (validation) gradient.
  ///   - keep: `b` in `1...rows`; `stepSize`: `η ≥ 0`.
  /// - Complexity: O(b·rows·dim) time, O(rows) extra memory.
  public func selectStep(
    features: UnsafePointer<Float>, rows: Int, dim: Int, target: UnsafePointer<Float>,
    keep: Int, stepSize: Float
  ) throws -> StepPlan {
    guard dim == featureDim else {
      throw WinnowError.shape("step features have dim \(dim), the engine expects \(featureDim)")
    }
    return try Self.selectStep(
      features: features, rows: rows, dim: dim, target: target, keep: keep, stepSize: stepSize)
  }

  /// Step mode without an engine; see the instance method.
  public static func selectStep(
    features: UnsafePointer<Float>, rows: Int, dim: Int, target: UnsafePointer<Float>,
    keep: Int, stepSize: Float
  ) throws -> StepPlan {
    guard rows >= 1, dim >= 1 else {
      throw WinnowError.shape("a step batch needs rows ≥ 1 and dim ≥ 1, got \(rows) × \(dim)")
    }
    try checkFinite(features, try CheckedSize.product([rows, dim], "step features"), "step features")
    try checkFinite(target, dim, "step target")
    let r = try GreedyDiversity.select(
      features: features, rows: rows, dim: dim, target: target, count: keep, stepSize: stepSize)
    return StepPlan(
      indices: r.indices, weights: [Float](repeating: 1, count: r.indices.count), gains: r.gains)
  }
}
