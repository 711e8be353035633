/// An element type Winnow reads and writes in `.npy` files.
///
/// The raw value is NumPy's `descr` string. Only little-endian types are
/// supported; that is what NumPy writes on every platform Winnow runs on.
public enum NPYDType: String, Sendable, CaseIterable {
  /// IEEE single precision, `np.float32`.
  case float32 = "<f4"
  /// IEEE half precision, `np.float16`.
  case float16 = "<f2"
  /// Signed 64-bit integer, `np.int64`.
  case int64 = "<i8"
  /// Unsigned 64-bit integer, `np.uint64`.
  case uint64 = "<u8"
  /// Signed 32-bit integer, `np.int32`.
  case int32 = "<i4"

  /// Bytes per element.
  public var itemSize: Int {
    switch self {
    case .float16: 2
    case .float32, .int32: 4
    case .int64, .uint64: 8
    }
  }

  /// Whether elements are floating point (read with `readFloatRows`).
  var isFloat: Bool { self == .float32 || self == .float16 }
}

/// A `.npy` format version.
///
/// 1.0 stores the header length in 16 bits; 2.0 in 32 bits, for headers over
/// 64 KiB; 3.0 is 2.0 with a UTF-8 (rather than Latin-1) header.
public enum NPYFormatVersion: UInt8, Sendable, CaseIterable {
  case v1_0 = 1
  case v2_0 = 2
  case v3_0 = 3

  /// Bytes of the little-endian header-length field after the magic and version.
  var lengthFieldSize: Int { self == .v1_0 ? 2 : 4 }

  /// The largest header length the length field can hold.
  var maximumHeaderLength: Int { self == .v1_0 ? Int(UInt16.max) : Int(UInt32.max) }

  /// Bytes before the header text: magic (6), version (2), header length.
  var preambleSize: Int { 8 + lengthFieldSize }
}
