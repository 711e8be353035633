#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// A read-only, memory-mapped NumPy `.npy` array.
///
/// Opening validates the whole file (format version 1.0, 2.0 or 3.0, a
/// little-endian C-order array of one of the `NPYDType`s, and a data section of
/// exactly the size the shape needs) and maps it; rows are then read straight
/// from the page cache, so a file far larger than RAM can be streamed with
/// `readFloatRows` and `releasePages`.
///
/// A row is everything below the leading axis: an `N × k` array has `N` rows of
/// `k` elements; a 1-D array of `N` has `N` rows of one element; a 0-d array
/// has one row of one element.
///
/// Thread safety: every method may be called concurrently.
public final class NPYArray: @unchecked Sendable {
  // @unchecked: all stored properties are immutable after init, and the mapping
  // is read-only (madvise only drops pages the kernel re-reads on demand).

  /// The file this array was read from.
  public let url: URL
  /// The element type.
  public let dtype: NPYDType
  /// Dimensions, outermost first; `[]` for a 0-d array.
  public let shape: [Int]
  /// The file's format version.
  let version: NPYFormatVersion

  private let header: NPYHeader
  private let mapping: UnsafeRawPointer
  private let mappedLength: Int
  private let rowLengthStorage: Int

  /// Number of rows: `shape[0]`, or 1 for a 0-d array.
  public var rowCount: Int { shape.first ?? 1 }
  /// Elements per row: the product of `shape[1...]`, 1 for a 1-D or 0-d array.
  public var rowLength: Int { rowLengthStorage }
  /// Number of elements: the product of `shape`.
  public var count: Int { header.count }

  /// Opens and maps the `.npy` file at `url`.
  ///
  /// - Parameter url: a file URL.
  /// - Throws: `WinnowError` naming the file: `.io` if it cannot be opened or
  ///   mapped; `.format` for a bad magic string, a corrupt header, or data
  ///   shorter or longer than the shape needs; `.unsupported` for another
  ///   format version, Fortran order, big-endian data or another dtype.
  public init(contentsOf url: URL) throws {
    let path = url.path
    let (fd, size) = try Syscalls.openForReading(path)
    defer { Syscalls.closeQuietly(fd) }  // the mapping outlives the descriptor
    guard size > 0 else {
      throw WinnowError(.format, "\(path): not a .npy file: the file is empty")
    }
    let mapping = try Syscalls.mapReadOnly(fd, length: size, path: path)
    let header: NPYHeader
    do {
      header = try NPYHeader.parse(UnsafeRawBufferPointer(start: mapping, count: size), path: path)
    } catch {
      Syscalls.unmap(mapping, length: size)
      throw error
    }
    self.url = url
    self.dtype = header.dtype
    self.shape = header.shape
    self.version = header.version
    self.header = header
    self.mapping = mapping
    self.mappedLength = size
    // Cannot overflow: the product of all of `shape` was checked while parsing,
    // and the product of a suffix is at most that (or the array is empty).
    var rowLength = 1
    for dimension in shape.dropFirst() {
      rowLength = rowLength.multipliedReportingOverflow(by: dimension).partialValue
    }
    self.rowLengthStorage = rowLength
  }

  deinit {
    Syscalls.unmap(mapping, length: mappedLength)
  }

  /// Address of the first element.
  var dataStart: UnsafeRawPointer { mapping + header.dataOffset }

