#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one door from the library to the system calls.
///
/// Every `open`, `read`, `mmap`, `pwrite`, `fsync` and `rename` of the library
/// goes through here (storage, imports, checksums, the audit log, the memory
/// probes), so the unsafe edge sits in one place and each failure becomes a
/// `WinnowError` naming the path and the `errno` text. Files opened for
/// reading are refused unless regular (`openForReading`).
enum Syscalls {
  /// The `strerror` text for `code` (defaults to the current `errno`).
  static func describe(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
  }

  /// The system page size in bytes.
  static let pageSize: Int = {
    let size = sysconf(Int32(_SC_PAGESIZE))
    return size > 0 ? Int(size) : 4096
  }()

  /// The physical memory of this machine in bytes, or nil when unknown.
  ///
  /// The corresponding C function is `sysconf` (`_SC_PHYS_PAGES`).
  static var physicalMemory: Int? {
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
    guard pages > 0, size > 0 else { return nil }
    let (bytes, overflow) = pages.multipliedReportingOverflow(by: size)
    return overflow ? nil : bytes
  }

  /// The soft limit on this process's address space (RLIMIT_AS, `ulimit
  /// -v`) in bytes, or nil when there is none or it cannot be read.
  ///
  /// The corresponding C function is `getrlimit`.
  static var addressSpaceLimit: UInt64? {
    var rl = rlimit()
    // RLIM_INFINITY is all ones (Glibc's macro does not import).
    guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &rl) == 0, rl.rlim_cur != rlim_t.max
    else { return nil }
    return UInt64(rl.rlim_cur)
  }

  // MARK: - Reading

  /// Opens `path` read-only and returns the descriptor and the regular file's size.
  ///
  /// Every file the library reads is opened here (`.npy` arrays, manifests,
  /// checksums), so nothing can block or read forever: the file is opened
  /// with `O_NONBLOCK` (a FIFO without a writer opens at once instead of
  /// waiting), anything but a regular file — FIFO, socket, character or
  /// block device such as `/dev/zero` — is refused, and only then is
  /// `O_NONBLOCK` cleared. Symbolic links are followed; callers that must
  /// keep a path inside a folder resolve it first (`resolveInside`).
  ///
  /// - Throws: `.io` naming `path` and what it is when it is not a regular file.
  static func openForReading(_ path: String) throws -> (fd: Int32, size: Int) {
    let fd = retryingEINTR { open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
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
      throw WinnowError(.io, "\(path): not a regular file (\(fileKind(info.st_mode)))")
    }
    let flags = fcntl(fd, F_GETFL)
    guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
      let message = describe()
      close(fd)
      throw WinnowError(.io, "\(path): cannot clear O_NONBLOCK: \(message)")
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
    try transferAll(count, "read", path) { done in
      pread(fd, bytes + done, count - done, off_t(offset + done))
    } stalled: { done in
      WinnowError(.format, "\(path): the file ends at byte \(offset + done), before \(offset + count)")
    }
  }

  /// Reads up to `buffer.count` bytes at the current offset of `fd`,
  /// retrying `EINTR`; 0 at the end of the file.
  ///
  /// The corresponding C function is `read`.
  /// - Throws: `.io` naming `path`, with the `errno` text, on an error.
  static func readSome(
    _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String
  ) throws -> Int {
    while true {
      let n = read(fd, buffer.baseAddress, buffer.count)
      if n >= 0 { return n }
      if errno == EINTR { continue }
      throw WinnowError(.io, "\(path): read failed: \(describe())")
    }
  }

  /// The first bytes (at most `limit`) of a kernel-provided file such as
  /// `/proc/self/statm` or `/sys/fs/cgroup/memory.max`, from one `read`; nil
  /// when it cannot be opened or read. Such files report a size of 0, so
  /// they are not opened through `openForReading`.
  static func readProcFile(_ path: String, limit: Int) -> [UInt8]? {
    let fd = retryingEINTR { open(path, O_RDONLY | O_CLOEXEC) }
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: limit)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return nil }
    return Array(buffer[0..<n])
  }

  /// What a non-regular file is, for error messages.
  static func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFIFO: return "a FIFO"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    case S_IFDIR: return "a directory"
    case S_IFLNK: return "a symbolic link"
    default: return "a special file"
    }
  }

  /// The whole contents of the regular file at `path`, at most `limit` bytes.
  ///
  /// - Throws: `.io` for a file that cannot be read, is not regular, or is
  ///   over `limit` bytes (checked before allocating).
  static func readWholeFile(_ path: String, limit: Int) throws -> [UInt8] {
    let (fd, size) = try openForReading(path)
    defer { close(fd) }
    guard size <= limit else {
      throw WinnowError(.io, "\(path): \(size) bytes, over the \(limit)-byte limit for this file")
    }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    while done < size {
      let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else {
        throw WinnowError(.io, "\(path): read failed after \(done) of \(size) bytes: \(describe())")
      }
      done += n
    }
    return bytes
  }

  /// Resolves `name` inside `folder` (symbolic links followed) and refuses a
  /// result outside `folder`: a store's files must stay in the store.
  ///
  /// - Returns: the resolved absolute path.
  /// - Throws: `.io` naming `what` when the file is missing or resolves
  ///   outside `folder`.
  static func resolveInside(_ folder: String, _ name: String, what: String) throws -> String {
    guard let root = realpath(folder, nil) else {
      throw WinnowError(.io, "\(folder): cannot resolve the folder: \(describe())")
    }
    defer { free(root) }
    let joined = folder.hasSuffix("/") ? folder + name : folder + "/" + name
    guard let resolved = realpath(joined, nil) else {
      throw WinnowError(.io, "\(joined) (\(what)): cannot resolve: \(describe())")
    }
    defer { free(resolved) }
    let base = String(cString: root), target = String(cString: resolved)
    let prefix = base.hasSuffix("/") ? base : base + "/"
    guard target.hasPrefix(prefix) else {
      throw WinnowError(
        .io, "\(joined) (\(what)) resolves to \(target), outside the folder \(base)")
    }
    return target
  }

  /// The identity of the file `path` names: its device and inode when it
  /// exists (symbolic links followed, so hard links and links to one file
  /// agree), else its folder resolved (`.`, `..`, linked folders) and name.
  /// Two outputs with one identity would overwrite each other.
  static func fileIdentity(_ path: String) -> String {
    var info = stat()
    if stat(path, &info) == 0 { return "inode \(info.st_dev):\(info.st_ino)" }
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { path[..<$0].isEmpty ? "/" : String(path[..<$0]) } ?? "."
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    guard let resolved = realpath(folder, nil) else { return "path \(folder)/\(name)" }
    defer { free(resolved) }
    return "path \(String(cString: resolved))/\(name)"
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


  /// Reads up to `count` bytes of `fd` at `offset` into the page cache
  /// without copying them anywhere (`sendfile` to `/dev/null`), retried on
  /// `EINTR`: the bytes read, 0 at the end of the file, -1 on an error.
  static func readIntoCache(_ fd: Int32, count: Int, at offset: Int) -> Int {
    var position = off_t(offset)
    while true {
      let n = sendfile(devNull, fd, &position, count)
      if n >= 0 || errno != EINTR { return n }
    }
  }

  /// `/dev/null`, opened once for writing (for `readIntoCache`); -1 if it
  /// cannot be opened, which makes `readIntoCache` fail quietly.
  private static let devNull: Int32 = open("/dev/null", O_WRONLY | O_CLOEXEC)

  /// Whether the page of `fd` holding byte `offset` is in the page cache
  /// (`mincore` on a one-page mapping); false when that cannot be told.
  static func isCached(_ fd: Int32, offset: Int) -> Bool {
    let start = offset / pageSize * pageSize
    guard let map = mmap(nil, pageSize, PROT_READ, MAP_SHARED, fd, off_t(start)), map != MAP_FAILED else {
      return false
    }
    defer { munmap(map, pageSize) }
    var resident: UInt8 = 0
    return mincore(map, pageSize, &resident) == 0 && resident & 1 == 1
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

  /// Opens `path` for appending, creating it (mode 0666 less the umask) when
  /// missing; any kind of file is accepted (a log may go to `/dev/stderr`).
  ///
  /// The corresponding C function is `open` with `O_APPEND | O_CREAT`.
  /// - Throws: `.io` naming `path` and `what`, with the `errno` text.
  static func openForAppending(_ path: String, what: String) throws -> Int32 {
    let fd = retryingEINTR { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o666) }
    guard fd >= 0 else {
      throw WinnowError(.io, "\(path): cannot open \(what) for appending: \(describe())")
    }
    return fd
  }

  /// Appends all `count` bytes to `fd` (opened by `openForAppending`),
  /// retrying short writes and `EINTR`.
  ///
  /// The corresponding C function is `write`.
  static func appendAll(_ fd: Int32, _ bytes: UnsafeRawPointer, count: Int, path: String) throws {
    try transferAll(count, "write", path) { done in
      write(fd, bytes + done, count - done)
    } stalled: { _ in
      WinnowError(.io, "\(path): write made no progress")
    }
  }

  /// Writes all `count` bytes at `offset`, retrying short writes and `EINTR`.
  ///
  /// The corresponding C function is `pwrite`.
  static func writeAll(
    _ fd: Int32, _ bytes: UnsafeRawPointer, count: Int, at offset: Int, path: String
  ) throws {
    try transferAll(count, "write", path) { done in
      pwrite(fd, bytes + done, count - done, off_t(offset + done))
    } stalled: { _ in
      WinnowError(.io, "\(path): write made no progress")
    }
  }

  /// Calls `step(done)` (one `read`/`write`-like call for the bytes from
  /// `done` on) until `count` bytes have moved, retrying `EINTR`; a call
  /// that moves nothing throws `stalled(done)`.
  private static func transferAll(
    _ count: Int, _ verb: String, _ path: String, _ step: (Int) -> Int,
    stalled: (Int) -> WinnowError
  ) throws {
    var done = 0
    while done < count {
      let n = step(done)
      if n < 0 {
        if errno == EINTR { continue }
        throw WinnowError(.io, "\(path): \(verb) failed: \(describe())")
      }
      guard n > 0 else { throw stalled(done) }
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
