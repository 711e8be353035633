import Testing

@testable import Winnow

/// Scoring a pool piece by piece (a shard at a time, as `winnow.ray` does)
/// gives exactly the bits of scoring it whole.
@Suite struct ScorerPiecesTests {
  @Test(arguments: [ScoreMeasure.cosine, .dot])
  func piecesScoreBitIdenticallyToTheWholePool(_ measure: ScoreMeasure) throws {
    let f = ScoringFixture(
      n: 1500, m: 7, dims: [40, 40], weights: [2, 1], groups: [1, 1, 4, 4, 4, 0, 1], seed: 11)
    let scorer = Scorer(measure: measure, memoryCap: 64 << 10)
    let whole = try scorer.score(f.checkpoints, targetGroups: f.groups).scores
    let prepared = try scorer.prepareTargets(f.targets, weights: f.weights, targetGroups: f.groups)
    for piece in [1, 5, 333, 1024] {
      var pieces = [Float]()
      for start in stride(from: 0, to: 1500, by: piece) {
        let rows = min(piece, 1500 - start)
        let (a, b) = (f.trains[0], f.trains[1])
        let pa = Array(a.storage[(start * a.cols)..<((start + rows) * a.cols)])
        let pb = Array(b.storage[(start * b.cols)..<((start + rows) * b.cols)])
        pieces += try pa.withUnsafeBufferPointer { x in
          try pb.withUnsafeBufferPointer { y in
            guard let x = x.baseAddress, let y = y.baseAddress else { return [] }
            return try scorer.score(rows: [x, y], count: rows, against: prepared).scores
          }
        }
      }
      #expect(pieces.map(\.bitPattern) == whole.map(\.bitPattern), "pieces of \(piece) rows")
    }
  }

  @Test func memoryCapsGiveBitIdenticalScores() throws {
    let f = ScoringFixture(n: 2500, m: 6, dims: [24], weights: [1], groups: nil, seed: 3)
    let reference = try Scorer(memoryCap: 1 << 30).score(f.checkpoints).scores
    for cap in [8 << 10, 40 << 10, 200 << 10] {
      let got = try Scorer(memoryCap: cap).score(f.checkpoints).scores
      #expect(got.map(\.bitPattern) == reference.map(\.bitPattern))
    }
  }

  @Test func influenceCannotBePreparedPieceByPiece() throws {
    let f = ScoringFixture(n: 10, m: 3, dims: [8], weights: [1], groups: nil, seed: 1)
    #expect(throws: WinnowError.self) {
      _ = try Scorer(measure: .influence).prepareTargets(f.targets, weights: f.weights)
    }
  }
}
