import Foundation

/// One benchmark figure: `{"name", "value", "unit", "vs", "ratio"}`.
///
/// `ratio` is ours / theirs in throughput terms (higher is better) against
/// the record named by `vs` (a roofline or a peer), measured in the same run.
struct Record: Codable {
  var name: String
  var value: Double
  var unit: String
  var vs: String?
  var ratio: Double?
}

/// Collects records and prints them as they come.
final class Report {
  private(set) var records: [Record] = []

  @discardableResult
  func add(_ name: String, _ value: Double, _ unit: String, vs: String? = nil) -> Record {
    var r = Record(name: name, value: value, unit: unit, vs: vs)
    if let vs, let base = records.last(where: { $0.name == vs }) {
      // Throughput units: higher is better; time units: lower is better.
      r.ratio = isTime(unit) ? base.value / value : value / base.value
    }
    records.append(r)
    let ratio = r.ratio.map { String(format: "  (%.2f× %@)", $0, vs ?? "") } ?? ""
    print(String(format: "%-44@ %12.3f %@", name as NSString, value, unit) + ratio)
    return r
  }

  private func isTime(_ unit: String) -> Bool { ["s", "ms", "us", "ns"].contains(unit) }
}

/// The best wall time of `repeats` runs of `body` after `warmup` runs.
func bestTime(repeats: Int = 3, warmup: Int = 1, _ body: () throws -> Void) rethrows -> Double {
  for _ in 0..<warmup { try body() }
  var best = Double.infinity
  for _ in 0..<repeats {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
  }
  return best
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
