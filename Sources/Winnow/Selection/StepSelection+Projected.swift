/// Step mode on raw gradients and on linear-layer factors: the batch and the
/// target are projected with the projector passed to the call, then kept as
/// `select(features:…)` keeps their features.
extension StepSelection {
  /// Projects a batch of raw gradients (`rows × D`) and the target gradient
  /// (`D`, projected as a batch of one row), then keeps `keep` rows.
  ///
  /// - Parameters:
  ///   - gradients: `rows × dim` per-sample gradients, row-major.
  ///   - targetGradient: `dim` values.
  ///   - projector: A projector with `inputDim == dim` (dense or sparse).
  ///   - keep: `b` in `1...rows`; `stepSize`: `η ≥ 0`.
  /// - Throws: `.shapeMismatch` when `dim` is not the projector's `D`, and as
  ///   `select(features:…)`.
  /// - Complexity: O((rows + 1)·D·k + b·rows·k).
  public static func select(
    gradients: UnsafePointer<Float>, rows: Int, dim: Int, targetGradient: UnsafePointer<Float>,
    projector: some FeatureProjector, keep: Int, stepSize: Float
  ) throws -> StepPlan {
    let f = try projector.features(gradients, rows: rows, dim: dim)
    let t = try projector.features(targetGradient, rows: 1, dim: dim)
    return try select(
      features: f, rows: rows, dim: projector.outputDim, target: t, keep: keep,
      stepSize: stepSize)
  }

  /// Projects a batch and a target from linear-layer factors with
  /// `projector`, then keeps `keep` samples.
  ///
  /// The result equals `select(features:…)` on the projected features.
  /// - Parameters:
  ///   - tokenCounts: `T_s` per candidate of the batch (`rows` samples).
  ///   - factors: One `LayerFactors` per layer (`ΣT` rows each).
  ///   - targetTokenCount: `T_t`, the rows of every target factor; the
  ///     target gradient is `Σ_t δ_t a_tᵀ` over them (concatenate the tokens
  ///     of several validation samples to target their summed gradient).
  ///   - target: One `LayerFactors` per layer (`T_t` rows each).
  ///   - projector: The factored projector of the layers.
  ///   - keep: `b` in `1...rows`; `stepSize`: `η ≥ 0`.
  /// - Complexity: the projection of `rows + 1` samples plus
  ///   O(b·rows·featureDim).
  public static func select(
    tokenCounts: [Int], factors: [LayerFactors], targetTokenCount: Int,
    target: [LayerFactors], projector: FactoredProjector, keep: Int, stepSize: Float
  ) throws -> StepPlan {
    let f = try projector.project(tokenCounts: tokenCounts, layers: factors)
    let t = try projector.project(tokenCounts: [targetTokenCount], layers: target)
    return try select(
      features: f.storage, rows: tokenCounts.count, dim: projector.featureDim,
      target: t.storage, keep: keep, stepSize: stepSize)
  }
}
