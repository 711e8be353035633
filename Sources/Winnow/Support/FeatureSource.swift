/// A row-addressable source of `rowCount × dim` `Float` features.
///
/// Scorers and the engine read features through this protocol, so the same
/// code streams an in-memory matrix, a memory-mapped `.npy` file or a feature
/// store, block by block, with memory bounded independently of `rowCount`.
public protocol FeatureSource {
  /// Number of rows (samples).
  var rowCount: Int { get }
  /// Number of features per row.
  var dim: Int { get }
  /// A short name for error messages (a path, or "in-memory matrix").
  var label: String { get }
  /// Copies rows `rows` (row-major, `rows.count × dim`) into `out`, as Float32.
  func readRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) throws
  /// Hints that `rows` will not be read again soon, so their memory can go.
  func release(rows: Range<Int>)
  /// Hints that `rows` will be read soon, so a source on disk can start
  /// reading them (a scan's first block, while the caller prepares).
  func willRead(rows: Range<Int>)
}

extension FeatureSource {
  public func release(rows: Range<Int>) {}
  public func willRead(rows: Range<Int>) {}

  /// Checks that `rows` lies inside `0..<rowCount`.
  func checkRange(_ rows: Range<Int>) throws {
    guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
      throw WinnowError.invalid(
        "\(label): rows \(rows.lowerBound)..<\(rows.upperBound) outside 0..<\(rowCount)")
    }
  }
}

extension Matrix: FeatureSource {
  public var rowCount: Int { rows }
  public var dim: Int { cols }
  public var label: String { "in-memory matrix" }

  public func readRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
    try checkRange(range)
    storage.withUnsafeBufferPointer { all in
      guard let base = all.baseAddress, !range.isEmpty else { return }
      out.update(from: base + range.lowerBound * cols, count: range.count * cols)
    }
  }
}
