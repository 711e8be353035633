/// Deterministic selection of the best-scoring samples.
///
/// Every rule orders by descending score and breaks ties by ascending index,
/// so a selection never depends on thread count, block size or sort details.
/// Scores must be finite: NaN has no place in an order.
public enum Selection {
  /// The indices of the `k` highest scores, best first.
  ///
  /// - Parameters:
  ///   - scores: `N` finite scores.
  ///   - k: how many to keep, `1 ≤ k ≤ N`.
  /// - Complexity: O(N + k log k) expected (quickselect, then a sort of the k).
  public static func top(_ scores: UnsafeBufferPointer<Float>, k: Int) throws -> [Int] {
    try checkFinite(scores)
    guard !scores.isEmpty else { throw WinnowError.invalid("the pool is empty: nothing to select") }
    guard k >= 1, k <= scores.count else {
      throw WinnowError.invalid("top k = \(k) is outside 1...\(scores.count) (the pool size)")
    }
    let cut = kthLargest(scores, k: k)
    // Everything above the cut is in; ties at the cut are taken by ascending
    // index until k are chosen.
    var chosen = [Int]()
    chosen.reserveCapacity(k)
    var atCut = k - scores.reduce(0) { $0 + ($1 > cut ? 1 : 0) }
    for i in scores.indices {
      let s = scores[i]
      if s > cut {
        chosen.append(i)
      } else if s == cut && atCut > 0 {
        chosen.append(i)
        atCut -= 1
      }
    }
    return sortedBestFirst(chosen, scores)
  }

  /// The best `round(fraction · N)` indices (at least one), best first.
  ///
  /// - Parameters:
  ///   - scores: `N` finite scores.
  ///   - fraction: in `(0, 1]`; LESS's default is 0.05.
  public static func top(_ scores: UnsafeBufferPointer<Float>, fraction: Double) throws -> [Int] {
    guard fraction > 0, fraction <= 1 else {
      throw WinnowError.invalid("fraction \(fraction) is outside (0, 1]")
    }
    return try top(scores, k: count(forFraction: fraction, of: scores.count))
  }

  /// How many samples a fraction of a pool of `n` keeps: `round(fraction·n)`, at least 1.
  public static func count(forFraction fraction: Double, of n: Int) -> Int {
    min(n, max(1, Int((fraction * Double(n)).rounded())))
  }

  /// The indices whose score is at least `threshold`, best first.
  public static func atLeast(_ scores: UnsafeBufferPointer<Float>, threshold: Float) throws -> [Int] {
    try checkFinite(scores)
    guard threshold.isFinite else { throw WinnowError.invalid("threshold \(threshold) is not finite") }
    let chosen = scores.indices.filter { scores[$0] >= threshold }
    return sortedBestFirst(chosen, scores)
  }

  /// Sorts indices by descending score, then ascending index.
  static func sortedBestFirst(_ indices: [Int], _ scores: UnsafeBufferPointer<Float>) -> [Int] {
    indices.sorted { a, b in
      let (sa, sb) = (scores[a], scores[b])
      return sa != sb ? sa > sb : a < b
    }
  }

  static func checkFinite(_ scores: UnsafeBufferPointer<Float>) throws {
    if let i = scores.firstIndex(where: { !$0.isFinite }) {
      throw WinnowError(.nonFinite, "score \(i) is \(scores[i]); scores must be finite")
    }
  }
}
