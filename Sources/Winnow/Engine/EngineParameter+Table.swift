/// The engine's parameter table: the one place where a key's name, bounds,
/// flags, default and field are written. `EngineConfiguration` reads and
/// writes its fields through it; the C ABI (`wn_param_name`,
/// `wn_param_bounds`, `wn_param_default`) and the Python binding
/// (`engine.py`, built at import from those functions) read it too.
extension EngineParameter {
  /// One row of the table.
  struct Entry {
    /// Snake case, as the C constant without `WN_PARAM_`.
    let name: String
    /// The accepted values; see `lowerBoundIsOpen`.
    let range: ClosedRange<Double>
    /// Whether `range.lowerBound` itself is excluded.
    let lowerBoundIsOpen: Bool
    /// Whether only whole numbers are accepted.
    let isInteger: Bool
    /// The value a new `EngineConfiguration` starts with (inside `range`).
    let defaultValue: Double
    /// The key's field as a `Double`.
    let read: (EngineConfiguration) -> Double
    /// Stores a value already checked against `range` into the key's field.
    let write: (inout EngineConfiguration, Double) -> Void
  }

  /// The row of this key.
  var entry: Entry {
    switch self {
    case .policy: .choice("policy", \.policy, default: .topFraction)
    case .selectFraction: .real("select_fraction", 0...1, open: true, \.selectFraction, default: 0.05)
    case .temperature: .real("temperature", 1e-6...1e6, \.temperature, default: 1)
    case .explorationFloor: .real("exploration_floor", 0...1, \.explorationFloor, default: 0.05)
    case .seed: .seed
    case .scoreCombination:
      .choice("score_combination", \.scoreCombination, default: .learningRateWeighted)
    // [0, 1): the largest double below 1 closes the range.
    case .emaDecay: .real("ema_decay", 0...(1 - 0x1p-52), \.emaDecay, default: 0.5)
    case .selectEvery: .whole("select_every", 1...1e6, \.selectEvery, default: 1)
    case .warmupEpochs: .whole("warmup_epochs", 0...1e6, \.warmupEpochs, default: 0)
    case .warmupFraction: .real("warmup_fraction", 0...1, open: true, \.warmupFraction, default: 1)
    case .mixtureRule: .choice("mixture_rule", \.mixtureRule, default: .fixed)
    case .alignmentClip: .real("alignment_clip", 0...1e6, open: true, \.alignmentClip, default: 1)
    case .alignmentTemperature:
      .real("alignment_temperature", 1e-6...1e6, \.alignmentTemperature, default: 1)
    case .excessLossStepSize: .real("excess_loss_step_size", 0...1e6, \.excessLossStepSize, default: 1)
    case .mixtureSmoothing: .real("mixture_smoothing", 0...1, \.mixtureSmoothing, default: 1e-3)
    case .weighting: .choice("weighting", \.weighting, default: .automatic)
    case .weightTemperature: .real("weight_temperature", 1e-6...1e6, \.weightTemperature, default: 1)
    case .weightMin: .real("weight_min", 0...1, \.weightMin, default: 0.1)
    case .weightMax: .real("weight_max", 1...1e6, \.weightMax, default: 10)
    case .diversityStepSize: .real("diversity_step_size", 0...1e6, \.diversityStepSize, default: 0.01)
    case .diversityMethod: .choice("diversity_method", \.diversityMethod, default: .automatic)
    }
  }
}

extension EngineParameter.Entry {
  typealias Field<T> = WritableKeyPath<EngineConfiguration, T>

  /// A real-valued key.
  static func real(
    _ name: String, _ range: ClosedRange<Double>, open: Bool = false, _ field: Field<Double>,
    default value: Double
  ) -> Self {
    Self(
      name: name, range: range, lowerBoundIsOpen: open, isInteger: false, defaultValue: value,
      read: { $0[keyPath: field] }, write: { $0[keyPath: field] = $1 })
  }

  /// A whole-number key (exact: the bounds are far below 2^53).
  static func whole(
    _ name: String, _ range: ClosedRange<Double>, _ field: Field<Int>, default value: Int
  ) -> Self {
    Self(
      name: name, range: range, lowerBoundIsOpen: false, isInteger: true,
      defaultValue: Double(value), read: { Double($0[keyPath: field]) },
      write: { $0[keyPath: field] = Int($1) })
  }

  /// A key whose values are the raw values of an enumeration; the bounds are
  /// its smallest and largest raw values (which have no gaps).
  static func choice<E: RawRepresentable<Int32> & CaseIterable>(
    _ name: String, _ field: Field<E>, default value: E
  ) -> Self {
    let raws = E.allCases.map { Double($0.rawValue) }
    return Self(
      name: name, range: (raws.min() ?? 0)...(raws.max() ?? 0), lowerBoundIsOpen: false,
      isInteger: true, defaultValue: Double(value.rawValue),
      read: { Double($0[keyPath: field].rawValue) },
      write: { config, v in
        if let choice = E(rawValue: Int32(v)) { config[keyPath: field] = choice }
      })
  }

  /// The seed: one range, every `UInt64`. As a double, every whole number up
  /// to the largest double below 2^64 (each is an exact `UInt64`); the
  /// `Int64` setter reaches the rest by bit pattern (`SelectionEngine.setSeed`).
  static var seed: Self {
    Self(
      name: "seed", range: 0...0x1.fffffffffffffp63, lowerBoundIsOpen: false, isInteger: true,
      defaultValue: 0, read: { Double($0.seed) }, write: { $0.seed = UInt64($1) })
  }
}
