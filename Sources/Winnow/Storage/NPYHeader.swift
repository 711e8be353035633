/// The parsed, validated header of a `.npy` file.
///
/// Layout (NumPy's `numpy.lib.format`): the magic `\x93NUMPY`, a major and a
/// minor version byte, the header length (little-endian `u16` in 1.0, `u32` in
/// 2.0 and 3.0), then the header text: a Python dict literal with exactly the
/// keys `descr`, `fortran_order` and `shape`, padded with spaces and ending in
/// `\n` so that the data starts on a 64-byte boundary.
struct NPYHeader {
  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
  /// NumPy aligns the start of the data to this many bytes.
  static let alignment = 64
  /// Digits reserved for the leading axis so a header can be rewritten in place
  /// once the row count is known (NumPy's `GROWTH_AXIS_MAX_DIGITS`).
  static let growthDigits = 21

  var version: NPYFormatVersion
  var dtype: NPYDType
  /// Dimensions, outermost first; `[]` for a 0-d array.
  var shape: [Int]
  /// Byte offset of the first element in the file.
  var dataOffset: Int
  /// Number of elements (product of `shape`, 1 for a 0-d array).
  var count: Int
  /// Bytes of element data the shape needs.
  var dataByteCount: Int

  // MARK: - Reading

  /// Parses and validates the header at the start of `file`.
  ///
  /// - Parameters:
  ///   - file: the whole file's bytes.
  ///   - path: names the file in errors.
  /// - Throws: `.format` for a malformed header, `.unsupported` for a valid
  ///   header Winnow does not read (version, byte order, dtype, Fortran order).
  static func parse(_ file: UnsafeRawBufferPointer, path: String) throws -> NPYHeader {
    func fail(_ code: WinnowError.Code, _ problem: String) -> WinnowError {
      WinnowError(code, "\(path): \(problem)")
    }
    guard file.count >= 10 else {
      throw fail(.format,
        "not a .npy file: \(file.count) bytes is too short for the magic string and version")
    }
    guard file.prefix(6).elementsEqual(magic) else {
      throw fail(.format, "not a .npy file: missing the \\x93NUMPY magic string")
    }
    let (major, minor) = (file[6], file[7])
    guard minor == 0, let version = NPYFormatVersion(rawValue: major) else {
      throw fail(.unsupported,
        "unsupported .npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
    }
    guard file.count >= version.preambleSize else {
      throw fail(.format, "file ends inside the header length field")
    }
    var headerLength = 0
    for i in 0..<version.lengthFieldSize { headerLength |= Int(file[8 + i]) << (8 * i) }
    let dataOffset = version.preambleSize + headerLength  // ≤ 12 + 2^32: no overflow
    guard dataOffset <= file.count else {
      throw fail(.format,
        "corrupt header: header length \(headerLength) extends past the end of the file (\(file.count) bytes)")
    }
    let textBytes = UnsafeRawBufferPointer(rebasing: file[version.preambleSize..<dataOffset])
    let text: String
    if version == .v3_0 {
      guard let utf8 = String(validating: textBytes, as: UTF8.self) else {
        throw fail(.format, "corrupt header: header text is not valid UTF-8")
      }
      text = utf8
    } else {
      // 1.0 and 2.0 headers are Latin-1: every byte is one scalar.
      text = String(String.UnicodeScalarView(textBytes.map { Unicode.Scalar($0) }))
    }
    let fields: (NPYDType, [Int])
    do {
      fields = try interpret(text)
    } catch let problem as HeaderProblem {
      throw fail(problem.code, problem.message)
    }  // interpret throws nothing else
    let (dtype, shape) = fields
    var count = 1
    for dimension in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard !overflow else {
        throw fail(.format, "corrupt header: shape \(shape) overflows the element count")
      }
      count = product
    }
    let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
    guard !overflow else {
      throw fail(.format, "corrupt header: shape \(shape) overflows the byte count")
    }
    let found = file.count - dataOffset
    guard found >= bytes else {
      throw fail(.format, "truncated: expected \(bytes) bytes of data, found \(found)")
    }
    guard found == bytes else {
      throw fail(.format,
        "\(found - bytes) unexpected trailing bytes: expected \(bytes) bytes of data, found \(found)")
    }
    return NPYHeader(version: version, dtype: dtype, shape: shape, dataOffset: dataOffset,
                     count: count, dataByteCount: bytes)
  }

