/// A feature source that can often lend `Float` rows in place, without a copy.
///
/// Scoring is a few flops per loaded byte, so a copy of every block would
/// cost as much as the GEMM itself; in-memory matrices, memory-mapped `<f4`
/// files and stores of them lend their rows instead.
protocol ContiguousFeatureSource: FeatureSource {
  /// Calls `body` with rows `rows` (row-major, `rows.count × dim`) in place
  /// and returns its result, or returns nil without calling it when these
  /// rows cannot be lent (e.g. `<f2` data, or rows spanning two shards).
  func withRows<R>(
    _ rows: Range<Int>, _ body: (UnsafePointer<Float>) throws -> R
  ) throws -> R?
}

extension Matrix: ContiguousFeatureSource {
  func withRows<R>(
    _ range: Range<Int>, _ body: (UnsafePointer<Float>) throws -> R
  ) throws -> R? {
    try checkRange(range)
    return try storage.withUnsafeBufferPointer { all in
      // An empty matrix has no base address; any pointer will do for 0 rows.
      guard let base = all.baseAddress else {
        return try withUnsafePointer(to: Float(0)) { try body($0) }
      }
      return try body(base + range.lowerBound * cols)
    }
  }
}
