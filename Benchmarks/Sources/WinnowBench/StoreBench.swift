import Foundation
import Winnow

/// The sizes of the store figures: a store several times the memory cap.
struct StoreSizes {
  var rows: Int, k: Int, targets: Int
  var memoryCap: Int

  init(smoke: Bool) {
    (rows, k, targets) = smoke ? (16_384, 256, 16) : (524_288, 1024, 256)
    memoryCap = smoke ? 4 << 20 : 256 << 20
  }
  var bytes: Int { rows * k * 4 }
}

/// Store figures, from the `winnow` CLI run as a child with `--stats`:
/// - `store.import`: GB/s of `winnow store import` (checksums computed as
///   the shards are written);
/// - `scoring.cosine.store`: GB/s of features scored from a feature store
///   on disk after the page cache is emptied, checksums verified while
///   reading (the default), against `store.read.cold` (a plain read of the
///   same files, alternated with it);
/// - the warm and checksum figures of `benchStoreVerification`;
/// - `scoring.store.peak-rss`: peak resident memory (VmHWM) of that run,
///   against `scoring.store.memory-cap` (the store is ≥ 4× the cap).
/// Skipped (absent from the report) when the CLI has no `score` command.
func benchStore(_ report: Report, _ options: Options) throws {
  guard let winnow = options.winnow,
        (try? runChild(winnow, ["score", "--help"]))?.output.contains("--memory-cap") == true else {
    print("store figures skipped: no `winnow score` in \(options.winnow ?? "(no --winnow)")")
    return
  }
  let s = StoreSizes(smoke: options.smoke)
  let dir = options.scratch + "/store-bench"
  try? FileManager.default.removeItem(atPath: dir)
  try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(atPath: dir) }
  try writeFeatures(dir + "/train.npy", rows: s.rows, k: s.k, seed: 21)
  try writeFeatures(dir + "/target.npy", rows: s.targets, k: s.k, seed: 22)
  let store = dir + "/store"
  var imported: (status: Int32, stderr: String, output: String) = (1, "", "")
  let importTime = try wallTime {
    imported = try runChild(winnow, ["store", "import", "--input", dir + "/train.npy", "--store", store])
  }
  guard imported.status == 0 else { throw OptionError("winnow store import failed: \(imported.stderr)") }
  report.add("store.import", Double(s.bytes) / importTime / 1e9, "GB/s",
             note: "winnow store import of a \(s.bytes >> 20) MiB .npy (in the page cache), "
               + "SHA-256 of each shard computed as it is written, process time included")
  try FileManager.default.removeItem(atPath: dir + "/train.npy")
  let scoreArgs = [
    "score", "--train", store, "--target", dir + "/target.npy", "--output", dir + "/scores.npy",
    "--memory-cap", String(s.memoryCap), "--stats",
  ]
  try benchStoreVerification(report, winnow: winnow, scoreArgs: scoreArgs, store: store, bytes: s.bytes)
  // Cold figures swing with the other tenants of the disk (a cold read of
  // the same files has ranged over 2× within a minute), so the scoring run
  // and a plain read of the store's files alternate, each after eviction,
  // and the best of each is kept: the ratio is taken side by side.
  let shardFiles = try FileManager.default.contentsOfDirectory(atPath: store)
    .filter { $0.hasSuffix(".npy") }.sorted().map { store + "/" + $0 }
  var method = ColdMethod.fadvise
  var (read, elapsed, peak) = (Double.infinity, Double.infinity, 0.0)
  for _ in 0..<3 {
    method = evictFromPageCache(store)
    read = min(read, try shardFiles.reduce(0) { $0 + (try sequentialReadSeconds($1)) })
    evictFromPageCache(store)
    let run = try runChild(winnow, scoreArgs)
    guard run.status == 0, let seconds = statsValue(run.stderr, "elapsed:"),
          let rss = statsValue(run.stderr, "peak RSS:") else {
      throw OptionError("winnow score failed: \(run.stderr)")
    }
    (elapsed, peak) = (min(elapsed, seconds), max(peak, rss))
  }
  report.add("store.read.cold", Double(s.bytes) / read / 1e9, "GB/s",
             note: "sequential read(2) in 8 MiB chunks of the store's shard files after \(method.rawValue), "
               + "best of 3, alternated with the cold scoring runs")
  report.add("scoring.cosine.store", Double(s.bytes) / elapsed / 1e9, "GB/s", vs: "store.read.cold",
             note: "winnow score --memory-cap \(s.memoryCap >> 20)M of a \(s.bytes >> 20) MiB store "
               + "(\(s.rows) × \(s.k), \(s.targets) targets) after \(method.rawValue), checksums verified "
               + "while reading (the default), process time included, best of 3")
  report.add("scoring.store.memory-cap", Double(s.memoryCap) / 1_048_576, "MiB",
             note: "the store is \(s.bytes / s.memoryCap)× the cap")
  report.add("scoring.store.peak-rss", peak / 1_048_576, "MiB", vs: "scoring.store.memory-cap",
             note: "VmHWM of the winnow score child (--stats); ratio = cap / peak")
}

/// A `rows × k` `<f4` `.npy` of deterministic values, written in slabs.
func writeFeatures(_ path: String, rows: Int, k: Int, seed: UInt32) throws {
  let writer = try NPYWriter(url: URL(fileURLWithPath: path), dtype: .float32, rowShape: [k])
  let slab = min(rows, max(1, (8 << 20) / (4 * k)))
  var done = 0
  while done < rows {
    let n = min(slab, rows - done)
    let values = filledArray(n * k, seed: seed &+ UInt32(done))
    try values.withUnsafeBufferPointer { try writer.append(floats: $0) }
    done += n
  }
  try writer.finalize()
}

/// The number after `key` on a `--stats` line ("elapsed: 1.2 s", "peak RSS: 123 bytes").
func statsValue(_ text: String, _ key: String) -> Double? {
  guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix(key) }) else { return nil }
  return line.dropFirst(key.count).split(separator: " ").first.flatMap { Double($0) }
}

/// Runs `path args` to completion; returns its status, standard error, and
/// standard output and error together.
func runChild(_ path: String, _ args: [String]) throws -> (status: Int32, stderr: String, output: String) {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: path)
  p.arguments = args
  let err = Pipe(), out = Pipe()
  p.standardError = err
  p.standardOutput = out
  try p.run()
  // Drain stdout on the side so neither pipe can fill and block the child.
  nonisolated(unsafe) var stdout = Data()
  let reader = Thread { stdout = out.fileHandleForReading.readDataToEndOfFile() }
  reader.start()
  let data = err.fileHandleForReading.readDataToEndOfFile()
  p.waitUntilExit()
  while !reader.isFinished { usleep(1000) }
  let e = String(decoding: data, as: UTF8.self)
  return (p.terminationStatus, e, String(decoding: stdout, as: UTF8.self) + e)
}
