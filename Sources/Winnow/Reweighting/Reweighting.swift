#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// Per-sample training weights for a selection (DESIGN §2.6).
public enum Reweighting {
  /// Self-normalized weights `w_i = clip(c·exp(s_i/τ), w_min, w_max)` with mean 1.
  ///
  /// The scale `c` is the unique value for which the clipped weights have
  /// mean exactly 1 (the mean is continuous and non-decreasing in `c`), found
  /// by bisection on `log c` to machine precision — not by alternating
  /// normalize/clip, which need not converge to mean 1.
  /// - Parameters:
  ///   - scores: `n ≥ 1` finite scores of the selected samples.
  ///   - temperature: `τ > 0`.
  ///   - minimum: `w_min ∈ [0, 1]`; `maximum`: `w_max ≥ 1`.
  /// - Complexity: O(n) per bisection step, about 200 steps.
  public static func selfNormalized(
    _ scores: UnsafeBufferPointer<Float>, temperature: Double, minimum: Double, maximum: Double
  ) throws -> [Float] {
    try Selection.checkFinite(scores)
    guard !scores.isEmpty else { return [] }
    guard temperature > 0, temperature.isFinite else {
      throw WinnowError.invalid("weight temperature \(temperature) must be positive and finite")
    }
    guard minimum >= 0, minimum <= 1, maximum >= 1, maximum.isFinite else {
      throw WinnowError.invalid("weight bounds [\(minimum), \(maximum)] must contain 1")
    }
    let top = Double(scores.max()!)
    // Exponents are clamped at −600: every e_i is then a positive normal
    // double (≥ 2.6e−261), so `w_max / min e` and every `c·e_i` below stay
    // finite; unclamped, extreme scores (±FLT_MAX, τ = 1e−6) give e_i = 0,
    // an infinite bracket and 0·∞ = NaN weights. A sample that far below
    // the best gets w_min unless every other sample is equally far.
    let e = scores.map { Glibc.exp(max(-600, (Double($0) - top) / temperature)) }  // in (0, 1]
    func mean(_ logC: Double) -> Double {
      let c = Glibc.exp(logC)
      return e.reduce(0) { $0 + min(maximum, max(minimum, c * $1)) } / Double(e.count)
    }
    // At c = 1/min(e)·w_max every weight is w_max ≥ 1; at c → 0 all are w_min ≤ 1.
    var lo = Glibc.log(minimum > 0 ? minimum : 1e-300) - 1
    var hi = Glibc.log(maximum / e.min()!) + 1
    for _ in 0..<200 where hi - lo > 1e-14 * max(1, abs(hi)) {
      let mid = 0.5 * (lo + hi)
      if mean(mid) < 1 { lo = mid } else { hi = mid }
    }
    let c = Glibc.exp(0.5 * (lo + hi))
    return e.map { Float(min(maximum, max(minimum, c * $0))) }
  }

  /// Horvitz–Thompson weights `w_i = n / (N·π_i)` for a sample of size `n`.
  ///
  /// With `π_i` the exact inclusion probabilities, `(1/n)·Σ_{i∈S} w_i·x_i` is
  /// an unbiased estimate of the pool mean `(1/N)·Σ_i x_i` (and `Σ_{i∈S} w_i x_i`
  /// of `n` times it). When no item is capped, `π_i = n·p_i` and this is
  /// DESIGN §2.6's `1/(N·p_i)` — weights whose expected mean over a sample is 1.
  /// - Parameters:
  ///   - inclusion: `π_i > 0` of the selected samples (`n` values).
  ///   - poolSize: `N`.
  /// - Complexity: O(n).
  public static func unbiased(inclusion: [Double], poolSize: Int) throws -> [Float] {
    guard poolSize >= inclusion.count else {
      throw WinnowError.invalid("pool size \(poolSize) is below the sample size \(inclusion.count)")
    }
    guard inclusion.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
      throw WinnowError.invalid("inclusion probabilities must lie in (0, 1]")
    }
    let scale = Double(inclusion.count) / Double(poolSize)
    let weights = inclusion.map { Float(scale / $0) }
    if let i = weights.firstIndex(where: { !$0.isFinite }) {
      throw WinnowError.invalid(
        "inclusion probability \(inclusion[i]) is too small: its weight n/(N·π) overflows Float")
    }
    return weights
  }
}
