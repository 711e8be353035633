import Testing
@testable import Winnow

@Suite struct SelectionTests {
  /// Reference: full sort by (score desc, index asc).
  func reference(_ s: [Float], _ k: Int) -> [Int] {
    Array(s.indices.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }.prefix(k))
  }

  @Test func topKMatchesAFullSortWithTiesByAscendingIndex() throws {
    var rng = SystemRandomNumberGenerator()
    for n in [1, 2, 7, 100, 1000] {
      // Few distinct values force many ties at the cut.
      let s = (0..<n).map { _ in Float(Int.random(in: 0..<5, using: &rng)) }
      for k in Set([1, n / 3 + 1, n / 2 + 1, n]) {
        let got = try s.withUnsafeBufferPointer { try Selection.top($0, k: k) }
        #expect(got == reference(s, k), "n=\(n) k=\(k)")
      }
    }
  }

  @Test func fractionRoundsToNearestAndKeepsAtLeastOne() throws {
    #expect(Selection.count(forFraction: 0.05, of: 100) == 5)
    #expect(Selection.count(forFraction: 0.07, of: 100) == 7)
    #expect(Selection.count(forFraction: 0.001, of: 10) == 1)
    #expect(Selection.count(forFraction: 1, of: 10) == 10)
  }

  @Test func thresholdKeepsScoresAtOrAboveItBestFirst() throws {
    let s: [Float] = [0.1, 0.5, 0.5, -1, 0.7]
    let got = try s.withUnsafeBufferPointer { try Selection.atLeast($0, threshold: 0.5) }
    #expect(got == [4, 1, 2])
  }

  @Test func badRequestsAreClearErrors() throws {
    let s: [Float] = [1, 2, 3]
    s.withUnsafeBufferPointer { p in
      #expect(throws: WinnowError.self) { try Selection.top(p, k: 4) }
      #expect(throws: WinnowError.self) { try Selection.top(p, k: 0) }
      #expect(throws: WinnowError.self) { try Selection.top(p, fraction: 0) }
      #expect(throws: WinnowError.self) { try Selection.top(p, fraction: 1.5) }
    }
    let empty: [Float] = []
    empty.withUnsafeBufferPointer { p in
      #expect(throws: WinnowError.self) { try Selection.top(p, k: 1) }
    }
    let nan: [Float] = [1, .nan]
    nan.withUnsafeBufferPointer { p in
      #expect(throws: WinnowError.self) { try Selection.top(p, k: 1) }
    }
  }
}

@Suite struct SelectionExclusionTests {
  @Test func minusInfinityIsExcludedAndKCountsEligibleRows() throws {
    let s: [Float] = [0.3, -.infinity, 0.9, -.infinity, 0.1]
    try s.withUnsafeBufferPointer { p throws in
      #expect(try Selection.top(p, k: 3) == [2, 0, 4])
      #expect(throws: WinnowError.self) { try Selection.top(p, k: 4) }
      // 50 % of the 3 eligible rows, rounded: 2.
      #expect(try Selection.top(p, fraction: 0.5) == [2, 0])
      #expect(try Selection.top(p, fraction: 1) == [2, 0, 4])
      #expect(try Selection.atLeast(p, threshold: -1e30) == [2, 0, 4])
    }
  }

  @Test func allExcludedOrPlusInfinityAreErrors() throws {
    let excluded: [Float] = [-.infinity, -.infinity]
    excluded.withUnsafeBufferPointer { p in
      #expect(throws: WinnowError.self) { try Selection.top(p, k: 1) }
    }
    let plus: [Float] = [1, .infinity]
    plus.withUnsafeBufferPointer { p in
      #expect(throws: WinnowError.self) { try Selection.top(p, k: 1) }
      #expect(throws: WinnowError.self) { try Selection.atLeast(p, threshold: 0) }
    }
  }
}
