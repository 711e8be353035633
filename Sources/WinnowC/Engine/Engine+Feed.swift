import CWinnowABI
import Winnow

// Feeding an epoch: targets and candidates, as features or raw gradients.

@c @implementation
public func wn_engine_add_target(
  _ engine: OpaquePointer?, _ task: Int, _ features: UnsafePointer<Float>?, _ rows: Int, _ dim: Int
) -> Int32 {
  onEngine(engine) { e in
    let f = try Check.present(features, "features")
    let (rows, dim) = (try Check.count(rows, "rows"), try Check.count(dim, "dim"))
    _ = try Check.product(rows, dim, "features")
    try e.addTarget(task: try Check.count(task, "task"), features: f, rows: rows, dim: dim)
  }
}

@c @implementation
public func wn_engine_add_target_gradients(
  _ engine: OpaquePointer?, _ projector: OpaquePointer?, _ task: Int,
  _ gradients: UnsafePointer<Float>?, _ rows: Int, _ dim: Int
) -> Int32 {
  onEngine(engine) { e in
    let g = try Check.present(gradients, "gradients")
    let task = try Check.count(task, "task")
    let features = try project(projector, for: e, g, rows, dim) {
      try e.checkTargetBatch(task: task)  // before anything is allocated or read
    }
    try e.addTarget(task: task, features: features, rows: rows, dim: e.featureDim)
  }
}

@c @implementation
public func wn_engine_add_candidates(
  _ engine: OpaquePointer?, _ ids: UnsafePointer<Int64>?, _ count: Int,
  _ features: UnsafePointer<Float>?, _ dim: Int, _ losses: UnsafePointer<Float>?,
  _ referenceLosses: UnsafePointer<Float>?
) -> Int32 {
  onEngine(engine) { e in
    let count = try Check.count(count, "count")
    _ = try Check.product(count, 1, elementSize: 8, "ids")
    if features != nil { _ = try Check.product(count, try Check.count(dim, "dim"), "features") }
    try feed(e, ids, count, features, dim, losses, referenceLosses)
  }
}

@c @implementation
public func wn_engine_add_candidate_gradients(
  _ engine: OpaquePointer?, _ projector: OpaquePointer?, _ ids: UnsafePointer<Int64>?,
  _ count: Int, _ gradients: UnsafePointer<Float>?, _ dim: Int, _ losses: UnsafePointer<Float>?,
  _ referenceLosses: UnsafePointer<Float>?
) -> Int32 {
  onEngine(engine) { e in
    let g = try Check.present(gradients, "gradients")
    let count = try Check.count(count, "count")
    if count > 0 { _ = try Check.present(ids, "ids") }  // as wn_engine_add_candidates
    // The epoch, the pool and the targets before `count × D` gradients are
    // read and `count × k` features allocated, as wn_engine_add_candidates
    // checks them before it reads anything.
    try e.checkCandidateBatch(count: count, checkTargets: false)
    let features = try project(projector, for: e, g, count, dim) {
      try e.checkCandidateBatch(count: count, checkTargets: true)
    }
    try feed(e, ids, count, features, e.featureDim, losses, referenceLosses)
  }
}

/// Feeds a batch; `ids` may be NULL only for an empty batch.
private func feed(
  _ e: SelectionEngine, _ ids: UnsafePointer<Int64>?, _ count: Int,
  _ features: UnsafePointer<Float>?, _ dim: Int, _ losses: UnsafePointer<Float>?,
  _ references: UnsafePointer<Float>?
) throws {
  var none: Int64 = 0
  try withUnsafePointer(to: &none) { placeholder in
    let ids = count == 0 ? ids ?? placeholder : try Check.present(ids, "ids")
    try e.addCandidates(
      ids: ids, count: count, features: features, dim: dim, losses: losses,
      referenceLosses: references)
  }
}

/// Projects `rows × dim` raw gradients with the projector behind `pointer`
/// into `rows × k` features for `engine`; checks that the shapes agree, then
/// runs `check` (the engine's state) before anything is allocated or read.
private func project(
  _ pointer: OpaquePointer?, for engine: SelectionEngine, _ g: UnsafePointer<Float>,
  _ rows: Int, _ dim: Int, then check: () throws -> Void = {}
) throws -> [Float] {
  guard pointer != nil else { throw WinnowError(.nullPointer, "the projector handle is NULL") }
  guard let h: Handle<DenseProjector> = Registry.lookup(pointer, as: .projector) else {
    throw WinnowError(.invalidArgument, "the pointer is not a live projector handle")
  }
  let p = h.value
  let (rows, dim) = (try Check.count(rows, "rows"), try Check.count(dim, "dim"))
  guard dim == p.inputDim, p.outputDim == engine.featureDim else {
    throw WinnowError(
      .shapeMismatch,
      "gradients of dim \(dim) through a \(p.inputDim) → \(p.outputDim) projector "
        + "for an engine of feature dim \(engine.featureDim)")
  }
  _ = try Check.product(rows, dim, "gradients")
  try check()
  // `rows × D` honest inputs can ask for far more output: 2^20 rows of
  // D = 1 through a 1 → 2^20 projector are 4 MiB in and 4 TiB out.
  var out = [Float](repeating: 0, count: try Check.allocation([rows, p.outputDim], "the projected features"))
  try out.withUnsafeMutableBufferPointer { o in
    guard let base = o.baseAddress else { return }
    try p.project(g, rows: rows, into: base)
  }
  return out
}
