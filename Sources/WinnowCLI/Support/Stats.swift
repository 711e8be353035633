import Foundation

/// `--stats`: wall time and peak resident memory of this process, on stderr.
///
/// Peak memory is `VmHWM` from `/proc/self/status`, which belongs to this
/// program's own address space; `getrusage`'s `ru_maxrss` would also count
/// the parent's pages that a fork carried into this process before `exec`.
func printStats(since start: Date) {
  let peak = peakResidentBytes()
  let line = String(
    format: "elapsed: %.3f s\npeak RSS: %d bytes (%.1f MiB)\n",
    Date().timeIntervalSince(start), peak, Double(peak) / 1_048_576)
  FileHandle.standardError.write(Data(line.utf8))
}

/// The high-water mark of this process's resident memory, in bytes.
func peakResidentBytes() -> Int {
  guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
  }
  for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
    let kib = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
    return kib * 1024
  }
  return 0
}
