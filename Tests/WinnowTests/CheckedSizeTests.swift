import Testing
@testable import Winnow

/// `CheckedSize`: overflow and feasibility become errors, never traps, and
/// the Swift API refuses what the machine cannot hold before allocating.
@Suite struct CheckedSizeTests {
  func code(_ body: () throws -> Void) -> WinnowError.Code? {
    do { try body() } catch let e as WinnowError { return e.code } catch { return .internal }
    return nil
  }

  @Test func productsSumsAndBytesReportOverflowAndNegatives() throws {
    #expect(try CheckedSize.product([3, 5, 7], "x") == 105)
    #expect(try CheckedSize.product([], "x") == 1)
    #expect(try CheckedSize.product([1 << 62, 1 << 62, 0], "x") == 0)  // no elements, no bytes
    #expect(code { _ = try CheckedSize.product([1 << 32, 1 << 31], "x") } == .outOfMemory)
    #expect(code { _ = try CheckedSize.product([4, -1], "x") } == .invalidArgument)
    #expect(try CheckedSize.sum([.max - 1, 1], "x") == .max)
    #expect(code { _ = try CheckedSize.sum([.max, 1], "x") } == .outOfMemory)
    #expect(try CheckedSize.bytes([1 << 20], elementSize: 4, "x") == 1 << 22)
    #expect(code { _ = try CheckedSize.bytes([1 << 62], elementSize: 4, "x") } == .outOfMemory)
  }

  @Test func allocationsBeyondTheMachineAreRefusedWithTheLimitInTheMessage() throws {
    let (limit, source) = CheckedSize.limit
    #expect(limit > 1 << 20 && !source.isEmpty)
    #expect(try CheckedSize.allocatable([1 << 10, 1 << 10], elementSize: 4, "a small block") == 1 << 20)
    do {
      _ = try CheckedSize.allocatable([1 << 40, 1 << 10], elementSize: 4, "a 4 PiB block")
      Issue.record("4 PiB was accepted")
    } catch let e as WinnowError {
      #expect(e.code == .outOfMemory)
      #expect(e.message.contains("a 4 PiB block") && e.message.contains("4.0 PiB") && e.message.contains(source))
    }
  }

  @Test func enginesProjectorsAndBatchesTooLargeForTheMachineAreStatuses() throws {
    let ids: [Int64] = [1, 2, 3]
    #expect(code { _ = try SelectionEngine(ids: ids, featureDim: 1 << 62) } == .outOfMemory)
    #expect(code { _ = try SelectionEngine(ids: ids, featureDim: 1 << 40) } == .outOfMemory)
    #expect(code { _ = try DenseProjector(inputDim: 8, outputDim: 1 << 62) } == .outOfMemory)
    #expect(code { _ = try DenseProjector(inputDim: 1 << 40, outputDim: 8, memoryBudget: 1 << 50) } == .outOfMemory)
    let huge = LinearLayerSpec(id: 1, inputDim: 1, outputDim: 1, inputRank: 1 << 20, outputRank: 1 << 20)
    #expect(code { _ = try FactoredProjector(layers: [huge], seed: 1) } == .outOfMemory)

    // More candidates than the pool is refused before `ids` is read.
    let e = try SelectionEngine(ids: ids, featureDim: 2)
    try e.beginEpoch(0)
    let one: [Int64] = [1]
    #expect(code {
      try one.withUnsafeBufferPointer {
        try e.addCandidates(ids: $0.baseAddress!, count: 1 << 40, features: nil, dim: 2)
      }
    } == .invalidArgument)
    // The diversity policy's N × k features are checked when an epoch opens.
    let wide = try SelectionEngine(ids: Array(0..<(1 << 16)), featureDim: 1 << 24)  // 4 TiB
    try wide.setParameter(.policy, 3)
    #expect(code { try wide.beginEpoch(0) } == .outOfMemory)
  }
}
