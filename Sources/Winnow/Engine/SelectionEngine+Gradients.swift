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

  /// The checks `addTarget(task:features:…)` makes before it reads
  /// anything, for the entry points that project first: the epoch is open,
  /// no candidate features came yet, and `task` is in range.
  package func checkTargetBatch(task: Int) throws {
    guard state.isOpen else { throw WinnowError(.badState, "addTarget before beginEpoch") }
    guard state.targetMeans == nil else {
      throw WinnowError(.badState, "targets must come before the epoch's first candidate features")
    }
    guard (0..<taskCount).contains(task) else {
      throw WinnowError.invalid("task \(task) is outside 0..<\(taskCount)")
    }
  }

  /// The checks `addCandidates(ids:…)` makes before it reads anything, for
  /// the entry points that project first (so that a batch the engine would
  /// refuse is neither projected nor allocated): the epoch is open and
  /// `count` fits the pool. With `checkTargets` (after the caller has
  /// checked dimensions), also that every task has targets.
  package func checkCandidateBatch(count: Int, checkTargets: Bool) throws {
    guard state.isOpen else { throw WinnowError(.badState, "addCandidates before beginEpoch") }
    guard count >= 0, count <= poolSize else {
      throw WinnowError.invalid("\(count) candidates in one batch, but the pool holds \(poolSize)")
    }
    if checkTargets, state.targetMeans == nil, let t = state.targetRows.firstIndex(of: 0) {
      throw WinnowError(.badState, "task \(t) has no target features this epoch")
    }
  }

  /// Adds raw target gradients (`rows × D`) for one task.
  /// - Complexity: O(rows·D·k) for the projection.
  public func addTarget(task: Int, gradients: UnsafePointer<Float>, rows: Int, dim: Int) throws {
    try checkTargetBatch(task: task)
    let f = try projected(gradients, rows: rows, dim: dim)
    try addTarget(task: task, features: f, rows: rows, dim: featureDim)
  }

  /// Adds candidates by id with raw gradients (`count × D`).
  /// - Complexity: O(count·D·k) for the projection.
  public func addCandidates(
    ids: UnsafePointer<Int64>, count: Int, gradients: UnsafePointer<Float>, dim: Int,
    losses: UnsafePointer<Float>? = nil, referenceLosses: UnsafePointer<Float>? = nil
  ) throws {
    try checkCandidateBatch(count: count, checkTargets: false)  // before gradients are read
    guard let projector else {
      throw WinnowError(.badState, "raw gradients need an engine created with a projector")
    }
    guard dim == projector.inputDim else {
      throw WinnowError.shape("gradients have dim \(dim), the engine's projector takes \(projector.inputDim)")
    }
    try checkCandidateBatch(count: count, checkTargets: true)
    let f = try projected(gradients, rows: count, dim: dim)
    try addCandidates(
      ids: ids, count: count, features: f, dim: featureDim, losses: losses,
      referenceLosses: referenceLosses)
  }
}
