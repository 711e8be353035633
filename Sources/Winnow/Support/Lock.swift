#if canImport(Glibc)
  import Glibc
#endif

/// A plain mutual-exclusion lock (a `pthread_mutex_t` on the heap).
///
/// Winnow's library avoids full Foundation so that the self-contained
/// `libwinnow.so` does not carry Foundation's ICU data.
final class Lock: @unchecked Sendable {
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

  init() { pthread_mutex_init(mutex, nil) }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  func lock() { pthread_mutex_lock(mutex) }
  func unlock() { pthread_mutex_unlock(mutex) }
}
