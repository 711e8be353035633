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
///
/// Names, bounds, flags and defaults are in one table, `entry`
/// (`EngineParameter+Table.swift`); the C ABI (`wn_param_name`,
/// `wn_param_bounds`, `wn_param_default`) and the Python binding read it
/// from there.
public enum EngineParameter: Int32, Sendable, CaseIterable {
  /// `SelectionPolicy` raw value.
  case policy = 1
  /// Fraction of the pool a plan keeps.
  case selectFraction = 2
  /// Softmax temperature `τ` of the stochastic policy.
  case temperature = 3
  /// Exploration floor `ε`: `p ← (1−ε)p + ε/N`.
  case explorationFloor = 4
  /// Seed of every random choice: any `UInt64` (see `SelectionEngine.setSeed`).
  case seed = 5
  /// `ScoreCombination` raw value.
  case scoreCombination = 6
  /// EMA decay `β`.
  case emaDecay = 7
  /// Re-plan every n epochs (reuse the plan otherwise).
  case selectEvery = 8
  /// Number of warm-up epochs.
  case warmupEpochs = 9
  /// Fraction of the pool a warm-up plan keeps (a seeded random subset).
  case warmupFraction = 10
  /// `MixtureRule` raw value.
  case mixtureRule = 11
  /// Clip `c` of the gradient alignment `W_d`.
  case alignmentClip = 12
  /// Temperature `μ` of the alignment update `log α += W/μ`.
  case alignmentTemperature = 13
  /// DoReMi step size `η`.
  case excessLossStepSize = 14
  /// DoReMi smoothing `ε`: `α ← (1−ε)α + ε/K`.
  case mixtureSmoothing = 15
  /// `WeightingScheme` raw value.
  case weighting = 16
  /// Temperature `τ_w` of self-normalized weights.
  case weightTemperature = 17
  /// Lower clip `w_min` of self-normalized weights.
  case weightMin = 18
  /// Upper clip `w_max` of self-normalized weights.
  case weightMax = 19
  /// GREATS step size `η` of the diversity policy (on unit-norm features).
  case diversityStepSize = 20
  /// `GreedyDiversity.Method` raw value of the diversity policy: 0 automatic
  /// (sequential while `n·N·k ≤ 2³²`, blocked beyond), 1 sequential (exact),
  /// 2 blocked.
  case diversityMethod = 21

  /// The accepted values (see `lowerBoundIsOpen`).
  public var range: ClosedRange<Double> { entry.range }

  /// Whether the lower bound of `range` itself is excluded.
  public var lowerBoundIsOpen: Bool { entry.lowerBoundIsOpen }

  /// Whether only whole numbers are accepted.
  public var isInteger: Bool { entry.isInteger }

  /// The key's name in audit logs (snake case, as the C constant without `WN_PARAM_`).
  public var name: String { entry.name }

  /// The value a new engine starts with.
  public var defaultValue: Double { entry.defaultValue }

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
