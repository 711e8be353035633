/// Array conveniences for Swift callers; each forwards to the pointer API.
extension SelectionEngine {
  /// Adds target rows for `task` from a `rows × featureDim` matrix.
  public func addTarget(task: Int, features: Matrix) throws {
    try features.storage.withUnsafeBufferPointer { f in
      guard let base = f.baseAddress else { throw WinnowError.invalid("no target rows") }
      try addTarget(task: task, features: base, rows: features.rows, dim: features.cols)
    }
  }

  /// Adds candidates by id; `features` is `ids.count × featureDim` or `nil`.
  public func addCandidates(
    ids: [Int64], features: Matrix?, losses: [Float]? = nil, referenceLosses: [Float]? = nil
  ) throws {
    let n = ids.count
    if let features, features.rows != n {
      throw WinnowError.shape("\(features.rows) feature rows for \(n) ids")
    }
    guard losses.map({ $0.count == n }) ?? true, referenceLosses.map({ $0.count == n }) ?? true
    else { throw WinnowError.shape("losses must have one value per id (\(n))") }
    let storage = features?.storage ?? []
    try ids.withUnsafeBufferPointer { i in
      try storage.withUnsafeBufferPointer { f in
        try Self.withOptional(losses) { l in
          try Self.withOptional(referenceLosses) { r in
            try addCandidates(
              ids: i.baseAddress ?? UnsafePointer(bitPattern: 8)!, count: n,
              features: features == nil ? nil : f.baseAddress, dim: features?.cols ?? 0,
              losses: l, referenceLosses: r)
          }
        }
      }
    }
  }

  static func withOptional<R>(
    _ a: [Float]?, _ body: (UnsafePointer<Float>?) throws -> R
  ) rethrows -> R {
    guard let a else { return try body(nil) }
    return try a.withUnsafeBufferPointer { try body($0.baseAddress) }
  }
}
