import Foundation

/// One benchmark figure: `{"name", "value", "unit", "vs", "ratio"}`.
///
/// `ratio` is ours / theirs in throughput terms (higher is better) against
/// the record named by `vs` (a roofline or a peer), measured in the same run.
/// `note` says how a figure was taken when the name alone cannot (e.g. an
/// extrapolation); it is optional and never compared.
struct Record: Codable {
  var name: String
  var value: Double
  var unit: String
  var vs: String?
  var ratio: Double?
  var note: String?
}

/// Collects records, prints them as they come, and writes them as JSON.
final class Report {
  private(set) var records: [Record] = []

  @discardableResult
  func add(
    _ name: String, _ value: Double, _ unit: String, vs: String? = nil, note: String? = nil
  ) -> Record {
    var r = Record(name: name, value: value, unit: unit, vs: vs, note: note)
    if let vs, let base = records.last(where: { $0.name == vs }) {
      r.ratio = Self.ratio(value, unit, base.value)
    }
    records.append(r)
    let ratio = r.ratio.map { String(format: "  (%.2f× %@)", $0, vs ?? "") } ?? ""
    print(String(format: "%-48@ %12.4g %@", name as NSString, value, unit) + ratio)
    fflush(nil)
    return r
  }

  /// Raises a roofline record to `value` when that is better (higher
  /// throughput), so every ratio against it is taken against the best the
  /// BLAS did at any point of the run: on a shared, noisy machine a roofline
  /// measured once, in a busy moment, would flatter everything after it.
  func improve(_ name: String, _ value: Double) {
    guard let i = records.lastIndex(where: { $0.name == name }) else { return }
    if value > records[i].value {
      records[i].value = value
      print(String(format: "%-48@ %12.4g %@  (re-measured: better)", name as NSString, value,
                   records[i].unit))
    }
    for j in records.indices where records[j].vs == name {
      records[j].ratio = Self.ratio(records[j].value, records[j].unit, records[i].value)
    }
  }

  /// Ours / theirs in throughput terms: time units are inverted.
  static func ratio(_ ours: Double, _ unit: String, _ theirs: Double) -> Double {
    ["s", "ms", "us", "ns", "bytes", "MiB"].contains(unit) ? theirs / ours : ours / theirs
  }

  /// Writes the records as a pretty-printed JSON list.
  func write(to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(records).write(to: URL(fileURLWithPath: path))
  }
}

/// Wall time of one call of `body`, in seconds.
func wallTime(_ body: () throws -> Void) rethrows -> Double {
  let start = DispatchTime.now().uptimeNanoseconds
  try body()
  return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// The best wall time of `repeats` runs of `body` after `warmup` runs.
func bestTime(repeats: Int = 3, warmup: Int = 1, _ body: () throws -> Void) rethrows -> Double {
  for _ in 0..<warmup { try body() }
  var best = Double.infinity
  for _ in 0..<repeats { best = min(best, try wallTime(body)) }
  return best
}

/// Times several bodies alternated, `rounds` times after one warm-up each:
/// `times[b][r]` is body b's wall time in round r. On a shared machine a
/// memory-bound and a compute-bound body feel other load differently, so a
/// ratio between them is only fair when they ran side by side.
func alternatedTimes(rounds: Int, _ bodies: [() throws -> Void]) throws -> [[Double]] {
  for body in bodies { try body() }
  var times = [[Double]](repeating: [], count: bodies.count)
  for _ in 0..<rounds {
    for (b, body) in bodies.enumerated() { times[b].append(try wallTime(body)) }
  }
  return times
}

/// A buffer of `count` floats filled with a cheap deterministic pattern.
func filledBuffer(_ count: Int, seed: UInt32 = 1) -> UnsafeMutablePointer<Float> {
  let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
  var s = seed
  for i in 0..<count {
    s = s &* 1_664_525 &+ 1_013_904_223
    p[i] = Float(Int32(bitPattern: s >> 8) & 0xFFFF) / 32768 - 1
  }
  return p
}

/// `count` deterministic floats in `[-1, 1)`, as an array.
func filledArray(_ count: Int, seed: UInt32 = 1) -> [Float] {
  let p = filledBuffer(count, seed: seed)
  defer { p.deallocate() }
  return Array(UnsafeBufferPointer(start: p, count: count))
}
