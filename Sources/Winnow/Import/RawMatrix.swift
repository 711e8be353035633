#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A row-major `rows × cols` float matrix stored headerless at a byte offset
/// of a file: Bergson's `gradients.bin`, or the tensor data inside a
/// `torch.save` archive (stored uncompressed). Read by memory map.
///
/// Thread safety: reads may run concurrently; the matrix is immutable.
public final class RawMatrix: FeatureSource, @unchecked Sendable {
  // @unchecked: every stored property is immutable after init.

  /// Element types such files hold.
  public enum Element: String, Sendable, CaseIterable {
    case float32, float16, bfloat16

    var size: Int { self == .float32 ? 4 : 2 }
  }

  public let url: URL
  public let rowCount: Int
  public let dim: Int
  public let element: Element
  private let mapping: UnsafeRawPointer
  private let mappedLength: Int
  private let offset: Int

  /// Maps `rows × cols` elements starting at byte `offset` of `url`.
  ///
  /// - Parameters:
  ///   - rows, cols: the shape, both `> 0`.
  ///   - exactLength: when true the file must end where the matrix ends
  ///     (Bergson); otherwise it may continue (an archive's later members).
  /// - Throws: `.invalidArgument` for negative or overflowing sizes;
  ///   `.format` naming the file when it is shorter (truncated) or, with
  ///   `exactLength`, longer than the matrix; `.io` if it cannot be read.
  public init(url: URL, offset: Int, rows: Int, cols: Int, element: Element, exactLength: Bool) throws {
    let path = url.path
    guard offset >= 0, rows > 0, cols > 0 else {
      throw WinnowError.invalid(
        "\(path): \(rows) × \(cols) at offset \(offset): a matrix needs rows > 0, cols > 0, offset ≥ 0")
    }
    let (count, o1) = rows.multipliedReportingOverflow(by: cols)
    let (bytes, o2) = count.multipliedReportingOverflow(by: element.size)
    let (end, o3) = offset.addingReportingOverflow(bytes)
    guard !o1, !o2, !o3 else {
      throw WinnowError.invalid("\(path): \(rows) × \(cols) \(element.rawValue) overflows a byte count")
    }
    let (fd, size) = try Syscalls.openForReading(path)
    defer { Syscalls.closeQuietly(fd) }
    guard size >= end else {
      throw WinnowError(
        .format,
        "\(path): truncated: \(rows) × \(cols) \(element.rawValue) at offset \(offset) needs \(end) bytes, "
          + "the file has \(size)")
    }
    guard !exactLength || size == end else {
      throw WinnowError(
        .format,
        "\(path): the file has \(size) bytes but \(rows) × \(cols) \(element.rawValue) is \(end); "
          + "its metadata does not match it")
    }
    self.url = url
    self.rowCount = rows
    self.dim = cols
    self.element = element
    self.offset = offset
    mappedLength = size  // > 0: at least one row lies in it
    mapping = try Syscalls.mapReadOnly(fd, length: size, path: path)
  }

  deinit {
    Syscalls.unmap(mapping, length: mappedLength)
  }

  public var label: String { url.path }

  /// Copies `rows` into `out` (`rows.count × dim` floats), widening halves.
  ///
  /// - Complexity: O(rows.count × dim).
  public func readRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
    try checkRange(rows)
    let n = rows.count * dim
    let source = mapping + offset + rows.lowerBound * dim * element.size
    switch element {
    case .float32:
      UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: n * 4)
    case .float16:
      NPYArray.convertHalves(from: source, count: n, into: out)
    case .bfloat16:
      // bfloat16 is the top half of an IEEE single: widening is exact.
      for i in 0..<n {
        let bits = UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        out[i] = Float(bitPattern: bits << 16)
      }
    }
  }

  public func release(rows: Range<Int>) {
    let rowBytes = dim * element.size
    let page = Syscalls.pageSize
    let start = offset + rows.lowerBound * rowBytes, end = offset + rows.upperBound * rowBytes
    let alignedStart = (start + page - 1) / page * page, alignedEnd = end / page * page
    if alignedEnd > alignedStart {
      Syscalls.dropPages(mapping + alignedStart, length: alignedEnd - alignedStart)
    }
  }
}
