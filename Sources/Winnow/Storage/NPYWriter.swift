#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// A streaming `.npy` writer that appends rows and publishes the file atomically.
///
/// Rows go to a temporary file `<name>.tmp-<pid>-<random>` beside the target.
/// The header is written with room for a 20-digit row count (as NumPy does)
/// and rewritten with the real count by `finalize()`, which then fsyncs the
/// file, renames it onto the target and fsyncs the directory. Until then
/// nothing appears at the target path; `abandon()`, a failed write or
/// deinit without `finalize()` removes the temporary.
///
/// The file's SHA-256 is computed while it is written, never by reading it
/// back: the bytes are hashed in file order as they go out. The header
/// comes first, so the hash is right only if the header written first is
/// the final one: give `expectedRows` when the row count is known in
/// advance, and `checksum` is the file's SHA-256 after `finalize()` when the
/// count came out as expected (nil otherwise).
///
/// Thread safety: not thread-safe; use one writer from one thread at a time.
public final class NPYWriter {
  /// Rows appended so far.
  public private(set) var rowCount: Int = 0

  let url: URL
  let dtype: NPYDType
  /// The shape of one row (`[]` for a 1-D array).
  let rowShape: [Int]
  let version: NPYFormatVersion
  let temporaryPath: String
  private let rowLength: Int
  private let headerLength: Int
  /// When set, the file is a 0-d array holding exactly one element.
  private let isScalar: Bool
  private var fd: Int32
  private var state = State.open
  /// Bytes of element data written to the file (excluding the buffer).
  private var fileBytes = 0
  private let buffer: UnsafeMutableRawPointer
  private var buffered = 0
  /// The hashes of the bytes written so far, in file order (header first).
  private let hash: StoreDigests
  /// The row count the first header was written with.
  private let provisionalRows: Int
  /// The file's SHA-256 (lowercase hex), set by `finalize()` when the header
  /// written first was the final one (`expectedRows` was right).
  public private(set) var checksum: String?
  /// The file's XXH3-128 (lowercase hex), set with `checksum`.
  public private(set) var fastChecksum: String?

  private enum State: CustomStringConvertible {
    case open, finalized, abandoned, failed
    var description: String {
      switch self {
      case .open: "open"
      case .finalized: "already finalized"
      case .abandoned: "abandoned"
      case .failed: "closed after an earlier error"
      }
    }
  }

  /// Bytes buffered before a write; large enough to amortize syscalls, small
  /// enough to stay in cache.
  static let bufferSize = 1 << 20

  /// Creates the temporary file and writes a provisional header.
  ///
  /// - Parameters:
  ///   - url: the final path; it is replaced atomically by `finalize()`.
  ///   - dtype: the element type on disk.
  ///   - rowShape: the shape of one row: `[]` for a 1-D array of `N`, `[k]` for
  ///     an `N × k` array.
  ///   - version: the format version; 1.0 becomes 2.0 if the header would
  ///     exceed 65535 bytes.
  /// - Throws: `.invalidArgument` for a negative or overflowing row shape;
  ///   `.io` naming the directory if the temporary cannot be created there.
  ///   - expectedRows: the row count, when known in advance: the header is
  ///     written with it from the start, so `checksum` can be computed while
  ///     writing.
  public convenience init(url: URL, dtype: NPYDType, rowShape: [Int],
                          version: NPYFormatVersion = .v1_0, expectedRows: Int? = nil) throws {
    try self.init(url: url, dtype: dtype, rowShape: rowShape, version: version, scalar: false,
                  expectedRows: expectedRows)
  }

  init(url: URL, dtype: NPYDType, rowShape: [Int], version: NPYFormatVersion, scalar: Bool,
       expectedRows: Int? = nil) throws {
    var rowLength = 1
    for dimension in rowShape {
      let (product, overflow) = rowLength.multipliedReportingOverflow(by: dimension)
      let bytesOverflow = product.multipliedReportingOverflow(by: dtype.itemSize).overflow
      guard dimension >= 0, !overflow, !bytesOverflow else {
        throw WinnowError.invalid("\(url.path): invalid row shape \(rowShape)")
      }
      rowLength = product
    }
    let shape = scalar ? [] : [0] + rowShape
    var version = version
    var header = NPYHeader.encode(dtype: dtype, shape: shape, version: version)
    if header == nil, version == .v1_0 {
      version = .v2_0
      header = NPYHeader.encode(dtype: dtype, shape: shape, version: version)
    }
    guard var header else {
      throw WinnowError.invalid("\(url.path): row shape \(rowShape) makes the header too large")
    }
    // The header keeps the length it has for 0 rows (room for a 20-digit
    // count, so the final one always fits); it holds the expected count
    // from the start when one is given.
    var provisionalRows = scalar ? 1 : 0
    if !scalar, let expectedRows, expectedRows > 0,
      let expected = NPYHeader.encode(
        dtype: dtype, shape: [expectedRows] + rowShape, version: version, length: header.count)
    {
      header = expected
      provisionalRows = expectedRows
    }
    let hash = try StoreDigests()
    let directory = url.deletingLastPathComponent().path
    let (temporaryPath, fd) = try NPYWriter.createTemporary(for: url, in: directory)
    self.url = url
    self.dtype = dtype
    self.rowShape = rowShape
    self.version = version
    self.rowLength = rowLength
    self.isScalar = scalar
    self.headerLength = header.count
    self.temporaryPath = temporaryPath
    self.fd = fd
    self.hash = hash
    self.provisionalRows = provisionalRows
    self.buffer = UnsafeMutableRawPointer.allocate(byteCount: NPYWriter.bufferSize, alignment: 64)
    do {
      try writeFirstHeader(header)
    } catch {
      discard(.failed)
      throw error
    }
  }

