/// An error raised by Winnow, with a stable code and a message for people.
///
/// Codes are an open set of negative integers (the same numbers the C ABI
/// returns as statuses), so new codes can be added without breaking callers
/// that switch over the ones they know.
public struct WinnowError: Error, Hashable, CustomStringConvertible, Sendable {
  /// The machine-readable kind of the failure.
  public var code: Code
  /// What went wrong, naming the argument or file involved.
  public var message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }

  /// A stable numeric error kind; `rawValue` is the C ABI status.
  public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// A parameter is out of range or otherwise invalid.
    public static let invalidArgument = Code(rawValue: -1)
    /// Array shapes or dimensions do not agree.
    public static let shapeMismatch = Code(rawValue: -2)
    /// An input holds NaN or infinity.
    public static let nonFinite = Code(rawValue: -3)
    /// A file could not be opened, read, written or renamed.
    public static let io = Code(rawValue: -4)
    /// A file exists but its contents are malformed, truncated or corrupt.
    public static let format = Code(rawValue: -5)
    /// An allocation failed or would exceed the configured memory budget.
    public static let outOfMemory = Code(rawValue: -6)
    /// A call came in an order the object's state does not allow.
    public static let badState = Code(rawValue: -7)
    /// The input is well-formed but uses a feature Winnow does not support.
    public static let unsupported = Code(rawValue: -8)
    /// A numerical routine failed (e.g. a matrix is not positive definite).
    public static let numerical = Code(rawValue: -9)
    /// A required pointer was NULL (C ABI only).
    public static let nullPointer = Code(rawValue: -10)
    /// A caller-provided output buffer is too small.
    public static let bufferTooSmall = Code(rawValue: -11)
    /// A bug in Winnow: please report it.
    public static let `internal` = Code(rawValue: -99)

    /// Every named code and its name: the one list of status names (the C
    /// ABI's `wn_status_string` returns these texts).
    package static let names: [Code: String] = [
      .invalidArgument: "invalid argument",
      .shapeMismatch: "shape mismatch",
      .nonFinite: "non-finite value",
      .io: "I/O error",
      .format: "malformed file",
      .outOfMemory: "out of memory",
      .badState: "call out of order",
      .unsupported: "unsupported",
      .numerical: "numerical failure",
      .nullPointer: "null pointer",
      .bufferTooSmall: "buffer too small",
      .internal: "internal error",
    ]

    public var description: String { Self.names[self] ?? "error \(rawValue)" }
  }
}

extension WinnowError {
  static func invalid(_ message: String) -> WinnowError {
    WinnowError(.invalidArgument, message)
  }
  static func shape(_ message: String) -> WinnowError {
    WinnowError(.shapeMismatch, message)
  }
}
