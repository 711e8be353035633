import Testing

@testable import Winnow

@Suite struct ScorerErrorTests {
  func fixture(n: Int = 20) -> ScoringFixture {
    ScoringFixture(n: n, m: 3, dims: [8], weights: [1], groups: nil, seed: 2)
  }

  func expectError(
    _ code: WinnowError.Code, mentioning text: String, _ body: () throws -> Void,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    do {
      try body()
      Issue.record("expected \(code)", sourceLocation: sourceLocation)
    } catch let error as WinnowError {
      #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
      #expect(error.message.contains(text), "\(error)", sourceLocation: sourceLocation)
    } catch {
      Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
  }

  @Test func trainAndTargetDimensionsMustAgree() {
    let f = fixture()
    var rng = SeededRNG(seed: 1)
    let cp = ScoringCheckpoint(train: f.trains[0], target: Matrix.random(3, 9, &rng))
    expectError(.shapeMismatch, mentioning: "k = 8") { _ = try Scorer().score([cp]) }
  }

  @Test func checkpointsMustShareThePool() {
    let f = fixture()
    var rng = SeededRNG(seed: 1)
    let other = ScoringCheckpoint(train: Matrix.random(19, 8, &rng), target: f.targets[0])
    expectError(.shapeMismatch, mentioning: "19 rows") {
      _ = try Scorer().score(f.checkpoints + [other])
    }
  }

  @Test func emptyPoolAndNoTargetsAreErrors() {
    let f = fixture()
    let empty = ScoringCheckpoint(train: Matrix(rows: 0, cols: 8), target: f.targets[0])
    expectError(.invalidArgument, mentioning: "empty") { _ = try Scorer().score([empty]) }
    let noTargets = ScoringCheckpoint(train: f.trains[0], target: Matrix(rows: 0, cols: 8))
    expectError(.invalidArgument, mentioning: "no rows") { _ = try Scorer().score([noTargets]) }
    expectError(.invalidArgument, mentioning: "no checkpoints") { _ = try Scorer().score([]) }
  }

  @Test(arguments: [[-1.0, 2], [0, 0], [.nan, 1], [.infinity, 1]])
  func badWeightsAreErrors(_ weights: [Double]) {
    let f = ScoringFixture(n: 5, m: 2, dims: [4, 4], weights: weights, groups: nil, seed: 1)
    expectError(.invalidArgument, mentioning: "weight") { _ = try Scorer().score(f.checkpoints) }
  }

  @Test(arguments: [Float(0), -1, .nan, .infinity])
  func badDampingIsAnError(_ damping: Float) {
    expectError(.invalidArgument, mentioning: "damping") {
      _ = try Scorer(measure: .influence, damping: damping).score(fixture().checkpoints)
    }
  }

  @Test func groupLabelsMustCoverEveryTargetRow() {
    expectError(.shapeMismatch, mentioning: "group labels") {
      _ = try Scorer().score(fixture().checkpoints, targetGroups: [0, 1])
    }
  }

  @Test func aCapTooSmallForOneRowIsAnError() {
    expectError(.outOfMemory, mentioning: "memory cap") {
      _ = try Scorer(measure: .influence, memoryCap: 300).score(fixture().checkpoints)
    }
  }

  @Test(arguments: ScoreMeasure.allCases)
  func nonFiniteTrainRowsFailNamingTheRowAndSource(_ measure: ScoreMeasure) {
    var f = fixture()
    f.trains[0][13, 4] = .nan
    expectError(.nonFinite, mentioning: "row 13 of in-memory matrix") {
      _ = try Scorer(measure: measure).score(f.checkpoints)
    }
  }

  @Test func nonFiniteTargetRowsFail() {
    var f = fixture()
    f.targets[0][1, 0] = .infinity
    expectError(.nonFinite, mentioning: "target row 1") { _ = try Scorer().score(f.checkpoints) }
  }

  @Test(arguments: ScoreMeasure.allCases)
  func skippedRowsScoreMinusInfinityAndAreNeverSelected(_ measure: ScoreMeasure) throws {
    var f = ScoringFixture(n: 20, m: 3, dims: [8, 8], weights: [1, 1], groups: nil, seed: 2)
    f.trains[0][13, 4] = .nan
    f.trains[1][2, 0] = -.infinity
    f.trains[1][13, 1] = .infinity
    let result = try Scorer(measure: measure, skipNonFinite: true).score(f.checkpoints)
    #expect(result.skippedRows == [2, 13])
    #expect(result.scores[2] == -.infinity && result.scores[13] == -.infinity)
    // The other rows score as if the bad rows were not in the pool.
    var clean = f
    for c in 0..<2 {
      clean.trains[c] = try Matrix(
        rows: 18, cols: 8,
        storage: (0..<20).filter { $0 != 2 && $0 != 13 }.flatMap { f.trains[c].row($0) })
    }
    let want = try Scorer(measure: measure).score(clean.checkpoints).scores
    let got = result.scores.enumerated().filter { $0.offset != 2 && $0.offset != 13 }.map(\.element)
    expectClose(got, want.map(Double.init))
    let all = try result.scores.withUnsafeBufferPointer { try Selection.top($0, fraction: 1) }
    #expect(all.count == 18 && !all.contains(2) && !all.contains(13))
  }
}