  deinit {
    if state == .open { discard(.abandoned) }
    buffer.deallocate()
  }

  private static func createTemporary(for url: URL, in directory: String) throws -> (String, Int32) {
    let pid = Syscalls.processID
    // Retry on the (unlikely) name clash: O_EXCL never reuses another writer's file.
    for _ in 0..<8 {
      let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
      let path = "\(url.path).tmp-\(pid)-\(random)"
      let (fd, error) = Syscalls.createExclusive(path)
      if fd >= 0 { return (path, fd) }
      if error != EEXIST {
        throw WinnowError(.io,
          "\(directory): cannot create a temporary file for \(url.lastPathComponent) in this directory: \(Syscalls.describe(error))")
      }
    }
    throw WinnowError(.io, "\(directory): cannot find a free temporary name for \(url.lastPathComponent)")
  }

  // MARK: - Appending

  /// Appends whole rows of floats, converting to half precision for `<f2`.
  ///
  /// - Parameter floats: `r × rowLength` values, row-major, for some `r ≥ 0`.
  /// - Throws: `.shapeMismatch` if the count is not a multiple of the row
  ///   length; `.unsupported` for an integer dtype; `.badState` after
  ///   `finalize()` or `abandon()`; `.io` if the write fails.
  public func append(floats: UnsafeBufferPointer<Float>) throws {
    try checkAppend(count: floats.count, float: true)
    guard let source = floats.baseAddress, !floats.isEmpty else { return }
    if dtype == .float32 {
      try appendBytes(UnsafeRawPointer(source), count: floats.count * 4)
    } else {
      // Convert in chunks straight into the write buffer.
      var done = 0
      while done < floats.count {
        if buffered == NPYWriter.bufferSize { try flush() }
        let n = min(floats.count - done, (NPYWriter.bufferSize - buffered) / 2)
        Kernels.floatToHalf(
          source + done, into: (buffer + buffered).assumingMemoryBound(to: UInt16.self), count: n)
        buffered += n * 2
        done += n
      }
    }
    commitRows(floats.count)
  }

  /// Appends whole rows of integers.
  ///
  /// - Parameter int64: `r × rowLength` values, row-major, for some `r ≥ 0`.
  /// - Throws: `.invalidArgument` for a value outside `<i4` or `<u8` range
  ///   (nothing is written); `.shapeMismatch`, `.unsupported`, `.badState`,
  ///   `.io` as for `append(floats:)`.
  public func append(int64 values: [Int64]) throws {
    try checkAppend(count: values.count, float: false)
    switch dtype {
    case .int64:
      try values.withUnsafeBytes { bytes in
        if let base = bytes.baseAddress { try appendBytes(base, count: bytes.count) }
      }
    case .int32:
      if let index = values.firstIndex(where: { Int32(exactly: $0) == nil }) {
        throw WinnowError.invalid("\(url.path): value \(values[index]) at index \(index) does not fit <i4")
      }
      try appendInts(values.lazy.map { Int32($0) })
    case .uint64:
      if let index = values.firstIndex(where: { $0 < 0 }) {
        throw WinnowError.invalid("\(url.path): value \(values[index]) at index \(index) does not fit <u8")
      }
      try appendInts(values.lazy.map { UInt64($0) })
    case .float32, .float16:
      break  // rejected by checkAppend
    }
    commitRows(values.count)
  }

  private func checkAppend(count: Int, float: Bool) throws {
    guard state == .open else {
      throw WinnowError(.badState, "\(url.path): cannot append: the writer is \(state)")
    }
    guard dtype.isFloat == float else {
      throw WinnowError(.unsupported,
        "\(url.path): cannot append \(float ? "floats" : "integers") to a '\(dtype.rawValue)' array")
    }
    guard rowLength > 0 ? count % rowLength == 0 : count == 0 else {
      throw WinnowError.shape("\(url.path): \(count) values is not a whole number of rows of \(rowLength)")
    }
  }