  /// A problem found in the header dict, before the path is attached.
  private struct HeaderProblem: Error {
    var code: WinnowError.Code
    var message: String
    init(_ code: WinnowError.Code, _ message: String) { (self.code, self.message) = (code, message) }
  }

  /// Checks the dict's keys and values and returns the dtype and shape.
  private static func interpret(_ text: String) throws -> (NPYDType, [Int]) {
    let literal: NPYLiteral
    do {
      literal = try NPYLiteral.parse(text)
    } catch let error as NPYLiteralError {
      throw HeaderProblem(.format, "corrupt header: \(error.message)")
    }
    guard case .dictionary(let entries) = literal else {
      throw HeaderProblem(.format, "corrupt header: not a dictionary")
    }
    var descr: NPYLiteral?, fortran: NPYLiteral?, shapeValue: NPYLiteral?
    for (key, value) in entries {
      switch key {
      case "descr": descr = value
      case "fortran_order": fortran = value
      case "shape": shapeValue = value
      // NumPy itself refuses unknown keys, so a file with them is not a .npy file.
      default: throw HeaderProblem(.format, "corrupt header: unexpected key '\(key)'")
      }
    }
    guard let descr, let fortran, let shapeValue else {
      throw HeaderProblem(.format,
        "corrupt header: it must have the keys 'descr', 'fortran_order' and 'shape'")
    }
    let dtype = try parseDescr(descr)
    guard case .boolean(let isFortran) = fortran else {
      throw HeaderProblem(.format, "corrupt header: 'fortran_order' must be True or False")
    }
    guard !isFortran else {
      throw HeaderProblem(.unsupported,
        "Fortran-order arrays are not supported; save with np.ascontiguousarray")
    }
    guard case .tuple(let items) = shapeValue else {
      throw HeaderProblem(.format, "corrupt header: 'shape' must be a tuple of non-negative integers")
    }
    var shape: [Int] = []
    for item in items {
      guard case .integer(let n) = item, n >= 0 else {
        throw HeaderProblem(.format, "corrupt header: 'shape' must be a tuple of non-negative integers")
      }
      shape.append(n)
    }
    return (dtype, shape)
  }

  private static func parseDescr(_ descr: NPYLiteral) throws -> NPYDType {
    guard case .string(var name) = descr else {
      throw HeaderProblem(.unsupported, "structured dtypes are not supported (descr is not a string)")
    }
    // "=" is native order, little-endian on every platform Winnow supports.
    if name.hasPrefix("=") { name = "<" + name.dropFirst() }
    if let dtype = NPYDType(rawValue: name) { return dtype }
    if name.hasPrefix(">"), NPYDType(rawValue: "<" + name.dropFirst()) != nil {
      throw HeaderProblem(.unsupported,
        "big-endian dtype '\(name)' is not supported; convert with arr.astype('<\(name.dropFirst())')")
    }
    let supported = NPYDType.allCases.map(\.rawValue).joined(separator: ", ")
    throw HeaderProblem(.unsupported, "unsupported dtype '\(name)' (supported: \(supported))")
  }

  // MARK: - Writing

  /// The header bytes (preamble and padded text) for an array.
  ///
  /// - Parameters:
  ///   - shape: dimensions, outermost first (`[]` for 0-d).
  ///   - length: total header size to pad to, or nil for the smallest size that
  ///     reserves `growthDigits` for the leading axis and keeps the data
  ///     64-byte aligned.
  /// - Returns: nil when the header does not fit `length` or the version's limit.
  static func encode(dtype: NPYDType, shape: [Int], version: NPYFormatVersion,
                     length: Int? = nil) -> [UInt8]? {
    let shapeText: String
    switch shape.count {
    case 0: shapeText = "()"
    case 1: shapeText = "(\(shape[0]),)"
    default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
    let dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
    var text = Array(dict.utf8)
    let unpadded = version.preambleSize + text.count + 1  // + "\n"
    var total: Int
    if let length {
      total = length
    } else {
      let reserve = shape.isEmpty ? 0 : max(0, growthDigits - String(shape[0]).count)
      total = unpadded + reserve
      total += (alignment - total % alignment) % alignment
    }
    let headerLength = total - version.preambleSize
    guard total >= unpadded, headerLength <= version.maximumHeaderLength else { return nil }
    text += [UInt8](repeating: 0x20, count: total - unpadded) + [0x0A]
    var bytes = magic + [version.rawValue, 0]
    for i in 0..<version.lengthFieldSize {
      bytes.append(UInt8(truncatingIfNeeded: headerLength >> (8 * i)))
    }
    return bytes + text
  }
}
