/// Deterministic selection of the best-scoring samples.
///
/// Every rule orders by descending score and breaks ties by ascending index,
/// so a selection never depends on thread count, block size or sort details.
/// A score of `-∞` marks an excluded sample (e.g. a row the scorer skipped
/// because its features were not finite): it is never selected and does not
/// count towards the pool. NaN and `+∞` have no place in an order: errors.
public enum Selection {
  /// The indices of the `k` highest scores, best first.
  ///
  /// - Parameters:
  ///   - scores: `N` scores, finite or `-∞` (excluded).
  ///   - k: how many to keep, `1 ≤ k ≤` the number of eligible (finite) scores.
  /// - Complexity: O(N + k log k) expected (quickselect, then a sort of the k).
  public static func top(_ scores: UnsafeBufferPointer<Float>, k: Int) throws -> [Int] {
    let eligible = try eligibleCount(scores)
    guard k >= 1, k <= eligible else {
      throw WinnowError.invalid(
        "top k = \(k) is outside 1...\(eligible) (the eligible pool size)")
    }
    return topChecked(scores, k: k)
  }

  /// `top(_:k:)` for scores already checked, with `1 ≤ k ≤` eligible.
  static func topChecked(_ scores: UnsafeBufferPointer<Float>, k: Int) -> [Int] {
    let cut = kthLargest(scores, k: k)
    // Everything above the cut is in; ties at the cut fill the rest by
    // ascending index. One pass collects both.
    var chosen = [Int](), ties = [Int]()
    chosen.reserveCapacity(k)
    for i in scores.indices {
      let s = scores[i]
      if s > cut {
        chosen.append(i)
      } else if s == cut && ties.count < k {
        ties.append(i)
      }
    }
    chosen += ties.prefix(k - chosen.count)
    return sortedBestFirst(chosen, scores)
  }

  /// The best `round(fraction · E)` indices (at least one), best first, where
  /// `E` is the number of eligible (not `-∞`) scores.
  ///
  /// - Parameters:
  ///   - scores: `N` scores, finite or `-∞` (excluded).
  ///   - fraction: in `(0, 1]`; LESS's default is 0.05.
  /// - Complexity: O(N + k log k) expected.
  public static func top(_ scores: UnsafeBufferPointer<Float>, fraction: Double) throws -> [Int] {
    guard fraction > 0, fraction <= 1 else {
      throw WinnowError.invalid("fraction \(fraction) is outside (0, 1]")
    }
    let eligible = try eligibleCount(scores)
    return topChecked(scores, k: count(forFraction: fraction, of: eligible))
  }

  /// How many samples a fraction of a pool of `n` keeps: `round(fraction·n)`, at least 1.
  public static func count(forFraction fraction: Double, of n: Int) -> Int {
    min(n, max(1, Int((fraction * Double(n)).rounded())))
  }

  /// The indices whose score is at least `threshold` (finite), best first;
  /// possibly none.
  ///
  /// - Complexity: O(N + s log s) for `s` selected.
  public static func atLeast(_ scores: UnsafeBufferPointer<Float>, threshold: Float) throws -> [Int] {
    _ = try eligibleCount(scores)
    guard threshold.isFinite else { throw WinnowError.invalid("threshold \(threshold) is not finite") }
    let chosen = scores.indices.filter { scores[$0] >= threshold }
    return sortedBestFirst(chosen, scores)
  }

  /// Sorts indices by descending score, then ascending index.
  static func sortedBestFirst(_ indices: [Int], _ scores: UnsafeBufferPointer<Float>) -> [Int] {
    // Sorting (score, index) pairs keeps each comparison in cache.
    var pairs = indices.map { (score: scores[$0], index: $0) }
    pairs.sort { a, b in a.score != b.score ? a.score > b.score : a.index < b.index }
    return pairs.map(\.index)
  }

  /// The number of finite scores; fails on an empty or all-excluded pool and
  /// on NaN or `+∞`.
  static func eligibleCount(_ scores: UnsafeBufferPointer<Float>) throws -> Int {
    guard !scores.isEmpty else { throw WinnowError.invalid("the pool is empty: nothing to select") }
    var eligible = 0
    for (i, s) in scores.enumerated() {
      if s.isFinite {
        eligible += 1
      } else if s.isNaN || s > 0 {
        throw WinnowError(.nonFinite, "score \(i) is \(s); scores must be finite or -inf (excluded)")
      }
    }
    guard eligible > 0 else {
      throw WinnowError.invalid("all \(scores.count) scores are -inf (excluded): nothing to select")
    }
    return eligible
  }
}

extension Selection {
  /// Throws `.nonFinite` unless every score is finite (for policies, such as
  /// softmax sampling and reweighting, where an excluded `-inf` has no meaning).
  static func checkFinite(_ scores: UnsafeBufferPointer<Float>) throws {
    if let i = scores.firstIndex(where: { !$0.isFinite }) {
      throw WinnowError(.nonFinite, "score \(i) is \(scores[i]); scores must be finite")
    }
  }
}
