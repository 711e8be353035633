#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one door from the `.npy` layer to the C library.
///
/// Every `open`, `mmap`, `pwrite`, `fsync` and `rename` of the storage code goes
/// through here, so the unsafe edge sits in one place and each failure becomes
/// a `WinnowError` naming the path and the `errno` text.
enum NPYSyscalls {
  /// The `strerror` text for `code` (defaults to the current `errno`).
  static func describe(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
  }

  /// The system page size in bytes.
  static let pageSize: Int = {
    let size = sysconf(Int32(_SC_PAGESIZE))
    return size > 0 ? Int(size) : 4096
  }()

  // MARK: - Reading

  /// Opens `path` read-only and returns the descriptor and the regular file's size.
  static func openForReading(_ path: String) throws -> (fd: Int32, size: Int) {
    let fd = retryingEINTR { open(path, O_RDONLY | O_CLOEXEC) }
    guard fd >= 0 else {
      throw WinnowError(.io, "\(path): cannot open for reading: \(describe())")
    }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      let message = describe()
      close(fd)
      throw WinnowError(.io, "\(path): cannot stat: \(message)")
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      close(fd)
      throw WinnowError(.io, "\(path): not a regular file")
    }
    return (fd, Int(info.st_size))
  }

  /// Reads exactly `count` bytes at file offset `offset` into `bytes`.
  ///
  /// The corresponding C function is `pread`.
  /// - Throws: `.io` naming the file on an error, or `.format` when the file
  ///   ends first (it was truncated).
  static func readAll(
    _ fd: Int32, into bytes: UnsafeMutableRawPointer, count: Int, at offset: Int, path: String
  ) throws {
    var done = 0
    while done < count {
      let n = pread(fd, bytes + done, count - done, off_t(offset + done))
      if n < 0 {
        if errno == EINTR { continue }
        throw WinnowError(.io, "\(path): read failed: \(describe())")
      }
      guard n > 0 else {
        throw WinnowError(.format, "\(path): the file ends at byte \(offset + done), before \(offset + count)")
      }
      done += n
    }
  }

  /// Maps `length` bytes of `fd` read-only and shared.
  ///
  /// The corresponding C function is `mmap`.
  static func mapReadOnly(_ fd: Int32, length: Int, path: String) throws -> UnsafeRawPointer {
    guard let address = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0),
      address != MAP_FAILED
    else {
      throw WinnowError(.io, "\(path): cannot memory-map \(length) bytes: \(describe())")
    }
    return UnsafeRawPointer(address)
  }

  /// Unmaps a mapping made by `mapReadOnly`.
  static func unmap(_ address: UnsafeRawPointer, length: Int) {
    munmap(UnsafeMutableRawPointer(mutating: address), length)
  }

  /// Asks the kernel to start reading `length` bytes at `address` (page
  /// aligned) into the page cache now, without waiting: read-ahead for a
  /// mapping scanned block by block. The corresponding C function is
  /// `madvise(MADV_WILLNEED)`.
  static func prefetch(_ address: UnsafeRawPointer, length: Int) {
    _ = madvise(UnsafeMutableRawPointer(mutating: address), length, Int32(MADV_WILLNEED))
  }

  /// Asks the kernel to start reading `length` bytes of `fd` at `offset`
  /// into the page cache, without waiting. The corresponding C function is
  /// `posix_fadvise(POSIX_FADV_WILLNEED)`.
  static func prefetch(_ fd: Int32, offset: Int, length: Int) {
    _ = posix_fadvise(fd, off_t(offset), off_t(length), Int32(POSIX_FADV_WILLNEED))
  }

  /// Drops the resident pages of `[address, address + length)` of a file mapping.
  ///
  /// `address` must be page-aligned. The mapping stays valid: a later access
  /// reads the pages back from the file. The corresponding C function is
  /// `madvise(MADV_DONTNEED)`.
  static func dropPages(_ address: UnsafeRawPointer, length: Int) {
    _ = madvise(UnsafeMutableRawPointer(mutating: address), length, Int32(MADV_DONTNEED))
  }

  // MARK: - Writing

  /// Creates `path` exclusively for writing (fails if it already exists).
  static func createExclusive(_ path: String) -> (fd: Int32, errno: Int32) {
    let fd = retryingEINTR { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
    return (fd, fd < 0 ? errno : 0)
  }

  /// Writes all `count` bytes at `offset`, retrying short writes and `EINTR`.
  ///
  /// The corresponding C function is `pwrite`.
  static func writeAll(
    _ fd: Int32, _ bytes: UnsafeRawPointer, count: Int, at offset: Int, path: String
  ) throws {
    var done = 0
    while done < count {
      let n = pwrite(fd, bytes + done, count - done, off_t(offset + done))
      if n < 0 {
        if errno == EINTR { continue }
        throw WinnowError(.io, "\(path): write failed: \(describe())")
      }
      guard n > 0 else {
        throw WinnowError(.io, "\(path): write made no progress")
      }
      done += n
    }
  }

  /// Flushes `fd` to stable storage.
  static func sync(_ fd: Int32, path: String) throws {
    guard retryingEINTR({ fsync(fd) }) == 0 else {
      throw WinnowError(.io, "\(path): fsync failed: \(describe())")
    }
  }

  /// Flushes a directory entry change (a rename) in `directory` to stable storage.
  static func syncDirectory(_ directory: String) throws {
    let fd = retryingEINTR { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    guard fd >= 0 else {
      throw WinnowError(.io, "\(directory): cannot open directory to fsync: \(describe())")
    }
    defer { close(fd) }
    try sync(fd, path: directory)
  }

  /// Closes `fd`, reporting the deferred write errors some filesystems return here.
  static func closeChecked(_ fd: Int32, path: String) throws {
    guard close(fd) == 0 else {
      throw WinnowError(.io, "\(path): close failed: \(describe())")
    }
  }

  /// Closes `fd`, ignoring errors (clean-up paths).
  static func closeQuietly(_ fd: Int32) {
    _ = close(fd)
  }

  /// Atomically renames `source` onto `destination`.
  static func renameAtomically(_ source: String, to destination: String) throws {
    guard rename(source, destination) == 0 else {
      throw WinnowError(.io, "\(destination): cannot rename \(source) onto it: \(describe())")
    }
  }

  /// Removes `path`, ignoring errors (clean-up paths).
  static func remove(_ path: String) {
    _ = unlink(path)
  }

  /// The current process id (names temporaries).
  static var processID: Int32 { getpid() }

  private static func retryingEINTR(_ call: () -> Int32) -> Int32 {
    while true {
      let result = call()
      if result >= 0 || errno != EINTR { return result }
    }
  }
}
