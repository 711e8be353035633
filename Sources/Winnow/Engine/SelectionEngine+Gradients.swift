/// Raw-gradient entry points: `rows × D` gradients are projected to
/// `rows × k` features with the engine's `DenseProjector`, then handled
/// exactly as the feature entry points.
extension SelectionEngine {
  /// Projects `rows × dim` raw gradients; `.badState` without a projector.
  func projected(_ x: UnsafePointer<Float>, rows: Int, dim: Int) throws -> [Float] {
    guard let projector else {
      throw WinnowError(.badState, "raw gradients need an engine created with a projector")
    }
    guard dim == projector.inputDim else {
      throw WinnowError.shape("gradients have dim \(dim), the projector expects D = \(projector.inputDim)")
    }
    guard rows >= 1 else { throw WinnowError.invalid("gradient rows \(rows) < 1") }
    let count = try CheckedSize.allocatable([rows, featureDim], elementSize: 4, "the projected features")
    var out = [Float](repeating: 0, count: count)
    try out.withUnsafeMutableBufferPointer { o in
      try projector.project(x, rows: rows, into: o.baseAddress!)
    }
    return out
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

  /// Step mode on raw gradients: projects the batch (`rows × D`) and the
  /// target gradient (`D`), then runs the GREATS greedy on the features.
  /// - Complexity: O((rows + 1)·D·k + b·rows·k).
  public func selectStep(
    gradients: UnsafePointer<Float>, rows: Int, dim: Int, targetGradient: UnsafePointer<Float>,
    keep: Int, stepSize: Float
  ) throws -> StepPlan {
    let f = try projected(gradients, rows: rows, dim: dim)
    let t = try projected(targetGradient, rows: 1, dim: dim)
    return try Self.selectStep(
      features: f, rows: rows, dim: featureDim, target: t, keep: keep, stepSize: stepSize)
  }
}
