/// How the engine chooses the samples of a plan (DESIGN §2.4).
public enum SelectionPolicy: Int32, Sendable, CaseIterable {
  /// The best `fraction·N` by score, ties by ascending position (LESS).
  case topFraction = 0
  /// The best of each domain, in proportion to the domain mixture.
  case domainQuota = 1
  /// A random sample with `p ∝` floored softmax of the scores; exact `π`.
  case stochastic = 2
  /// Greedy relevance + diversity (GREATS) over the epoch's features.
  case diversity = 3
}

/// How per-epoch scores are combined across epochs.
public enum ScoreCombination: Int32, Sendable, CaseIterable {
  /// `Σ_e η_e·S_e / Σ_e η_e` over the epochs a sample was fed (LESS over checkpoints).
  case learningRateWeighted = 0
  /// `E ← β·E + (1−β)·S` (the first score seeds `E`).
  case movingAverage = 1
}

/// The per-sample weights a plan carries (DESIGN §2.6).
public enum WeightingScheme: Int32, Sendable, CaseIterable {
  /// `unbiased` for the stochastic policy, `uniform` otherwise.
  case automatic = 0
  /// Every weight is 1.
  case uniform = 1
  /// `∝ exp(s/τ_w)`, clipped to `[w_min, w_max]`, mean 1.
  case selfNormalized = 2
  /// Horvitz–Thompson `n/(N·π_i)`; only for the stochastic policy.
  case unbiased = 3
}

/// A tunable of `SelectionEngine`, set by key so the C ABI can mirror it
/// (`wn_set_param_f64/i64`). Raw values are the C constants and never change.
public enum EngineParameter: Int32, Sendable, CaseIterable {
  /// `SelectionPolicy` raw value, integer in 0...3. Default 0.
  case policy = 1
  /// Fraction of the pool a plan keeps, in (0, 1]. Default 0.05.
  case selectFraction = 2
  /// Softmax temperature `τ` of the stochastic policy, in [1e-6, 1e6]. Default 1.
  case temperature = 3
  /// Exploration floor `ε`: `p ← (1−ε)p + ε/N`, in [0, 1]. Default 0.05.
  case explorationFloor = 4
  /// Seed of every random choice, integer in [0, 2^53] (or any `UInt64` via the `Int64` setter). Default 0.
  case seed = 5
  /// `ScoreCombination` raw value, integer in 0...1. Default 0.
  case scoreCombination = 6
  /// EMA decay `β` in [0, 1). Default 0.5.
  case emaDecay = 7
  /// Re-plan every n epochs (reuse the plan otherwise), integer in [1, 1e6]. Default 1.
  case selectEvery = 8
  /// Number of warm-up epochs, integer in [0, 1e6]. Default 0.
  case warmupEpochs = 9
  /// Fraction of the pool a warm-up plan keeps (a seeded random subset), in (0, 1]. Default 1.
  case warmupFraction = 10
  /// `MixtureRule` raw value, integer in 0...3. Default 0.
  case mixtureRule = 11
  /// Clip `c` of the gradient alignment `W_d`, in (0, 1e6]. Default 1.
  case alignmentClip = 12
  /// Temperature `μ` of the alignment update `log α += W/μ`, in [1e-6, 1e6]. Default 1.
  case alignmentTemperature = 13
  /// DoReMi step size `η`, in [0, 1e6]. Default 1.
  case excessLossStepSize = 14
  /// DoReMi smoothing `ε`: `α ← (1−ε)α + ε/K`, in [0, 1]. Default 1e-3.
  case mixtureSmoothing = 15
  /// `WeightingScheme` raw value, integer in 0...3. Default 0.
  case weighting = 16
  /// Temperature `τ_w` of self-normalized weights, in [1e-6, 1e6]. Default 1.
  case weightTemperature = 17
  /// Lower clip `w_min` of self-normalized weights, in [0, 1]. Default 0.1.
  case weightMin = 18
  /// Upper clip `w_max` of self-normalized weights, in [1, 1e6]. Default 10.
  case weightMax = 19
  /// GREATS step size `η` of the diversity policy (on unit-norm features), in [0, 1e6]. Default 0.01.
  case diversityStepSize = 20
  /// `GreedyDiversity.Method` raw value of the diversity policy, integer in
  /// 0...2: 0 automatic (sequential while `n·N·k ≤ 2³²`, blocked beyond),
  /// 1 sequential (exact), 2 blocked. Default 0.
  case diversityMethod = 21

  /// The accepted values (see `lowerBoundIsOpen`).
  public var range: ClosedRange<Double> {
    switch self {
    case .policy, .mixtureRule, .weighting: 0...3
    case .diversityMethod: 0...2
    case .scoreCombination: 0...1
    case .selectFraction, .warmupFraction, .explorationFloor, .mixtureSmoothing, .weightMin: 0...1
    case .temperature, .alignmentTemperature, .weightTemperature: 1e-6...1e6
    case .seed: 0...0x1p53
    case .emaDecay: 0...(1 - 0x1p-52)
    case .selectEvery: 1...1e6
    case .warmupEpochs: 0...1e6
    case .alignmentClip, .excessLossStepSize, .diversityStepSize: 0...1e6
    case .weightMax: 1...1e6
    }
  }

  /// Whether the lower bound of `range` itself is excluded.
  public var lowerBoundIsOpen: Bool {
    self == .selectFraction || self == .warmupFraction || self == .alignmentClip
  }

  /// Whether only whole numbers are accepted.
  public var isInteger: Bool {
    switch self {
    case .policy, .seed, .scoreCombination, .selectEvery, .warmupEpochs, .mixtureRule, .weighting,
      .diversityMethod:
      true
    default: false
    }
  }

  /// The key's name in audit logs (snake case, as the C constant without `WN_PARAM_`).
  public var name: String {
    switch self {
    case .policy: "policy"
    case .selectFraction: "select_fraction"
    case .temperature: "temperature"
    case .explorationFloor: "exploration_floor"
    case .seed: "seed"
    case .scoreCombination: "score_combination"
    case .emaDecay: "ema_decay"
    case .selectEvery: "select_every"
    case .warmupEpochs: "warmup_epochs"
    case .warmupFraction: "warmup_fraction"
    case .mixtureRule: "mixture_rule"
    case .alignmentClip: "alignment_clip"
    case .alignmentTemperature: "alignment_temperature"
    case .excessLossStepSize: "excess_loss_step_size"
    case .mixtureSmoothing: "mixture_smoothing"
    case .weighting: "weighting"
    case .weightTemperature: "weight_temperature"
    case .weightMin: "weight_min"
    case .weightMax: "weight_max"
    case .diversityStepSize: "diversity_step_size"
    case .diversityMethod: "diversity_method"
    }
  }

  /// Throws `.invalidArgument` unless `value` is accepted for this key.
  public func validate(_ value: Double) throws {
    let r = range
    let inside = value.isFinite && value <= r.upperBound
      && (lowerBoundIsOpen ? value > r.lowerBound : value >= r.lowerBound)
    guard inside, !isInteger || value.rounded() == value else {
      let lo = lowerBoundIsOpen ? "(" : "["
      throw WinnowError.invalid(
        "parameter \(name) = \(value) is outside \(lo)\(r.lowerBound), \(r.upperBound)]"
          + (isInteger ? " or not a whole number" : ""))
    }
  }
}
