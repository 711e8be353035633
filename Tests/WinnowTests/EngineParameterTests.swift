import Testing
@testable import Winnow

/// The parameter table (`EngineParameter+Table.swift`): the one home of the
/// engine's keys, names, bounds, flags and defaults.
@Suite struct EngineParameterTests {
  func code(_ body: () throws -> Void) -> WinnowError.Code? {
    do { try body() } catch let e as WinnowError { return e.code } catch { return nil }
    return nil
  }

  @Test func keysRunFromOneWithoutGapsAndNamesAreUniqueSnakeCase() {
    let keys = EngineParameter.allCases.map(\.rawValue)
    #expect(keys == Array(1...Int32(keys.count)))
    let names = EngineParameter.allCases.map(\.name)
    #expect(Set(names).count == names.count)
    #expect(names.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" } })
  }

  @Test func aNewConfigurationHoldsEveryDefaultAndEveryDefaultIsAccepted() throws {
    let c = EngineConfiguration()
    for key in EngineParameter.allCases {
      try key.validate(key.defaultValue)
      #expect(c.value(of: key) == key.defaultValue, "\(key.name)")
    }
    #expect(c.policy == .topFraction && c.selectFraction == 0.05 && c.weightMax == 10)
    #expect(c.mixtureSmoothing == 1e-3 && c.diversityMethod == .automatic && c.seed == 0)
  }

  @Test func everyKeyRoundTripsItsBoundsAndRefusesValuesJustOutside() throws {
    for key in EngineParameter.allCases {
      var c = EngineConfiguration()
      let r = key.range
      try c.set(key, r.upperBound)
      #expect(c.value(of: key) == r.upperBound, "\(key.name)")
      #expect(code { try c.set(key, r.upperBound.nextUp) } == .invalidArgument, "\(key.name)")
      let below = key.lowerBoundIsOpen ? r.lowerBound : r.lowerBound.nextDown
      #expect(code { try c.set(key, below) } == .invalidArgument, "\(key.name)")
      #expect(code { try c.set(key, .nan) } == .invalidArgument, "\(key.name)")
    }
  }

  @Test func theSeedHasOneRangeEveryUInt64ThroughEitherSetter() throws {
    let e = try SelectionEngine(ids: [1, 2], featureDim: 2)
    try e.setSeed(.max)
    #expect(e.configuration.seed == .max)
    try e.setIntegerParameter(.seed, -2)
    #expect(e.configuration.seed == UInt64.max - 1)
    try e.setParameter(.seed, 0x1.fffffffffffffp63)
    #expect(e.configuration.seed == 0xFFFF_FFFF_FFFF_F800)
    try e.setParameter(.seed, 0x1p53 + 2)
    #expect(e.configuration.seed == (1 << 53) + 2)
    #expect(code { try e.setParameter(.seed, 0x1p64) } == .invalidArgument)
    #expect(code { try e.setParameter(.seed, -1) } == .invalidArgument)
    #expect(code { try e.setParameter(.seed, 0.5) } == .invalidArgument)
  }
}
