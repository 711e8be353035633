#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// How the engine updates the domain mixture `α` (K domains) after each epoch.
public enum MixtureRule: Int32, Sendable, CaseIterable {
  /// `α` stays at its initial value.
  case fixed = 0
  /// Gradient alignment of domain and target feature means (DoGE style).
  case gradientAlignment = 1
  /// Excess loss over a reference model (DoReMi).
  case excessLoss = 2
  /// EXP3 bandit on training losses (ODM).
  case bandit = 3
}

enum Softmax {
  /// `exp(x_i − max x) / Σ_j exp(x_j − max x)`, NaN-free for any input
  /// without NaN: after subtracting the maximum every term lies in `[0, 1]`
  /// and the largest is 1, so the sum lies in `[1, K]`. Infinite inputs take
  /// their limits: the `+∞` entries share the whole mass; all `−∞` is uniform.
  static func of(_ x: [Double]) -> [Double] {
    guard let top = x.max() else { return [] }
    if top == .infinity {
      let n = Double(x.lazy.filter { $0 == .infinity }.count)
      return x.map { $0 == .infinity ? 1 / n : 0 }
    }
    if top == -.infinity { return [Double](repeating: 1 / Double(x.count), count: x.count) }
    let e = x.map { Glibc.exp($0 - top) }
    let z = e.reduce(0, +)
    return e.map { $0 / z }
  }

  /// The bound on the magnitude of any log-weight update (and the floor of
  /// a log weight): far beyond `log(Double.leastNonzeroMagnitude) ≈ −745`, so
  /// a clamped weight is exactly as 0 as the unclamped one, yet sums of two
  /// such values stay finite and `∞ − ∞` (NaN) cannot arise.
  static let logBound = 1e300

  /// `x` clamped to `[−logBound, logBound]`.
  static func clampLog(_ x: Double) -> Double { min(logBound, max(-logBound, x)) }

  /// `w / Σ w` for positive finite weights, scaled by the largest first so
  /// that the sum cannot overflow (`{DBL_MAX, DBL_MAX}` is `{½, ½}`).
  static func normalized(_ w: [Double]) -> [Double] {
    guard let top = w.max(), top > 0 else { return w }
    let scaled = w.map { $0 / top }  // in (0, 1], the largest exactly 1
    let total = scaled.reduce(0, +)  // in [1, K]
    return scaled.map { $0 / total }
  }
}

/// Gradient-alignment mixture from projected features, after DoGE
/// (Fan et al. 2024, "DoGE: Domain Reweighting with Generalization Estimation").
///
/// `W_d = clip(⟨mean φ over domain d, mean φ over the target⟩, −c, c)`,
/// `log α ← log α + W/μ`, `α = softmax(log α)`. A domain with no samples in
/// the epoch has `W_d = 0`. Using projected features instead of gradients
/// costs no extra backward pass (inner products are preserved by JL).
public struct GradientAlignmentMixture: Sendable, Equatable {
  /// `log α` (up to a constant).
  public private(set) var logWeights: [Double]
  /// The current mixture `α = softmax(log α)`.
  public var mixture: [Double] { Softmax.of(logWeights) }

  /// Starts from `initial` (K positive weights).
  public init(initial: [Double]) { logWeights = initial.map { Softmax.clampLog(Glibc.log($0)) } }

  /// Applies one update.
  /// - Parameters:
  ///   - alignment: `K` raw alignments `⟨mean φ_d, mean φ_target⟩`, `nil` for absent domains.
  ///   - clip: `c > 0`; `mu`: the temperature `μ > 0`.
  /// - Complexity: O(K).
  public mutating func update(alignment: [Double?], clip: Double, mu: Double) {
    for d in logWeights.indices {
      guard let w = alignment[d] else { continue }
      // A tiny μ can make c/μ overflow: bound the step (it is one anyway).
      logWeights[d] += Softmax.clampLog(min(clip, max(-clip, w)) / mu)
    }
    // Re-centre so log α stays bounded over long runs (softmax is unchanged),
    // and floor it: both keep every later sum and difference finite.
    let top = logWeights.max() ?? 0
    logWeights = logWeights.map { Softmax.clampLog($0 - top) }
  }
}

