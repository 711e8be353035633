import Foundation

/// `--stats`: wall time and peak resident memory of this process, on stderr.
func printStats(since start: Date) {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  let peak = Int(usage.ru_maxrss) * 1024  // Linux reports KiB
  let line = String(format: "elapsed: %.3f s\npeak RSS: %d bytes (%.1f MiB)\n",
                    Date().timeIntervalSince(start), peak, Double(peak) / 1048576)
  FileHandle.standardError.write(Data(line.utf8))
}
