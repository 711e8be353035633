/// The typed values behind `EngineParameter` keys.
///
/// Swift callers may read it; every change goes through
/// `SelectionEngine.setParameter`, which validates ranges. The values written
/// below are placeholders: `init()` starts every field at its key's default
/// from the parameter table (`EngineParameter+Table.swift`).
public struct EngineConfiguration: Sendable, Equatable {
  public internal(set) var policy: SelectionPolicy = .topFraction
  public internal(set) var selectFraction = 0.0
  public internal(set) var temperature = 0.0
  public internal(set) var explorationFloor = 0.0
  public internal(set) var seed: UInt64 = 0
  public internal(set) var scoreCombination: ScoreCombination = .learningRateWeighted
  public internal(set) var emaDecay = 0.0
  public internal(set) var selectEvery = 0
  public internal(set) var warmupEpochs = 0
  public internal(set) var warmupFraction = 0.0
  public internal(set) var mixtureRule: MixtureRule = .fixed
  public internal(set) var alignmentClip = 0.0
  public internal(set) var alignmentTemperature = 0.0
  public internal(set) var excessLossStepSize = 0.0
  public internal(set) var mixtureSmoothing = 0.0
  public internal(set) var weighting: WeightingScheme = .automatic
  public internal(set) var weightTemperature = 0.0
  public internal(set) var weightMin = 0.0
  public internal(set) var weightMax = 0.0
  public internal(set) var diversityStepSize = 0.0
  public internal(set) var diversityMethod: GreedyDiversity.Method = .automatic

  /// Every key at its default.
  init() {
    for key in EngineParameter.allCases { key.entry.write(&self, key.entry.defaultValue) }
  }

  /// The value of one key, as a `Double` (the seed exactly only below 2^53).
  public func value(of key: EngineParameter) -> Double { key.entry.read(self) }

  /// Sets one key after `key.validate(value)`.
  mutating func set(_ key: EngineParameter, _ value: Double) throws {
    try key.validate(value)
    key.entry.write(&self, value)
  }

  /// All keys and values in key order, for audit logs.
  var entries: [(String, Double)] { EngineParameter.allCases.map { ($0.name, value(of: $0)) } }
}
