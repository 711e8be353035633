#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

extension NPYWriter {
  /// Writes a whole float array to `url` atomically.
  ///
  /// - Parameters:
  ///   - floats: the elements in row-major (C) order.
  ///   - shape: the array's dimensions (`[]` for a 0-d array of one element,
  ///     `[N, k]` for `N × k`); their product must equal `floats.count`.
  ///   - url: the destination, replaced atomically.
  ///   - dtype: `.float32` or `.float16` (rounded to nearest even).
  /// - Returns: the file's SHA-256 (hex), computed while writing.
  /// - Throws: `.shapeMismatch` if the shape does not match the count;
  ///   `.unsupported` for an integer dtype; `.io` if writing fails.
  @discardableResult
  public static func write(_ floats: [Float], shape: [Int], to url: URL,
                           dtype: NPYDType = .float32) throws -> String {
    guard dtype.isFloat else {
      throw WinnowError(.unsupported, "\(url.path): cannot write floats as '\(dtype.rawValue)'")
    }
    var count = 1
    for dimension in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard dimension >= 0, !overflow else {
        throw WinnowError.shape("\(url.path): invalid shape \(shape)")
      }
      count = product
    }
    guard count == floats.count else {
      throw WinnowError.shape("\(url.path): shape \(shape) needs \(count) elements, got \(floats.count)")
    }
    let writer = try NPYWriter(url: url, dtype: dtype, rowShape: Array(shape.dropFirst()),
                               version: .v1_0, scalar: shape.isEmpty, expectedRows: shape.first)
    try floats.withUnsafeBufferPointer { try writer.append(floats: $0) }
    if let rows = shape.first, count == 0 { try writer.appendEmptyRows(rows - writer.rowCount) }
    try writer.finalize()
    return try writer.checksumOrRead()
  }

  /// Writes a 1-D `<i8` array to `url` atomically.
  ///
  /// - Parameters:
  ///   - ints: the elements.
  ///   - url: the destination, replaced atomically.
  /// - Returns: the file's SHA-256 (hex), computed while writing.
  /// - Throws: `.io` if writing fails.
  @discardableResult
  public static func write(_ ints: [Int64], to url: URL) throws -> String {
    let writer = try NPYWriter(url: url, dtype: .int64, rowShape: [], expectedRows: ints.count)
    try writer.append(int64: ints)
    try writer.finalize()
    return try writer.checksumOrRead()
  }

  /// The finalized file's SHA-256: the one computed while writing, or, when
  /// the row count differed from the expected one, read back from the file.
  ///
  /// - Complexity: O(1), or one read of the file in the second case.
  func checksumOrRead() throws -> String {
    if let checksum { return checksum }
    return try SHA256.hex(ofFile: url.path)
  }

  /// The finalized file's SHA-256 and XXH3-128: those computed while
  /// writing, or both from one read of the file (as `checksumOrRead`).
  func checksumsOrRead() throws -> (sha256: String, xxh3: String) {
    if let checksum, let fastChecksum { return (checksum, fastChecksum) }
    let sums = try FileChecksums.of(file: url.path, [.sha256, .xxh3])
    return (sums[0], sums[1])
  }
}
