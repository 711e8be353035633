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
  /// `exp(x_i − max x) / Σ_j exp(x_j − max x)`.
  static func of(_ x: [Double]) -> [Double] {
    guard let top = x.max() else { return [] }
    let e = x.map { Glibc.exp($0 - top) }
    let z = e.reduce(0, +)
    return e.map { $0 / z }
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
  public init(initial: [Double]) { logWeights = initial.map { Glibc.log($0) } }

  /// Applies one update.
  /// - Parameters:
  ///   - alignment: `K` raw alignments `⟨mean φ_d, mean φ_target⟩`, `nil` for absent domains.
  ///   - clip: `c > 0`; `mu`: the temperature `μ > 0`.
  /// - Complexity: O(K).
  public mutating func update(alignment: [Double?], clip: Double, mu: Double) {
    for d in logWeights.indices {
      guard let w = alignment[d] else { continue }
      logWeights[d] += min(clip, max(-clip, w)) / mu
    }
    // Re-centre so log α stays bounded over long runs (softmax is unchanged).
    let top = logWeights.max() ?? 0
    logWeights = logWeights.map { $0 - top }
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
  private var sum: [Double]
  private var updates = 0

  /// Starts from `initial` (K positive weights summing to 1).
  public init(initial: [Double]) {
    mixture = initial
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
    let logits = mixture.indices.map { Glibc.log(mixture[$0]) + stepSize * excess[$0] }
    mixture = Softmax.of(logits).map { (1 - smoothing) * $0 + smoothing / k }
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
    for d in rewards.indices { if let r = observed[d] { rewards[d] += r / mixture[d] } }
    step += 1
    let k = mixture.count
    let now = Self.exploration(step: step, domainCount: k)
    let next = Self.exploration(step: step + 1, domainCount: k)
    let soft = Softmax.of(rewards.map { now * $0 })
    mixture = soft.map { (1 - Double(k) * next) * $0 + next }
  }
}
