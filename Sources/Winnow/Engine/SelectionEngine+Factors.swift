/// Linear-layer factor entry points: per-sample activations `A` and output
/// gradients `Δ` of each layer are projected with a `FactoredProjector`
/// (DESIGN §2.7) into `featureDim` features, then handled exactly as the
/// feature entry points. The projector's `featureDim` must equal the engine's.
extension SelectionEngine {
  /// Projects a batch of factors to `tokenCounts.count × featureDim` features.
  ///
  /// - Throws: `.shapeMismatch` when the projector's feature dim differs from
  ///   the engine's, and as `FactoredProjector.project(tokenCounts:layers:)`.
  func projected(
    _ projector: FactoredProjector, tokenCounts: [Int], factors: [LayerFactors]
  ) throws -> [Float] {
    try Self.checkFeatureDim(projector, featureDim)
    return try projector.project(tokenCounts: tokenCounts, layers: factors).storage
  }

  static func checkFeatureDim(_ projector: FactoredProjector, _ featureDim: Int) throws {
    guard projector.featureDim == featureDim else {
      throw WinnowError.shape(
        "the factored projector gives \(projector.featureDim) features "
          + "(Σ k_out·k_in), the engine's feature dim is \(featureDim)")
    }
  }

  /// Adds target rows for one task from linear-layer factors: each of the
  /// `tokenCounts.count` target samples becomes one projected target row.
  ///
  /// - Parameters:
  ///   - task: in `0..<taskCount`.
  ///   - tokenCounts: `T_s` per target sample (at least one sample).
  ///   - factors: One `LayerFactors` per projector layer (`A` `ΣT × d_in`,
  ///     `Δ` `ΣT × d_out`).
  ///   - projector: A factored projector with `featureDim` features.
  /// - Complexity: that of the projection, then O(rows·k).
  public func addTarget(
    task: Int, tokenCounts: [Int], factors: [LayerFactors], projector: FactoredProjector
  ) throws {
    try checkTargetBatch(task: task)
    let f = try projected(projector, tokenCounts: tokenCounts, factors: factors)
    try addTarget(task: task, features: f, rows: tokenCounts.count, dim: featureDim)
  }

  /// Adds candidates by id from linear-layer factors; sample `s` of the
  /// batch is `ids[s]` and owns `tokenCounts[s]` rows of every factor.
  ///
  /// - Parameters:
  ///   - ids: `tokenCounts.count` sample ids of the pool.
  ///   - tokenCounts: `T_s` per candidate.
  ///   - factors: One `LayerFactors` per projector layer.
  ///   - projector: A factored projector with `featureDim` features.
  ///   - losses, referenceLosses: As `addCandidates(ids:count:features:…)`.
  /// - Complexity: that of the projection, then O(count·k·T).
  public func addCandidates(
    ids: UnsafePointer<Int64>, tokenCounts: [Int], factors: [LayerFactors],
    projector: FactoredProjector, losses: UnsafePointer<Float>? = nil,
    referenceLosses: UnsafePointer<Float>? = nil
  ) throws {
    try checkCandidateBatch(count: tokenCounts.count, checkTargets: false)
    try Self.checkFeatureDim(projector, featureDim)
    try checkCandidateBatch(count: tokenCounts.count, checkTargets: true)
    let f = try projected(projector, tokenCounts: tokenCounts, factors: factors)
    try addCandidates(
      ids: ids, count: tokenCounts.count, features: f, dim: featureDim, losses: losses,
      referenceLosses: referenceLosses)
  }
}
