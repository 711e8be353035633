/// A dense, owned, row-major `rows × cols` matrix of `Float`.
///
/// Winnow's APIs take borrowed pointers for zero-copy interop (C, NumPy);
/// `Matrix` is the convenient owned form for Swift callers and results.
/// Its elements can be changed in place (by subscript or
/// `withUnsafeMutableBufferPointer(_:)`) but never resized, so
/// `storage.count == rows * cols` always holds.
public struct Matrix: Hashable, Sendable {
  public private(set) var rows: Int
  public private(set) var cols: Int
  /// `rows * cols` elements, row `r` at `storage[r*cols ..< (r+1)*cols]`.
  public private(set) var storage: [Float]

  /// A zero-filled `rows × cols` matrix.
  public init(rows: Int, cols: Int) {
    precondition(rows >= 0 && cols >= 0, "negative matrix shape")
    self.rows = rows
    self.cols = cols
    self.storage = [Float](repeating: 0, count: rows * cols)
    _checkInvariants()
  }

  /// Wraps `storage` (row-major, `rows × cols`).
  ///
  /// - Throws: `.shapeMismatch` unless `storage.count == rows * cols` with
  ///   non-negative `rows` and `cols`.
  public init(rows: Int, cols: Int, storage: [Float]) throws {
    guard rows >= 0, cols >= 0, storage.count == rows * cols else {
      throw WinnowError.shape(
        "matrix storage has \(storage.count) elements, expected \(rows) × \(cols)")
    }
    self.rows = rows
    self.cols = cols
    self.storage = storage
    _checkInvariants()
  }

  public subscript(row: Int, col: Int) -> Float {
    get { storage[row * cols + col] }
    set { storage[row * cols + col] = newValue }
  }

  /// Row `r` as an array.
  public func row(_ r: Int) -> [Float] {
    Array(storage[r * cols..<(r + 1) * cols])
  }

  /// Calls `body` with the `rows * cols` elements, row-major, to read or
  /// write them in place (for BLAS and C kernels); the shape cannot change.
  ///
  /// - Complexity: O(1), plus a copy of the elements when they are shared
  ///   with another matrix (copy on write).
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    defer { _checkInvariants() }
    return try storage.withUnsafeMutableBufferPointer { try body($0) }
  }
}
