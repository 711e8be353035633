#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// Stochastic selection of a fixed number of samples with known inclusion
/// probabilities, so that training on the sample can be reweighted without bias.
///
/// The sampling distribution is the tempered softmax of the scores mixed with
/// the uniform distribution (the exploration floor of DESIGN §2.4):
/// `p_i = (1−ε)·softmax(s/τ)_i + ε/N`. A sample of `n` distinct items is then
/// drawn with inclusion probabilities `π_i = min(1, c·p_i)`, `Σπ_i = n`
/// (fixed-size πps: items too likely to fit are taken with certainty and the
/// rest rescaled). The draw is systematic πps sampling (Madow 1949) over a
/// random order keyed by `(seed, epoch, sample id)`: every `π_i` is met
/// **exactly**, so the Horvitz–Thompson weights below are exactly unbiased.
///
/// This replaces Gumbel-top-k (successive sampling), whose inclusion
/// probabilities have no closed form; for `π_i ≪ 1` the two agree to first
/// order (`π_i ≈ n·p_i`), and both favour the same items.
public enum StochasticSelection {
  /// One draw: the chosen indices and every item's inclusion probability.
  public struct Draw: Sendable, Equatable {
    /// Chosen indices into the pool, ascending.
    public var indices: [Int]
    /// `π_i` for every item of the pool (`N` values, summing to the sample size).
    public var inclusion: [Double]
  }

  /// The floored softmax `p_i = (1−ε)·softmax(s/τ)_i + ε/N`.
  ///
  /// - Parameters:
  ///   - scores: `N ≥ 1` finite scores.
  ///   - temperature: `τ > 0`.
  ///   - floor: `ε ∈ [0, 1]`; with `ε > 0` every `p_i ≥ ε/N > 0`.
  /// - Complexity: O(N).
  public static func probabilities(
    _ scores: UnsafeBufferPointer<Float>, temperature: Double, floor: Double
  ) throws -> [Double] {
    try Selection.checkFinite(scores)
    guard !scores.isEmpty else { throw WinnowError.invalid("the pool is empty") }
    guard temperature > 0, temperature.isFinite else {
      throw WinnowError.invalid("temperature \(temperature) must be positive and finite")
    }
    guard floor >= 0, floor <= 1 else {
      throw WinnowError.invalid("exploration floor \(floor) is outside [0, 1]")
    }
    let n = Double(scores.count)
    let top = Double(scores.max()!)
    // Subtracting the maximum keeps exp in range; Double keeps small p exact.
    var p = scores.map { Glibc.exp((Double($0) - top) / temperature) }
    let z = p.reduce(0, +)
    for i in p.indices { p[i] = (1 - floor) * p[i] / z + floor / n }
    return p
  }

  /// Fixed-size πps inclusion probabilities `π_i = min(1, c·p_i)` with `Σπ_i = n`.
  ///
  /// The capped items are always among the `n` largest `p_i`, so after one
  /// O(N) check the common case is done; otherwise the top `n` are ranked and
  /// the cap count found by one scan of their prefix sums. Items with
  /// `p_i = 0` get `π_i = 0`; if fewer than `n` items have `p_i > 0`, they all
  /// get `π_i = 1` and the sample is smaller than `n`.
  /// - Parameters:
  ///   - p: `N` non-negative weights (need not sum to 1).
  ///   - n: the sample size, `1 ≤ n ≤ N`.
  /// - Complexity: O(N) typically, O(N + n log n) when some items are capped.
  public static func inclusionProbabilities(_ p: [Double], count n: Int) throws -> [Double] {
    guard n >= 1, n <= p.count else {
      throw WinnowError.invalid("sample size \(n) is outside 1...\(p.count)")
    }
    let total = p.reduce(0, +)
    guard total > 0 else { throw WinnowError.invalid("all sampling weights are zero") }
    var c = Double(n) / total
    if p.max()! * c <= 1 { return p.map { $0 * c } }
    // Rank the n largest (Float ranking; the scan below uses the Double values).
    let asFloat = p.map { Float($0) }
    let order = try asFloat.withUnsafeBufferPointer { try Selection.top($0, k: n) }
    var capped = 0, tail = total
    while capped < n, p[order[capped]] > 0 {
      c = Double(n - capped) / tail
      if p[order[capped]] * c < 1 { break }
      tail -= p[order[capped]]
      capped += 1
    }
    if capped == n || tail <= 0 { c = 0 }
    var pi = p.map { min(1, $0 * c) }
    for i in order.prefix(capped) { pi[i] = 1 }
    return pi
  }

