/// A reusable, growable block of `Float` scratch memory.
///
/// Large buffers are kept and reused rather than reallocated: the first
/// write to fresh pages is slow on our VMs, and a stable address can be
/// handed to BLAS without escaping an `Array`'s storage.
final class ScratchBuffer {
  private(set) var base: UnsafeMutablePointer<Float>
  private(set) var capacity: Int

  init() {
    base = .allocate(capacity: 1)
    capacity = 1
  }

  /// Returns storage for at least `count` floats (contents unspecified).
  func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
    if count > capacity {
      base.deallocate()
      base = .allocate(capacity: count)
      capacity = count
    }
    return base
  }

  deinit { base.deallocate() }
}
