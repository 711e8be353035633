/// The typed values behind `EngineParameter` keys, with their defaults.
///
/// Swift callers may read it; every change goes through
/// `SelectionEngine.setParameter`, which validates ranges.
public struct EngineConfiguration: Sendable, Equatable {
  public internal(set) var policy: SelectionPolicy = .topFraction
  public internal(set) var selectFraction = 0.05
  public internal(set) var temperature = 1.0
  public internal(set) var explorationFloor = 0.05
  public internal(set) var seed: UInt64 = 0
  public internal(set) var scoreCombination: ScoreCombination = .learningRateWeighted
  public internal(set) var emaDecay = 0.5
  public internal(set) var selectEvery = 1
  public internal(set) var warmupEpochs = 0
  public internal(set) var warmupFraction = 1.0
  public internal(set) var mixtureRule: MixtureRule = .fixed
  public internal(set) var alignmentClip = 1.0
  public internal(set) var alignmentTemperature = 1.0
  public internal(set) var excessLossStepSize = 1.0
  public internal(set) var mixtureSmoothing = 1e-3
  public internal(set) var weighting: WeightingScheme = .automatic
  public internal(set) var weightTemperature = 1.0
  public internal(set) var weightMin = 0.1
  public internal(set) var weightMax = 10.0
  public internal(set) var diversityStepSize = 0.01
  public internal(set) var diversityMethod: GreedyDiversity.Method = .automatic

  /// The value of one key, as a `Double` (the seed exactly only below 2^53).
  public func value(of key: EngineParameter) -> Double {
    switch key {
    case .policy: Double(policy.rawValue)
    case .selectFraction: selectFraction
    case .temperature: temperature
    case .explorationFloor: explorationFloor
    case .seed: Double(seed)
    case .scoreCombination: Double(scoreCombination.rawValue)
    case .emaDecay: emaDecay
    case .selectEvery: Double(selectEvery)
    case .warmupEpochs: Double(warmupEpochs)
    case .warmupFraction: warmupFraction
    case .mixtureRule: Double(mixtureRule.rawValue)
    case .alignmentClip: alignmentClip
    case .alignmentTemperature: alignmentTemperature
    case .excessLossStepSize: excessLossStepSize
    case .mixtureSmoothing: mixtureSmoothing
    case .weighting: Double(weighting.rawValue)
    case .weightTemperature: weightTemperature
    case .weightMin: weightMin
    case .weightMax: weightMax
    case .diversityStepSize: diversityStepSize
    case .diversityMethod: Double(diversityMethod.rawValue)
    }
  }

  /// Sets one key after `key.validate(value)`.
  mutating func set(_ key: EngineParameter, _ value: Double) throws {
    try key.validate(value)
    let i = Int32(clamping: Int64(value))  // exact for the small integer keys
    switch key {
    case .policy: policy = SelectionPolicy(rawValue: i)!
    case .selectFraction: selectFraction = value
    case .temperature: temperature = value
    case .explorationFloor: explorationFloor = value
    case .seed: seed = UInt64(value)
    case .scoreCombination: scoreCombination = ScoreCombination(rawValue: i)!
    case .emaDecay: emaDecay = value
    case .selectEvery: selectEvery = Int(value)
    case .warmupEpochs: warmupEpochs = Int(value)
    case .warmupFraction: warmupFraction = value
    case .mixtureRule: mixtureRule = MixtureRule(rawValue: i)!
    case .alignmentClip: alignmentClip = value
    case .alignmentTemperature: alignmentTemperature = value
    case .excessLossStepSize: excessLossStepSize = value
    case .mixtureSmoothing: mixtureSmoothing = value
    case .weighting: weighting = WeightingScheme(rawValue: i)!
    case .weightTemperature: weightTemperature = value
    case .weightMin: weightMin = value
    case .weightMax: weightMax = value
    case .diversityStepSize: diversityStepSize = value
    case .diversityMethod: diversityMethod = GreedyDiversity.Method(rawValue: i)!
    }
  }

  /// All keys and values in key order, for audit logs.
  var entries: [(String, Double)] { EngineParameter.allCases.map { ($0.name, value(of: $0)) } }
}
