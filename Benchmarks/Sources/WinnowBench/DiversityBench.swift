import Foundation
import Winnow

/// Relevance + diversity (GREATS) figures: `diversity.blocked.1M` seconds to
/// pick 5 % of N = 1M unit rows at k = 1024 with the blocked greedy, beside
/// the sequential greedy extrapolated from timed picks at the same shape; at
/// N = 50k both run whole and `diversity.objective.50k` is the blocked
/// objective over the sequential one.
func benchDiversity(_ report: Report, _ options: Options) throws {
  let k = options.smoke ? 64 : 1024
  let eta: Float = 0.01  // the engine's default on unit-norm features
  for n in options.smoke ? [2_000, 20_000] : [50_000, 1_000_000] {
    let label = poolLabel(n)
    let g = unitRows(n, k)
    defer { g.deallocate() }
    let target = meanDirection(g, rows: min(n, 1000), dim: k)
    let keep = n / 20
    var blocked: [Int] = []
    let cpu0 = processCPUSeconds()
    let tb: Double = try wallTime {
      blocked = try GreedyDiversity.select(
        features: g, rows: n, dim: k, target: target, count: keep, stepSize: eta, method: .blocked
      ).indices
    }
    let cpu = processCPUSeconds() - cpu0
    if n >= 1_000_000 || options.smoke && n > 2_000 {
      // Sequential cost is linear in picks: time a few, extrapolate to n/20.
      let picks = 8
      let ts: Double = try wallTime {
        _ = try GreedyDiversity.select(
          features: g, rows: n, dim: k, target: target, count: picks, stepSize: eta,
          method: .sequential)
      }
      report.add("diversity.sequential.\(label)", ts * Double(keep) / Double(picks), "s",
                 note: "extrapolated from \(picks) timed picks of \(keep), k = \(k)")
      report.add("diversity.blocked.\(label)", tb, "s", vs: "diversity.sequential.\(label)",
                 note: "5 % of N = \(n), k = \(k), η = \(eta); "
                   + String(format: "%.0f s of CPU on all cores (the machine is shared)", cpu))
      continue
    }
    var sequential: [Int] = []
    let ts: Double = try wallTime {
      sequential = try GreedyDiversity.select(
        features: g, rows: n, dim: k, target: target, count: keep, stepSize: eta,
        method: .sequential
      ).indices
    }
    report.add("diversity.sequential.\(label)", ts, "s", note: "5 % of N = \(n), k = \(k)")
    report.add("diversity.blocked.\(label)", tb, "s", vs: "diversity.sequential.\(label)")
    let fs = GreedyDiversity.objective(
      features: g, dim: k, target: target, picked: sequential, stepSize: eta)
    let fb = GreedyDiversity.objective(
      features: g, dim: k, target: target, picked: blocked, stepSize: eta)
    report.add("diversity.objective.\(label)", fb / fs, "ratio",
               note: "blocked / sequential GREATS objective (\(fb) / \(fs)); target ≥ 0.99")
  }
}

/// User + system CPU seconds of this process so far (all threads).
private func processCPUSeconds() -> Double {
  var usage = rusage()
  getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
  let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
  return user + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

/// `rows × dim` deterministic rows scaled to unit norm.
private func unitRows(_ rows: Int, _ dim: Int) -> UnsafeMutablePointer<Float> {
  let g = filledBuffer(rows * dim, seed: 11)
  for r in 0..<rows {
    var s: Float = 0
    for j in 0..<dim { s += g[r * dim + j] * g[r * dim + j] }
    let inv = 1 / max(s.squareRoot(), 1e-20)
    for j in 0..<dim { g[r * dim + j] *= inv }
  }
  return g
}

/// The unit mean direction of the first `rows` rows: a target the pool
/// partly aligns with.
private func meanDirection(_ g: UnsafePointer<Float>, rows: Int, dim: Int) -> [Float] {
  var t = [Float](repeating: 0, count: dim)
  for r in 0..<rows { for j in 0..<dim { t[j] += g[r * dim + j] } }
  let norm = t.reduce(0) { $0 + $1 * $1 }.squareRoot()
  return t.map { $0 / norm }
}
