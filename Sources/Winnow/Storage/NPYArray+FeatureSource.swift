/// An `N × k` float `.npy` file is a feature source: `<f4` rows are lent
/// straight from the mapping, `<f2` rows are converted on read, and released
/// rows drop their pages so a scan keeps a bounded resident set.
extension NPYArray: FeatureSource, ContiguousFeatureSource {
  /// Elements per row (`k` of an `N × k` array).
  public var dim: Int { rowLength }
  /// The file's path, for messages.
  public var label: String { url.path }

  public func readRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
    try readFloatRows(rows, into: out)
  }

  public func release(rows: Range<Int>) {
    releasePages(rows: rows)
  }

  func withRows<R>(
    _ rows: Range<Int>, _ body: (UnsafePointer<Float>) throws -> R
  ) throws -> R? {
    try checkRows(rows)
    guard let view = floatRowsPointer(rows), let base = view.baseAddress else { return nil }
    return try body(base)
  }

  /// Checks that this array can serve as `N × k` float features.
  ///
  /// - Parameter role: what the file is for in messages ("train features").
  /// - Throws: `.unsupported` naming the file for another dtype or a shape
  ///   that is not 2-D.
  public func checkFeatureMatrix(role: String) throws {
    guard dtype == .float32 || dtype == .float16 else {
      throw WinnowError(
        .unsupported, "\(url.path): \(role) must be <f4 or <f2, not '\(dtype.rawValue)'")
    }
    guard shape.count == 2 else {
      throw WinnowError(
        .shapeMismatch, "\(url.path): \(role) must be 2-D (N × k), not of shape \(shape)")
    }
  }
}
