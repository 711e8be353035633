/// Step mode: online batch selection by the GREATS greedy rule (Wang et al.,
/// "GREATS: Online Selection of High-Quality Data for LLM Training",
/// NeurIPS 2024).
///
/// Of a batch of `rows` candidates with (projected) per-sample gradients
/// `g_i`, keeps `keep` rows `S` by greedily maximizing
/// `η·⟨g_i, target⟩ − η²·Σ_{j∈S} ⟨g_i, g_j⟩`, with the code the engine's
/// `diversity` policy runs (`GreedyDiversity`). It needs no engine and no
/// epoch: a training loop may call it at every step. Features are used as
/// given (not normalized), so `stepSize` is the training learning rate `η`
/// in the gradient scale of the inputs. Raw gradients and linear-layer
/// factors are projected with a projector passed per call
/// (`StepSelection+Projected.swift`).
public enum StepSelection {
  /// Keeps `keep` of a batch of features by the GREATS greedy rule.
  ///
  /// - Parameters:
  ///   - features: `rows × dim` per-sample (projected) gradients, row-major.
  ///   - target: `dim` values: the target (validation) gradient.
  ///   - keep: `b` in `1...rows`.
  ///   - stepSize: `η ≥ 0`.
  /// - Returns: the picks in greedy order, each with weight 1.
  /// - Throws: `.shapeMismatch` for an empty batch, `.nonFinite` for a NaN or
  ///   infinity in the inputs, `.invalidArgument` for `keep` or `stepSize`.
  /// - Complexity: O(b·rows·dim) time, O(rows) extra memory.
  public static func select(
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

  /// As `select(features:rows:dim:…)`, on a `rows × dim` matrix and a
  /// target vector of `dim` values.
  public static func select(
    features: Matrix, target: [Float], keep: Int, stepSize: Float
  ) throws -> StepPlan {
    guard target.count == features.cols else {
      throw WinnowError.shape("target has \(target.count) values, features \(features.cols) columns")
    }
    return try features.storage.withUnsafeBufferPointer { f in
      try target.withUnsafeBufferPointer { t in
        guard let fb = f.baseAddress, let tb = t.baseAddress else {
          throw WinnowError.shape("empty step batch")
        }
        return try select(
          features: fb, rows: features.rows, dim: features.cols, target: tb, keep: keep,
          stepSize: stepSize)
      }
    }
  }

  private static func checkFinite(_ x: UnsafePointer<Float>, _ count: Int, _ what: String) throws {
    let bad = Kernels.countNonFinite(x, count: count)
    if bad > 0 { throw WinnowError(.nonFinite, "\(what) hold \(bad) NaN or infinite values") }
  }
}
