import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The Swift object behind a C handle: the wrapped value plus the message of
/// the handle's last failure, kept as a C string the caller may read.
final class Handle<Value> {
  var value: Value
  /// A malloc'd C string (or NULL before the first failure), handed out by
  /// `wn_X_last_error` and valid until the next failure on this handle.
  /// Behind a lock: handles whose object may be used by several threads at
  /// once (the sparse projector) record failures concurrently, and an
  /// unguarded free-and-replace would free one string twice.
  private let message = Mutex<Message>(Message(text: nil))

  /// The message pointer, sendable across the lock (it is owned by the
  /// handle and freed only under the lock).
  private struct Message: @unchecked Sendable {
    var text: UnsafeMutablePointer<CChar>?
  }

  init(_ value: Value) { self.value = value }

  deinit { message.withLock { free($0.text) } }

  func record(_ text: String) {
    let copy = strdup(text)  // outside the lock: only the swap is inside
    let old = message.withLock { m -> Message in
      let old = m
      m.text = copy
      return old
    }
    free(old.text)
  }

  /// The last message, "" before the first failure. With concurrent calls
  /// on the handle it is the latest recorded failure of any thread, and it
  /// stays valid until the handle's next failure (from any thread).
  var lastError: UnsafePointer<CChar> {
    let m = message.withLock { $0 }
    return m.text.map { UnsafePointer($0) } ?? StaticText.empty
  }
}

/// The live handles, by address, so that a stale, foreign or doubly freed
/// pointer is refused with a status instead of being dereferenced.
///
/// Looking a pointer up costs one uncontended lock and a hash probe —
/// negligible next to any call that does work — and it turns the common
/// binding bugs (use after free, wrong handle type) into errors, not crashes.
enum Registry {
  enum Kind: CustomStringConvertible {
    case projector, engine, factoredProjector, scorer, sparseProjector, selection, store, curvature

    var description: String {
      switch self {
      case .projector: "projector"
      case .engine: "engine"
      case .factoredProjector: "factored projector"
      case .scorer: "scorer"
      case .sparseProjector: "sparse projector"
      case .selection: "selection"
      case .store: "feature store"
      case .curvature: "curvature"
      }
    }
  }

  private static let live = Mutex<[UInt: Kind]>([:])

  /// Retains `handle` and returns the opaque pointer C sees.
  static func open<V>(_ handle: Handle<V>, as kind: Kind) -> OpaquePointer {
    let raw = Unmanaged.passRetained(handle).toOpaque()
    live.withLock { $0[UInt(bitPattern: raw)] = kind }
    return OpaquePointer(raw)
  }

  /// The handle at `pointer` if it is live and of `kind`.
  static func lookup<V>(_ pointer: OpaquePointer?, as kind: Kind) -> Handle<V>? {
    guard let pointer else { return nil }
    let raw = UnsafeRawPointer(pointer)
    guard live.withLock({ $0[UInt(bitPattern: raw)] }) == kind else { return nil }
    return Unmanaged<Handle<V>>.fromOpaque(raw).takeUnretainedValue()
  }

  /// Forgets and releases the handle at `pointer`; ignores anything not live.
  static func close<V>(_ pointer: OpaquePointer?, as kind: Kind, type: V.Type) {
    guard let pointer else { return }
    let raw = UnsafeRawPointer(pointer)
    let removed = live.withLock { table -> Bool in
      guard table[UInt(bitPattern: raw)] == kind else { return false }
      table[UInt(bitPattern: raw)] = nil
      return true
    }
    if removed { Unmanaged<Handle<V>>.fromOpaque(raw).release() }
  }
}
