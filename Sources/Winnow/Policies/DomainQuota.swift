/// Top-scoring selection within each domain, in proportions set by a mixture.
///
/// Quotas follow the largest-remainder (Hamilton) rule; a domain with fewer
/// samples than its quota gives the rest back, and the leftover is shared
/// among the domains that still have room, again in proportion to the mixture
/// (equally if their mixture weights are all zero). Remainder ties go to the
/// lower domain index, so quotas are deterministic.
public enum DomainQuota {
  /// How many samples each domain gets: `Σ quota = min(n, Σ available)`.
  ///
  /// - Parameters:
  ///   - mixture: `K` non-negative weights (normalized internally).
  ///   - available: `K` domain sizes.
  ///   - n: the total to select, `n ≥ 0`.
  /// - Complexity: O(K²) in the worst case (each round fills at least one domain).
  public static func quotas(mixture: [Double], available: [Int], total n: Int) throws -> [Int] {
    guard mixture.count == available.count, !mixture.isEmpty else {
      throw WinnowError.shape("\(mixture.count) mixture weights for \(available.count) domains")
    }
    guard mixture.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
      throw WinnowError.invalid("mixture weights must be finite and non-negative")
    }
    var quota = [Int](repeating: 0, count: mixture.count)
    var left = min(max(0, n), available.reduce(0, +))
    while left > 0 {
      let open = mixture.indices.filter { quota[$0] < available[$0] }
      let mass = open.reduce(0.0) { $0 + mixture[$1] }
      let share = open.map { mass > 0 ? mixture[$0] / mass : 1 / Double(open.count) }
      let ideal = share.map { $0 * Double(left) }
      var give = ideal.map { Int($0.rounded(.down)) }
      // Largest remainders first; ties to the lower domain index.
      let order = open.indices.sorted {
        let (ra, rb) = (ideal[$0] - Double(give[$0]), ideal[$1] - Double(give[$1]))
        return ra != rb ? ra > rb : $0 < $1
      }
      for j in order.prefix(left - give.reduce(0, +)) { give[j] += 1 }
      for (j, d) in open.enumerated() {
        let take = min(give[j], available[d] - quota[d])
        quota[d] += take
        left -= take
      }
    }
    return quota
  }

  /// The best samples of each domain, `quota_d` of domain `d`, best first overall.
  ///
  /// - Parameters:
  ///   - scores: `N` finite scores.
  ///   - domains: `N` domain indices in `0..<K`.
  ///   - mixture: `K` weights; `n`: total to select.
  /// - Complexity: O(N + n log n) expected.
  public static func select(
    _ scores: UnsafeBufferPointer<Float>, domains: UnsafeBufferPointer<Int32>,
    mixture: [Double], count n: Int
  ) throws -> [Int] {
    guard domains.count == scores.count else {
      throw WinnowError.shape("\(domains.count) domain ids for \(scores.count) scores")
    }
    try Selection.checkFinite(scores)
    let k = mixture.count
    var members = [[Int]](repeating: [], count: k)
    for (i, d) in domains.enumerated() {
      guard d >= 0, Int(d) < k else {
        throw WinnowError.invalid("domain id \(d) of sample \(i) is outside 0..<\(k)")
      }
      members[Int(d)].append(i)
    }
    let quota = try quotas(mixture: mixture, available: members.map(\.count), total: n)
    var chosen = [Int]()
    chosen.reserveCapacity(n)
    for d in 0..<k where quota[d] > 0 {
      let local = members[d].map { scores[$0] }
      let picked = try local.withUnsafeBufferPointer { try Selection.top($0, k: quota[d]) }
      chosen += picked.map { members[d][$0] }
    }
    return Selection.sortedBestFirst(chosen, scores)
  }
}
