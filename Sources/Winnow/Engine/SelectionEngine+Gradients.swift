/// Raw-gradient entry points: `rows × D` gradients are projected to
/// `rows × k` features with the engine's `DenseProjector`, then handled
/// exactly as the feature entry points.
extension SelectionEngine {
  /// Projects `rows × dim` raw gradients; `.badState` without a projector.
  func projected(_ x: UnsafePointer<Float>, rows: Int, dim: Int) throws -> [Float] {
    guard let projector else {
      throw WinnowError(.badState, "raw gradients need an engine created with a projector")
    }
    return try projector.features(x, rows: rows, dim: dim)
  }

  /// Adds raw target gradients (`rows × D`) for one task.
  /// - Complexity: O(rows·D·k) for the projection.
  public func addTarget(task: Int, gradients: UnsafePointer<Float>, rows: Int, dim: Int) throws {
    guard state.isOpen else { throw WinnowError(.badState, "addTarget before beginEpoch") }
    let f = try projected(gradients, rows: rows, dim: dim)
    try addTarget(task: task, features: f, rows: rows, dim: featureDim)
  }

  /// Adds candidates by id with raw gradients (`count × D`).
  /// - Complexity: O(count·D·k) for the projection.
  public func addCandidates(
    ids: UnsafePointer<Int64>, count: Int, gradients: UnsafePointer<Float>, dim: Int,
    losses: UnsafePointer<Float>? = nil, referenceLosses: UnsafePointer<Float>? = nil
  ) throws {
    guard state.isOpen else { throw WinnowError(.badState, "addCandidates before beginEpoch") }
    guard count <= poolSize else {  // before `count` rows of gradients are read
      throw WinnowError.invalid("\(count) candidates in one batch, but the pool holds \(poolSize)")
    }
    let f = try projected(gradients, rows: count, dim: dim)
    try addCandidates(
      ids: ids, count: count, features: f, dim: featureDim, losses: losses,
      referenceLosses: referenceLosses)
  }
}