  private func commitRows(_ count: Int) {
    if rowLength > 0 { rowCount += count / rowLength }
  }

  private func appendInts<T: FixedWidthInteger>(_ values: some Sequence<T>) throws {
    let size = MemoryLayout<T>.size
    for value in values {
      if buffered + size > NPYWriter.bufferSize { try flush() }
      (buffer + buffered).storeBytes(of: value.littleEndian, as: T.self)
      buffered += size
    }
  }

  private func appendBytes(_ source: UnsafeRawPointer, count: Int) throws {
    if buffered + count <= NPYWriter.bufferSize {
      (buffer + buffered).copyMemory(from: source, byteCount: count)
      buffered += count
      return
    }
    // Large blocks skip the buffer: one write instead of many copies.
    try flush()
    try writeThrough(source, count: count)
  }

  private func flush() throws {
    guard buffered > 0 else { return }
    try writeThrough(buffer, count: buffered)
    buffered = 0
  }

  private func writeThrough(_ bytes: UnsafeRawPointer, count: Int) throws {
    do {
      try Syscalls.writeAll(fd, bytes, count: count, at: headerLength + fileBytes, path: temporaryPath)
      hash.update(UnsafeRawBufferPointer(start: bytes, count: count))
      fileBytes += count
    } catch {
      discard(.failed)
      throw error
    }
  }

  /// Counts `n` rows of an array whose rows hold no elements (`rowShape`
  /// contains a 0), which appending cannot express.
  func appendEmptyRows(_ n: Int) throws {
    guard state == .open, n >= 0, n == 0 || rowLength == 0 else {
      throw WinnowError(.badState, "\(url.path): cannot add empty rows to this writer")
    }
    rowCount += n
  }

  private func writeHeader(_ header: [UInt8]) throws {
    try header.withUnsafeBytes { bytes in
      guard let base = bytes.baseAddress else { return }
      try Syscalls.writeAll(fd, base, count: bytes.count, at: 0, path: temporaryPath)
    }
  }

  /// Writes and hashes the first header; later rewrites are not hashed.
  private func writeFirstHeader(_ header: [UInt8]) throws {
    try writeHeader(header)
    header.withUnsafeBytes { hash.update($0) }
  }

  // MARK: - Publishing

  /// Publishes the file: rewrites the header with the final row count, fsyncs,
  /// renames the temporary onto `url` and fsyncs the directory.
  ///
  /// - Throws: `.badState` if already finalized or abandoned; `.io` if a step
  ///   fails (the temporary is then removed, and nothing appears at `url`
  ///   unless only the final directory fsync failed).
  public func finalize() throws {
    guard state == .open else {
      throw WinnowError(.badState, "\(url.path): cannot finalize: the writer is \(state)")
    }
    do {
      try flush()
      if isScalar, rowCount != 1 {
        throw WinnowError.shape("\(url.path): a 0-d array needs exactly one element, got \(rowCount)")
      }
      let shape = isScalar ? [] : [rowCount] + rowShape
      guard let header = NPYHeader.encode(dtype: dtype, shape: shape, version: version, length: headerLength)
      else {
        throw WinnowError(.internal, "\(url.path): the final header does not fit the space reserved for it")
      }
      // The header is rewritten only when the count differs from the one
      // written first, which also makes the streamed hash stale.
      let streamed = rowCount == provisionalRows
      if !streamed { try writeHeader(header) }
      let digests = streamed ? try hash.finalizeHex() : nil
      try Syscalls.sync(fd, path: temporaryPath)
      let closing = fd
      fd = -1
      try Syscalls.closeChecked(closing, path: temporaryPath)
      try Syscalls.renameAtomically(temporaryPath, to: url.path)
      state = .finalized
      (checksum, fastChecksum) = (digests?.sha256, digests?.xxh3)
      try Syscalls.syncDirectory(url.deletingLastPathComponent().path)
    } catch {
      if state == .open { discard(.failed) }
      throw error
    }
  }

  /// Removes the temporary file; the target path is left untouched.
  ///
  /// Does nothing after `finalize()` or a previous `abandon()`.
  public func abandon() {
    if state == .open { discard(.abandoned) }
  }

  /// Closes and removes the temporary file and moves to `newState`.
  private func discard(_ newState: State) {
    if fd >= 0 { Syscalls.closeQuietly(fd) }
    fd = -1
    Syscalls.remove(temporaryPath)
    buffered = 0
    state = newState
  }
}
