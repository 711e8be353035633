import Winnow

#if canImport(Glibc)
  import Glibc
#endif

/// Runs the body of a C entry point and turns its outcome into a status.
///
/// Every `WinnowError` becomes its code and message; any other Swift error
/// becomes `WN_ERR_INTERNAL`. The message is recorded on the handle (if any)
/// and in the calling thread's last error.
func status<V>(_ handle: Handle<V>?, _ body: () throws -> Void) -> Int32 {
  do {
    try body()
    return 0
  } catch let error as WinnowError {
    handle?.record(error.message)
    ThreadError.record(error.message)
    return error.code.rawValue
  } catch {
    let message = "unexpected error: \(error)"
    handle?.record(message)
    ThreadError.record(message)
    return WinnowError.Code.internal.rawValue
  }
}

/// `status` for entry points without a handle.
func status(_ body: () throws -> Void) -> Int32 {
  status(nil as Handle<Void>?, body)
}

/// The calling thread's last failure message, kept in thread-specific
/// storage (a malloc'd C string freed when the thread exits).
enum ThreadError {
  private static let key: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
  }()

  static func record(_ message: String) {
    let copy = strdup(message)
    free(pthread_getspecific(key))
    pthread_setspecific(key, copy)
  }

  /// The message, or "" (static) if this thread has not failed yet.
  static var current: UnsafePointer<CChar> {
    if let p = pthread_getspecific(key) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    return StaticText.empty
  }
}

/// NUL-terminated, immutable texts that live as long as the process (hence
/// `nonisolated(unsafe)`: read-only after initialization), for the functions
/// that return `const char *` with static storage.
enum StaticText {
  nonisolated(unsafe) static let empty = literal("")
  nonisolated(unsafe) static let nullHandle = literal("the handle is NULL")
  nonisolated(unsafe) static let notLive = literal(
    "the pointer is not a live handle of this type (freed, or another type)")

  /// The NUL-terminated bytes of a literal, in the binary's read-only data.
  static func literal(_ text: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(text.utf8Start).assumingMemoryBound(to: CChar.self)
  }

  /// A copy of `text` that is never freed (computed texts such as the
  /// version), or "" if memory is exhausted.
  static func make(_ text: String) -> UnsafePointer<CChar> {
    strdup(text).map { UnsafePointer($0) } ?? empty
  }
}

/// The message a `wn_X_last_error` returns for `pointer`.
func lastError<V>(_ pointer: OpaquePointer?, as kind: Registry.Kind, _: V.Type) -> UnsafePointer<CChar> {
  guard pointer != nil else { return StaticText.nullHandle }
  guard let handle: Handle<V> = Registry.lookup(pointer, as: kind) else { return StaticText.notLive }
  return handle.lastError
}

/// Runs the body of an entry point on a live handle: a NULL handle is
/// `WN_ERR_NULL_POINTER`, a pointer that is not a live handle of `kind` is
/// `WN_ERR_INVALID_ARGUMENT`; failures are recorded on the handle.
func call<V>(
  _ pointer: OpaquePointer?, _ kind: Registry.Kind, _ body: (Handle<V>) throws -> Void
) -> Int32 {
  guard pointer != nil else {
    return status { throw WinnowError(.nullPointer, "the \(kind) handle is NULL") }
  }
  guard let handle: Handle<V> = Registry.lookup(pointer, as: kind) else {
    return status {
      throw WinnowError(.invalidArgument, "the pointer is not a live \(kind) handle (freed, or another type)")
    }
  }
  return status(handle) { try body(handle) }
}
