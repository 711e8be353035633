/// Checked arithmetic for every size, count and offset that comes from
/// outside the library (C callers, `.npy` headers, command-line options).
///
/// Sizes from outside are untrusted: a product of two honest-looking counts
/// can overflow `Int` (a Swift runtime trap) or name more bytes than the
/// machine has (an allocation that aborts the process). Every such size goes
/// through here first, so that either case becomes a `WinnowError`:
/// - a negative operand is `.invalidArgument`;
/// - an overflowing product or sum is `.outOfMemory` ("cannot be addressed");
/// - `allocatable` also refuses byte counts above what the process may ever
///   hold: the physical memory of the machine, the container's memory limit
///   (cgroup v2 `memory.max`) and the address-space limit (`RLIMIT_AS`,
///   `ulimit -v`), whichever are set. That check is a bound, not a
///   promise: an allocation below it may still fail under memory pressure.
///
/// Each function names `what` the size is for in its message, so the caller
/// learns which argument or file to fix.
package enum CheckedSize {
  /// `Π factors`, or a `WinnowError` if a factor is negative or the product
  /// overflows `Int`.
  /// - Complexity: O(factors.count).
  package static func product(_ factors: [Int], _ what: String) throws -> Int {
    var n = 1
    var overflow = false
    for f in factors {
      guard f >= 0 else { throw negative(f, what) }
      let (p, o) = n.multipliedReportingOverflow(by: f)
      (n, overflow) = (p, overflow || o)
    }
    // A zero factor makes the product 0 even after an overflow: 0 × 2^62 × 2^62
    // elements are 0 bytes, which is fine to "allocate".
    if factors.contains(0) { return 0 }
    guard !overflow else {
      throw WinnowError(
        .outOfMemory,
        "\(what): \(factors.map(String.init).joined(separator: " × ")) overflows the address space")
    }
    return n
  }

  /// `Σ terms`, or a `WinnowError` if a term is negative or the sum overflows.
  package static func sum(_ terms: [Int], _ what: String) throws -> Int {
    var n = 0
    for t in terms {
      guard t >= 0 else { throw negative(t, what) }
      let (s, o) = n.addingReportingOverflow(t)
      guard !o else {
        throw WinnowError(.outOfMemory, "\(what): the sizes add up to more than the address space")
      }
      n = s
    }
    return n
  }

  /// The bytes of `Π factors` elements of `elementSize` bytes each.
  package static func bytes(_ factors: [Int], elementSize: Int, _ what: String) throws -> Int {
    try product(factors + [elementSize], what)
  }

  /// `Π factors` elements of `elementSize` bytes, after checking that the
  /// count is addressable and its bytes feasible (see the type's discussion).
  /// Call it before allocating; it returns the element count.
  package static func allocatable(
    _ factors: [Int], elementSize: Int, _ what: String
  ) throws -> Int {
    let count = try product(factors, what)
    try checkFeasible(bytes: try bytes([count], elementSize: elementSize, what), what)
    return count
  }

  /// Throws `.outOfMemory` unless `bytes` lie within what the process can
  /// ever allocate: physical memory and `RLIMIT_AS`.
  package static func checkFeasible(bytes: Int, _ what: String) throws {
    guard bytes >= 0 else { throw negative(bytes, what) }
    let (limit, source) = limit
    guard bytes <= limit else {
      throw WinnowError(
        .outOfMemory,
        "\(what) needs \(bytes) bytes (\(readable(bytes))), more than \(source) "
          + "(\(limit) bytes, \(readable(limit)))")
    }
  }

  /// The largest feasible allocation and where that bound comes from.
  package static var limit: (bytes: Int, source: String) {
    var best = (Int.max, "the address space")
    if let physical = Syscalls.physicalMemory {
      best = (physical, "the physical memory of this machine")
    }
    if let cgroup = cgroupLimit, cgroup < best.0 {
      best = (cgroup, "the memory limit of this container (cgroup memory.max)")
    }
    if let addressSpace = Syscalls.addressSpaceLimit, addressSpace < UInt64(best.0) {
      best = (Int(addressSpace), "the address-space limit of this process (RLIMIT_AS, ulimit -v)")
    }
    return best
  }

  /// The cgroup v2 memory limit of this process's container, read once:
  /// past it the kernel kills the process instead of failing an allocation.
  /// `nil` when there is none (`max`) or it cannot be read.
  static let cgroupLimit: Int? = {
    guard let bytes = Syscalls.readProcFile("/sys/fs/cgroup/memory.max", limit: 32) else {
      return nil
    }
    let text = String(decoding: bytes, as: UTF8.self)
    return Int(text.prefix(while: \.isNumber))  // "max" is no limit
  }()

  private static func negative(_ value: Int, _ what: String) -> WinnowError {
    WinnowError(.invalidArgument, "\(what): size \(value) is negative (a count above 2^63 from C?)")
  }

  /// `bytes` in the largest binary unit that keeps a number ≥ 1.
  static func readable(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes), unit = 0
    while value >= 1024, unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    return unit == 0 ? "\(bytes) B" : "\((value * 10).rounded() / 10) \(units[unit])"
  }
}