/// Excess-loss mixture, DoReMi (Xie et al. 2023, "DoReMi: Optimizing Data
/// Mixtures Speeds Up Language Model Pretraining").
///
/// `λ_d = mean over domain d of max(ℓ − ℓ_ref, 0)`; `log α ← log α + η·λ`;
/// `α ← (1−ε)·softmax(log α) + ε/K`, and the next update starts from that
/// smoothed `α` (as DoReMi's Algorithm 1). A domain with no losses in the epoch
/// keeps its last `λ` (0 before its first). `average` is the time average of
/// the `α` produced so far — DoReMi's output mixture.
public struct ExcessLossMixture: Sendable, Equatable {
  /// The current (smoothed) mixture.
  public private(set) var mixture: [Double]
  /// The last excess loss of each domain.
  public private(set) var excess: [Double]
  /// The average of the mixtures produced by `update` (the initial one if none).
  public var average: [Double] { updates == 0 ? mixture : sum.map { $0 / Double(updates) } }
  /// `log α`, kept so that without smoothing a weight that underflows to 0
  /// in linear space can still come back (the update is additive in logs).
  private var logMixture: [Double]
  private var sum: [Double]
  private var updates = 0

  /// Starts from `initial` (K positive weights summing to 1).
  public init(initial: [Double]) {
    mixture = initial
    logMixture = initial.map { Softmax.clampLog(Glibc.log($0)) }
    excess = [Double](repeating: 0, count: initial.count)
    sum = [Double](repeating: 0, count: initial.count)
  }

  /// Applies one update.
  /// - Parameters:
  ///   - excess: `K` values of `λ_d` for domains seen this epoch, `nil` otherwise.
  ///   - stepSize: `η > 0`; `smoothing`: `ε ∈ [0, 1]`.
  /// - Complexity: O(K).
  public mutating func update(excess observed: [Double?], stepSize: Double, smoothing: Double) {
    for d in excess.indices { if let l = observed[d] { excess[d] = l } }
    let k = Double(mixture.count)
    // Both terms are clamped to ±1e300, so the logits are finite.
    let logits = logMixture.indices.map {
      logMixture[$0] + Softmax.clampLog(stepSize * excess[$0])
    }
    if smoothing == 0 {
      // Normalize in log space: log α = logits − log Σ exp(logits).
      let top = logits.max() ?? 0
      let lse = top + Glibc.log(logits.reduce(0) { $0 + Glibc.exp($1 - top) })  // Σ ∈ [1, K]
      logMixture = logits.map { Softmax.clampLog($0 - lse) }
      mixture = Softmax.of(logMixture)
    } else {
      mixture = Softmax.of(logits).map { (1 - smoothing) * $0 + smoothing / k }
      logMixture = mixture.map { Softmax.clampLog(Glibc.log($0)) }
    }
    for d in sum.indices { sum[d] += mixture[d] }
    updates += 1
  }
}

/// EXP3 mixture on training losses, ODM (Albalak et al. 2023, "Efficient
/// Online Data Mixing For Language Model Pre-Training").
///
/// After update `t` (1-based) with rewards `r_d` (the epoch's mean training
/// loss of each domain seen): `R̂_d += r_d/π_d` with `π` the policy the epoch
/// ran under, then `π_d = (1 − K·ε_{t+1})·softmax(ε_t·R̂)_d + ε_{t+1}` with
/// `ε_t = min(1/K, √(ln K/(K·t)))`. Every domain seen in an epoch counts as
/// pulled (the epoch observes all of them, where ODM observes one per step).
public struct Exp3Mixture: Sendable, Equatable {
  /// The current policy `π`.
  public private(set) var mixture: [Double]
  /// The importance-weighted cumulative rewards `R̂`.
  public private(set) var rewards: [Double]
  /// How many updates have been applied.
  public private(set) var step = 0

  /// Starts from the uniform policy with `R̂ = 0`.
  public init(domainCount k: Int) {
    mixture = [Double](repeating: 1 / Double(k), count: k)
    rewards = [Double](repeating: 0, count: k)
  }

  /// ODM's exploration rate `ε_t`.
  public static func exploration(step t: Int, domainCount k: Int) -> Double {
    let kd = Double(k)
    return min(1 / kd, (Glibc.log(kd) / (kd * Double(t))).squareRoot())
  }

  /// Applies one update with `K` rewards, `nil` for domains not seen.
  /// - Complexity: O(K).
  public mutating func update(rewards observed: [Double?]) {
    // π_d ≥ ε_t > 0 (K ≥ 2) and |r| ≤ FLT_MAX keep each term finite; the
    // clamp keeps the running sum finite however long the run.
    for d in rewards.indices {
      if let r = observed[d] { rewards[d] = Softmax.clampLog(rewards[d] + r / mixture[d]) }
    }
    step += 1
    let k = mixture.count
    let now = Self.exploration(step: step, domainCount: k)
    let next = Self.exploration(step: step + 1, domainCount: k)
    let soft = Softmax.of(rewards.map { now * $0 })
    mixture = soft.map { (1 - Double(k) * next) * $0 + next }
  }
}
