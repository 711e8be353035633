import Winnow

/// The sizes of the engine figures.
struct EngineSizes {
  var pools: [Int]
  /// Feature dimension fed to the epoch engine (scores, not projection, are timed).
  var dim: Int
  var domains: Int
  /// Pool of the diversity (GREATS) plan: O(b·N·k), so smaller.
  var diversityPool: Int
  /// Step mode: keep `b` of a batch of `B` rows of dimension `k`.
  var step: (batch: Int, keep: Int, k: Int)

  init(smoke: Bool) {
    pools = smoke ? [20_000] : [1_000_000, 10_000_000]
    dim = smoke ? 8 : 16
    domains = 8
    diversityPool = smoke ? 2_000 : 20_000
    step = smoke ? (32, 8, 256) : (256, 64, 8192)
  }
}

/// Engine figures:
/// - `engine.plan.<policy>.<N>`: seconds for `endEpoch` (select, reweight,
///   mix) over a pool of `N` already fed (top-5 %, domain quotas, stochastic;
///   diversity at a smaller pool);
/// - `engine.feed.<N>`: rows/s of `addCandidates` (`k`-dim features);
/// - `engine.step.<B>to<b>`: seconds for one step-mode choice at `k`.
func benchEngine(_ report: Report, _ options: Options) throws {
  let s = EngineSizes(smoke: options.smoke)
  for n in s.pools {
    for (name, policy) in [("top5pct", SelectionPolicy.topFraction), ("quota", .domainQuota),
                           ("stochastic", .stochastic)] {
      let (feed, plan) = try timeEpoch(n: n, dim: s.dim, domains: s.domains, policy: policy)
      report.add("engine.plan.\(name).\(poolLabel(n))", plan, "s",
                 note: "endEpoch over N = \(n), \(s.domains) domains, select 5 %")
      if policy == .topFraction {
        report.add("engine.feed.\(poolLabel(n))", Double(n) / feed, "rows/s",
                   note: "addCandidates, k = \(s.dim), one task")
      }
    }
  }
  let (_, diversity) = try timeEpoch(n: s.diversityPool, dim: 64, domains: s.domains, policy: .diversity)
  report.add("engine.plan.diversity.\(poolLabel(s.diversityPool))", diversity, "s",
             note: "GREATS greedy 5 % of N = \(s.diversityPool), k = 64")
  try benchStep(report, s)
}

/// (seconds to feed the pool, seconds for `endEpoch`) for one epoch.
private func timeEpoch(n: Int, dim: Int, domains: Int, policy: SelectionPolicy) throws -> (Double, Double) {
  let engine = try SelectionEngine(
    ids: (0..<Int64(n)).map { $0 }, domains: (0..<n).map { Int32($0 % domains) },
    domainCount: domains, featureDim: dim)
  try engine.setParameter(.policy, Double(policy.rawValue))
  try engine.setParameter(.selectFraction, 0.05)
  try engine.beginEpoch(1)
  let target = filledArray(4 * dim, seed: 11)
  try engine.addTarget(task: 0, features: target, rows: 4, dim: dim)
  let chunk = min(n, 65_536)
  let block = filledArray(chunk * dim, seed: 12)
  let feed = try wallTime {
    var start = 0
    while start < n {
      let count = min(chunk, n - start)
      try engine.addCandidates(startingAt: start, count: count, features: block, dim: dim)
      start += count
    }
  }
  let plan = try wallTime { _ = try engine.endEpoch() }
  return (feed, plan)
}

private func benchStep(_ report: Report, _ s: EngineSizes) throws {
  let (b, keep, k) = s.step
  let features = filledArray(b * k, seed: 13), target = filledArray(k, seed: 14)
  let t = try bestTime(repeats: 5) {
    _ = try StepSelection.select(
      features: features, rows: b, dim: k, target: target, keep: keep, stepSize: 0.01)
  }
  report.add("engine.step.\(b)to\(keep)", t, "s", note: "GREATS step mode, B = \(b), b = \(keep), k = \(k)")
}
