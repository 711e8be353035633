import Foundation

/// How the page cache was emptied before a cold read.
enum ColdMethod: String {
  /// `echo 3 > /proc/sys/vm/drop_caches` (needs root).
  case dropCaches = "drop_caches"
  /// `posix_fadvise(POSIX_FADV_DONTNEED)` on the file: evicts its clean pages.
  case fadvise = "posix_fadvise(DONTNEED)"
}

/// Empties the page cache for `path` (a file, or every file of a folder such
/// as a feature store): drop_caches when allowed, else fadvise.
@discardableResult
func evictFromPageCache(_ path: String) -> ColdMethod {
  var isDirectory: ObjCBool = false
  let files = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).map { path + "/" + $0 }
    : [path]
  sync()
  for file in files {
    let fd = open(file, O_RDONLY)
    guard fd >= 0 else { continue }
    fdatasync(fd)
    _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
    close(fd)
  }
  sync()
  if let h = FileHandle(forWritingAtPath: "/proc/sys/vm/drop_caches") {
    defer { try? h.close() }
    if (try? h.write(contentsOf: Data("3\n".utf8))) != nil { return .dropCaches }
  }
  return .fadvise
}

/// Seconds to read `path` sequentially with `read(2)` in 8 MiB chunks.
func sequentialReadSeconds(_ path: String) throws -> Double {
  let fd = open(path, O_RDONLY)
  guard fd >= 0 else { throw OptionError("cannot open \(path)") }
  defer { close(fd) }
  let chunk = 8 << 20
  let buf = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
  defer { buf.deallocate() }
  return wallTime { while read(fd, buf, chunk) > 0 {} }
}

/// Writes `bytes` of deterministic data to `path` (8 MiB at a time).
func writeScratchFile(_ path: String, bytes: Int) throws {
  _ = FileManager.default.createFile(atPath: path, contents: nil)
  guard let h = FileHandle(forWritingAtPath: path) else { throw OptionError("cannot write \(path)") }
  defer { try? h.close() }
  let block = Data(bytes: filledArray(2 << 20, seed: 9), count: 8 << 20)
  var left = bytes
  while left > 0 {
    let n = min(left, block.count)
    try h.write(contentsOf: block.prefix(n))
    left -= n
  }
  try h.synchronize()
}

/// Disk figures: `disk.read.cold` and `disk.read.warm` (GB/s, sequential
/// `read(2)` of a scratch file), the bounds of scoring from a store.
func benchDisk(_ report: Report, _ options: Options) throws {
  try FileManager.default.createDirectory(atPath: options.scratch, withIntermediateDirectories: true)
  let path = options.scratch + "/disk-read.bin"
  let bytes = options.smoke ? 32 << 20 : 2 << 30
  try writeScratchFile(path, bytes: bytes)
  defer { try? FileManager.default.removeItem(atPath: path) }
  let method = evictFromPageCache(path)
  let cold = try sequentialReadSeconds(path)
  report.add("disk.read.cold", Double(bytes) / cold / 1e9, "GB/s",
             note: "\(bytes >> 20) MiB sequential read(2) after \(method.rawValue)")
  let warm = try bestTime(repeats: 2, warmup: 0) { _ = try sequentialReadSeconds(path) }
  report.add("disk.read.warm", Double(bytes) / warm / 1e9, "GB/s", note: "same file, in the page cache")
}
