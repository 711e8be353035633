
extension SelectionEngine {
  /// Adds target rows for one task (e.g. projected validation gradients).
  ///
  /// - Parameters:
  ///   - task: in `0..<taskCount`.
  ///   - features: `rows × dim`, row-major.
  ///   - rows: `≥ 1`; `dim`: must equal `featureDim`.
  /// - Complexity: O(rows·k).
  public func addTarget(task: Int, features: UnsafePointer<Float>, rows: Int, dim: Int) throws {
    guard state.isOpen else { throw WinnowError(.badState, "addTarget before beginEpoch") }
    guard state.targetMeans == nil else {
      throw WinnowError(.badState, "targets must come before the epoch's first candidate features")
    }
    guard (0..<taskCount).contains(task) else {
      throw WinnowError.invalid("task \(task) is outside 0..<\(taskCount)")
    }
    guard rows >= 1 else { throw WinnowError.invalid("target rows \(rows) < 1") }
    guard dim == featureDim else {
      throw WinnowError.shape("target features have dim \(dim), the engine expects \(featureDim)")
    }
    try Self.checkFinite(features, try CheckedSize.product([rows, dim], "target features"), "target features")
    let k = featureDim
    var unit = [Float](repeating: 0, count: k)
    for r in 0..<rows {
      let row = features + r * k
      let scale = try Self.inverseNorm(row, k)
      for j in 0..<k {
        unit[j] = row[j] * scale
        state.targetRawSum[j] += Double(row[j])
      }
      for j in 0..<k { state.targetUnitSum[task * k + j] += unit[j] }
    }
    state.targetRows[task] += rows
    state.targetRawRows += rows
    _checkInvariants(perCandidate: false)
  }

  /// Adds a batch of candidates by sample id.
  ///
  /// - Parameters:
  ///   - ids: `count` sample ids of the pool, none fed before this epoch.
  ///   - features: `count × dim` projected features, or `nil` (losses only).
  ///   - dim: must equal `featureDim` when `features` is given.
  ///   - losses: `count` per-sample training losses, or `nil`.
  ///   - referenceLosses: `count` reference-model losses, or `nil` (needs `losses`).
  /// - Complexity: O(count·k·T).
  public func addCandidates(
    ids: UnsafePointer<Int64>, count: Int, features: UnsafePointer<Float>?, dim: Int,
    losses: UnsafePointer<Float>? = nil, referenceLosses: UnsafePointer<Float>? = nil
  ) throws {
    guard count >= 0 else { throw WinnowError.invalid("candidate count \(count) < 0") }
    // Each sample comes at most once an epoch: a larger batch is an error,
    // found before `ids` is read or `count` positions are allocated.
    guard count <= poolSize else {
      throw WinnowError.invalid("\(count) candidates in one batch, but the pool holds \(poolSize)")
    }
    var positions = [Int](repeating: 0, count: count)
    for i in 0..<count {
      guard let p = positionOfID[ids[i]] else {
        throw WinnowError.invalid("sample id \(ids[i]) is not in the pool")
      }
      positions[i] = p
    }
    try feed(positions, features, dim, losses, referenceLosses)
  }

  /// Adds the candidates at pool positions `start ..< start + count`.
  ///
  /// The same as `addCandidates(ids:…)` for the ids at those positions.
  public func addCandidates(
    startingAt start: Int, count: Int, features: UnsafePointer<Float>?, dim: Int,
    losses: UnsafePointer<Float>? = nil, referenceLosses: UnsafePointer<Float>? = nil
  ) throws {
    guard count >= 0, start >= 0, start <= poolSize - count else {
      throw WinnowError.invalid("positions \(start)..<\(start + count) are outside 0..<\(poolSize)")
    }
    try feed(Array(start..<start + count), features, dim, losses, referenceLosses)
  }

  func feed(
    _ positions: [Int], _ features: UnsafePointer<Float>?, _ dim: Int,
    _ losses: UnsafePointer<Float>?, _ references: UnsafePointer<Float>?
  ) throws {
    guard state.isOpen else { throw WinnowError(.badState, "addCandidates before beginEpoch") }
    let n = positions.count
    if let features {
      guard dim == featureDim else {
        throw WinnowError.shape("candidate features have dim \(dim), the engine expects \(featureDim)")
      }
      try Self.checkFinite(features, n * dim, "candidate features")
      if state.targetMeans == nil, let t = state.targetRows.firstIndex(of: 0) {
        throw WinnowError(.badState, "task \(t) has no target features this epoch")
      }
    }
    if references != nil, losses == nil {
      throw WinnowError.invalid("reference losses need the per-sample losses too")
    }
    if let losses { try Self.checkFinite(losses, n, "losses") }
    if let references { try Self.checkFinite(references, n, "reference losses") }
    try markFed(positions)
    if let features { try score(positions, features) }
    if let losses {
      for (i, p) in positions.enumerated() {
        let d = Int(domains[p])
        state.lossSum[d] += Double(losses[i])
        state.lossRows[d] += 1
        if let references {
          // In Double: FLT_MAX − (−FLT_MAX) overflows Float to +∞.
          state.excessSum[d] += max(Double(losses[i]) - Double(references[i]), 0)
          state.excessRows[d] += 1
        }
      }
    }
    _checkInvariants(perCandidate: false)
  }

  /// Marks positions as fed this epoch, or throws `.badState` and marks none.
  func markFed(_ positions: [Int]) throws {
    let serial = state.serial
    for p in positions where state.fedSerial[p] == serial {
      throw WinnowError(.badState, "sample id \(ids[p]) was already fed in epoch \(state.epoch)")
    }
    for (i, p) in positions.enumerated() {
      if state.fedSerial[p] == serial {  // a duplicate inside the batch
        for q in positions[..<i] { state.fedSerial[q] = serial &- 1 }
        throw WinnowError(.badState, "sample id \(ids[p]) appears twice in one batch")
      }
      state.fedSerial[p] = serial
    }
  }

  static func checkFinite(_ x: UnsafePointer<Float>, _ count: Int, _ what: String) throws {
    let bad = Kernels.countNonFinite(x, count: count)
    if bad > 0 { throw WinnowError(.nonFinite, "\(what) hold \(bad) NaN or infinite values") }
  }

  /// `1/‖x‖`, or 0 for the zero vector (which then scores 0 everywhere) and
  /// for a row whose norm is so small (below about 2.9e−39) that `1/‖x‖`
  /// overflows Float: such a row counts as a zero row, not as inf/NaN scores.
  static func inverseNorm(_ x: UnsafePointer<Float>, _ k: Int) throws -> Float {
    let norm = try BLAS.snrm2(n: k, x)
    guard norm > 0 else { return 0 }
    let inverse = 1 / norm
    return inverse.isFinite ? inverse : 0
  }
}
