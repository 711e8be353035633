import Winnow

/// Argument checks shared by the entry points. C hands us raw pointers and
/// `size_t` counts (imported as `Int`: a count above `Int.max` arrives
/// negative), so each is checked before any memory is touched.
enum Check {
  /// `pointer`, or `WN_ERR_NULL_POINTER` naming the argument.
  static func present<P>(_ pointer: P?, _ name: String) throws -> P {
    guard let pointer else { throw WinnowError(.nullPointer, "\(name) is NULL") }
    return pointer
  }

  /// A C `size_t` as a non-negative `Int`.
  static func count(_ n: Int, _ name: String) throws -> Int {
    guard n >= 0 else { throw WinnowError(.invalidArgument, "\(name) = \(UInt(bitPattern: n)) is too large") }
    return n
  }

  /// `a · b` elements of a caller's array, or `WN_ERR_OUT_OF_MEMORY` if
  /// that many (bytes of `elementSize` each) cannot be addressed. For memory
  /// the caller already holds: no feasibility check (it may be a mapped file).
  static func product(_ a: Int, _ b: Int, elementSize: Int = 4, _ what: String) throws -> Int {
    let n = try CheckedSize.product([a, b], what)
    _ = try CheckedSize.bytes([n], elementSize: elementSize, what)
    return n
  }

  /// `Π factors` elements that the library will allocate: addressable and
  /// feasible on this machine (`CheckedSize.allocatable`), or a status.
  static func allocation(_ factors: [Int], elementSize: Int = 4, _ what: String) throws -> Int {
    try CheckedSize.allocatable(factors, elementSize: elementSize, what)
  }

  /// Throws `WN_ERR_BUFFER_TOO_SMALL` unless `capacity ≥ needed`. A
  /// capacity above `SIZE_MAX/2` (negative here) is a count like any other:
  /// `WN_ERR_INVALID_ARGUMENT`, as winnow.h's conventions say.
  static func capacity(_ capacity: Int, _ needed: Int, _ name: String) throws {
    let capacity = try count(capacity, "the capacity of \(name)")
    guard capacity >= needed else {
      throw WinnowError(.bufferTooSmall, "\(name) holds \(capacity) elements, \(needed) are needed")
    }
  }
}