  /// Draws one systematic πps sample over a random order keyed by the ids.
  ///
  /// Items are laid end to end, each on an interval of length `π_i`, in the
  /// order of a keyed hash of `(seed, epoch, id)`; a uniform start `u ∈ (0,1)`
  /// and the points `u, u+1, …` pick the items whose interval they hit. Each
  /// item is hit with probability exactly `π_i` (`π_i ≤ 1`), whatever the order.
  /// - Parameters:
  ///   - inclusion: `N` values in `[0, 1]`.
  ///   - ids: `N` sample ids (the hash key, so results do not depend on positions).
  /// - Complexity: O(N log N) for the keyed order (one sort of `N` integers).
  public static func sample(
    inclusion: [Double], ids: UnsafeBufferPointer<Int64>, seed: UInt64, epoch: Int
  ) -> [Int] {
    let order = keyedOrder(ids: ids, seed: seed, stream: .permutation, epoch: epoch)
    let u = CounterRandom.uniform(seed: seed, stream: .systematicStart, epoch: epoch, id: 0)
    var chosen = [Int]()
    chosen.reserveCapacity(Int(inclusion.reduce(0, +).rounded()) + 1)
    var cumulative = 0.0
    for i in order {
      let before = (cumulative - u).rounded(.down)
      cumulative += inclusion[i]
      if (cumulative - u).rounded(.down) > before { chosen.append(i) }
    }
    chosen.sort()
    return chosen
  }

  /// The positions `0..<N` in the order of a keyed hash of `(seed, stream, epoch, id)`.
  ///
  /// The hash fills the high bits of a sort key and the position the low
  /// bits, so keys are distinct and the order is a pure function of the ids.
  /// - Complexity: O(N log N).
  static func keyedOrder(
    ids: UnsafeBufferPointer<Int64>, seed: UInt64, stream: CounterRandom.Stream, epoch: Int
  ) -> [Int] {
    let count = ids.count
    let indexBits = UInt64(max(1, Int.bitWidth - (count - 1).leadingZeroBitCount))
    let indexMask: UInt64 = (1 << indexBits) - 1
    var keys = [UInt64](unsafeUninitializedCapacity: count) { buf, done in
      for i in 0..<count {
        let h = CounterRandom.bits(seed: seed, stream: stream, epoch: epoch, id: ids[i])
        buf[i] = (h & ~indexMask) | UInt64(i)
      }
      done = count
    }
    keys.sort()
    return keys.map { Int($0 & indexMask) }
  }

  /// Samples `n` of the pool with `p ∝` floored softmax and reports `π`.
  ///
  /// - Parameters:
  ///   - scores: `N` finite scores; `ids`: the `N` sample ids (hash keys).
  ///   - n: sample size; `temperature` `τ > 0`; `floor` `ε ∈ [0, 1]`.
  /// - Complexity: O(N log N).
  public static func draw(
    scores: UnsafeBufferPointer<Float>, ids: UnsafeBufferPointer<Int64>, count n: Int,
    temperature: Double, floor: Double, seed: UInt64, epoch: Int
  ) throws -> Draw {
    guard ids.count == scores.count else {
      throw WinnowError.shape("\(ids.count) ids for \(scores.count) scores")
    }
    let p = try probabilities(scores, temperature: temperature, floor: floor)
    let pi = try inclusionProbabilities(p, count: n)
    return Draw(indices: sample(inclusion: pi, ids: ids, seed: seed, epoch: epoch), inclusion: pi)
  }
}