  /// The whole file, header included, as mapped (for streaming checksums).
  var fileBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: mapping, count: mappedLength) }

  /// Offset of the first element in the file.
  var dataOffset: Int { header.dataOffset }

  /// Checks that `rows` lies within `0..<rowCount`.
  func checkRows(_ rows: Range<Int>) throws {
    guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
      throw WinnowError(.invalidArgument,
        "\(url.path): rows \(rows) out of range for an array of \(rowCount) rows")
    }
  }

  /// Copies rows into `out` as `Float`, converting from half precision if needed.
  ///
  /// - Parameters:
  ///   - rows: a range within `0..<rowCount`.
  ///   - out: room for `rows.count × rowLength` floats, row-major.
  /// - Throws: `.invalidArgument` for rows out of range; `.unsupported` if the
  ///   dtype is not `<f4` or `<f2`.
  /// - Complexity: O(`rows.count × rowLength`); `<f4` is one `memcpy`.
  public func readFloatRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
    try checkRows(rows)
    let first = rows.lowerBound * rowLength, n = rows.count * rowLength
    switch dtype {
    case .float32:
      UnsafeMutableRawPointer(out).copyMemory(from: dataStart + first * 4, byteCount: n * 4)
    case .float16:
      NPYArray.convertHalves(from: dataStart + first * 2, count: n, into: out)
    default:
      throw WinnowError(.unsupported,
        "\(url.path): cannot read dtype '\(dtype.rawValue)' as floats (needs <f4 or <f2)")
    }
  }

  /// A zero-copy view of rows of a `<f4` array, or nil.
  ///
  /// The view points into the mapping and is valid while this array is alive.
  ///
  /// - Parameter rows: a range within `0..<rowCount`.
  /// - Returns: `rows.count × rowLength` floats, row-major; nil if the dtype is
  ///   not `<f4`, the rows are out of range, or the data is not 4-byte aligned.
  public func floatRowsPointer(_ rows: Range<Int>) -> UnsafeBufferPointer<Float>? {
    guard dtype == .float32, rows.lowerBound >= 0, rows.upperBound <= rowCount,
      Int(bitPattern: dataStart) % MemoryLayout<Float>.alignment == 0
    else { return nil }
    let start = (dataStart + rows.lowerBound * rowLength * 4).assumingMemoryBound(to: Float.self)
    return UnsafeBufferPointer(start: start, count: rows.count * rowLength)
  }

  /// Reads every element as `Float`, in row-major order.
  ///
  /// - Throws: `.unsupported` if the dtype is not `<f4` or `<f2`.
  public func readFloats() throws -> [Float] {
    guard dtype.isFloat else {
      throw WinnowError(.unsupported,
        "\(url.path): cannot read dtype '\(dtype.rawValue)' as floats (needs <f4 or <f2)")
    }
    return try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      if let base = buffer.baseAddress { try readFloatRows(0..<rowCount, into: base) }
      initialized = count
    }
  }

  /// Reads elements of an integer array as `Int64`.
  ///
  /// - Parameter range: flat element indices within `0..<count`; nil for all.
  /// - Throws: `.invalidArgument` for a range out of bounds; `.unsupported` for a
  ///   float dtype; `.format` for a `<u8` value above `Int64.max`.
  public func readInt64(_ range: Range<Int>? = nil) throws -> [Int64] {
    let range = range ?? 0..<count
    guard range.lowerBound >= 0, range.upperBound <= count else {
      throw WinnowError(.invalidArgument,
        "\(url.path): elements \(range) out of range for an array of \(count) elements")
    }
    let source = dataStart + range.lowerBound * dtype.itemSize
    switch dtype {
    case .int64:
      return [Int64](unsafeUninitializedCapacity: range.count) { buffer, initialized in
        if let base = buffer.baseAddress {
          UnsafeMutableRawPointer(base).copyMemory(from: source, byteCount: range.count * 8)
        }
        initialized = range.count
      }
    case .int32:
      // loadUnaligned: a hand-made header need not leave the data aligned.
      return (0..<range.count).map {
        Int64(source.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))
      }
    case .uint64:
      return try (0..<range.count).map { i in
        let value = source.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
        guard let exact = Int64(exactly: value) else {
          throw WinnowError(.format,
            "\(url.path): element \(range.lowerBound + i) is \(value), above Int64.max")
        }
        return exact
      }
    case .float32, .float16:
      throw WinnowError(.unsupported,
        "\(url.path): cannot read dtype '\(dtype.rawValue)' as integers (needs <i8, <i4 or <u8)")
    }
  }

  /// Drops the resident pages holding `rows` from this process's memory.
  ///
  /// Only pages wholly inside the rows are dropped, so neighbouring rows stay
  /// resident. The data stays readable: a later read faults the pages back in
  /// from the file. Call this behind a sequential scan to keep the resident
  /// set bounded while streaming a file larger than RAM. Out-of-range rows are
  /// clamped.
  ///
  /// - Parameter rows: rows already consumed.
  public func releasePages(rows: Range<Int>) {
    let lower = max(0, min(rows.lowerBound, rowCount))
    let upper = max(lower, min(rows.upperBound, rowCount))
    let rowBytes = rowLength * dtype.itemSize
    let page = Syscalls.pageSize
    let start = header.dataOffset + lower * rowBytes, end = header.dataOffset + upper * rowBytes
    // Offsets are file offsets, and the mapping starts at offset 0, which is page-aligned.
    let alignedStart = (start + page - 1) / page * page
    let alignedEnd = end / page * page
    guard alignedEnd > alignedStart else { return }
    Syscalls.dropPages(mapping + alignedStart, length: alignedEnd - alignedStart)
  }
}

extension NPYArray {
  /// Chunk of halves converted through an aligned scratch buffer when the source
  /// is misaligned.
  private static let scratchCount = 16_384

  /// Converts `count` IEEE halves at `source` (any alignment) into `out`.
  static func convertHalves(from source: UnsafeRawPointer, count: Int,
                            into out: UnsafeMutablePointer<Float>) {
    if Int(bitPattern: source) % 2 == 0 {
      Kernels.halfToFloat(source.assumingMemoryBound(to: UInt16.self), into: out, count: count)
      return
    }
    // The C kernel reads uint16_t, so copy misaligned data (only possible with
    // hand-made headers) through an aligned buffer first.
    withUnsafeTemporaryAllocation(of: UInt16.self, capacity: scratchCount) { scratch in
      guard let scratchBase = scratch.baseAddress else { return }
      var done = 0
      while done < count {
        let n = min(scratchCount, count - done)
        UnsafeMutableRawPointer(scratchBase).copyMemory(from: source + done * 2, byteCount: n * 2)
        Kernels.halfToFloat(scratchBase, into: out + done, count: n)
        done += n
      }
    }
  }
}
