/// Which candidates a selection keeps: the one place the rule is written,
/// used by `winnow select`, the C ABI (`wn_selection_create`) and, through it,
/// `winnow.ray`'s driver after its distributed cut.
public enum SelectionRule: Sendable, Equatable {
  /// The `k` best eligible candidates.
  case top(Int)
  /// The best `round(fraction · E)` (at least one), `E` the eligible count.
  case fraction(Double)
  /// Every candidate scoring at least the (finite) threshold.
  case threshold(Float)

  /// Checks the rule's own parameter, before any score is read.
  ///
  /// - Throws: `.invalidArgument` for `k < 1`, a fraction outside `(0, 1]` or
  ///   a threshold that is not finite.
  public func validate() throws {
    switch self {
    case .top(let k):
      guard k >= 1 else { throw WinnowError.invalid("top k = \(k) must be at least 1") }
    case .fraction(let f):
      guard f > 0, f <= 1 else { throw WinnowError.invalid("fraction \(f) is outside (0, 1]") }
    case .threshold(let t):
      guard t.isFinite else { throw WinnowError.invalid("threshold \(t) is not finite") }
    }
  }

  /// How many candidates the rule keeps from a pool with `eligible` eligible
  /// rows, or nil for a threshold (it keeps however many reach it).
  ///
  /// - Throws: `.invalidArgument` when `k` exceeds the eligible count.
  public func count(eligible: Int) throws -> Int? {
    switch self {
    case .top(let k):
      guard k >= 1, k <= eligible else {
        throw WinnowError.invalid("top k = \(k) is outside 1...\(eligible) (the eligible pool size)")
      }
      return k
    case .fraction(let f): return Selection.count(forFraction: f, of: eligible)
    case .threshold: return nil
    }
  }

  /// The rule as a selection manifest records it.
  var manifestValue: JSONValue {
    switch self {
    case .top(let k): ["kind": "top", "k": .int(Int64(k))]
    case .fraction(let f): ["kind": "fraction", "fraction": .double(f)]
    case .threshold(let t): ["kind": "threshold", "threshold": .double(Double(t))]
    }
  }
}

extension Selection {
  /// The candidates `rule` keeps, best first (descending score, ties by
  /// ascending position in `scores`).
  ///
  /// - Parameters:
  ///   - scores: candidate scores, finite or `-∞` (excluded).
  ///   - poolEligible: the eligible count of the whole pool when `scores`
  ///     hold only part of it — the rows at or above a cut found elsewhere,
  ///     in pool order, as `winnow.ray` collects them — so that a fraction
  ///     and `k`'s bound refer to the pool. Nil: `scores` are the pool.
  /// - Throws: `.invalidArgument` for a bad rule, an empty pool, or
  ///   candidates fewer than the rule's count; `.nonFinite` for NaN or `+∞`.
  /// - Complexity: O(n + s log s) expected, `s` selected.
  public static func select(
    _ scores: UnsafeBufferPointer<Float>, rule: SelectionRule, poolEligible: Int? = nil
  ) throws -> [Int] {
    try rule.validate()
    let eligible = try eligibleCount(scores)
    if let poolEligible, poolEligible < eligible {
      throw WinnowError.invalid(
        "the pool's eligible count \(poolEligible) is below the \(eligible) eligible candidates given")
    }
    switch rule {
    case .threshold(let t): return try atLeast(scores, threshold: t)
    case .top, .fraction:
      let k = try rule.count(eligible: poolEligible ?? eligible) ?? 0
      guard k <= eligible else {
        throw WinnowError.invalid(
          "the rule keeps \(k) rows but only \(eligible) eligible candidates were given: "
            + "the candidates must hold every row at or above the cut")
      }
      return topChecked(scores, k: k)
    }
  }
}
