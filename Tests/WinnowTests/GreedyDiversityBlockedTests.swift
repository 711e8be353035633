import Testing
@testable import Winnow

@Suite struct GreedyDiversityBlockedTests {
  /// Unit rows around `clusters` centres (near-duplicates, where diversity
  /// matters) and a target near the first centres.
  func clustered(rows: Int, dim: Int, clusters: Int, seed: UInt64) -> (g: [Float], t: [Float]) {
    var rng = TestRNG(seed)
    let centres = (0..<clusters).map { _ in unit(rng.normals(dim)) }
    var g = [Float]()
    for r in 0..<rows {
      let noise = rng.normals(dim)
      g += unit(zip(centres[r % clusters], noise).map { $0 + 0.3 * $1 })
    }
    let t = (0..<dim).map { j in centres[0][j] + 0.5 * centres[1][j] + 0.2 * Float(rng.normal()) }
    return (g, t)
  }

  /// The acceptance bar of the blocked greedy: ≥ 0.99 of the exact greedy's
  /// objective, over step sizes from relevance-dominated to diversity-dominated.
  @Test(arguments: [0.01, 0.05, 0.2])
  func blockedObjectiveIsWithinOnePercentOfSequential(eta: Float) throws {
    let rows = 4000, dim = 48, n = 200
    let (g, t) = clustered(rows: rows, dim: dim, clusters: 40, seed: 3)
    #expect(GreedyDiversity.defaultBatch(rows: rows) < n / 3, "several rounds")
    let seq = try GreedyDiversity.select(
      features: g, rows: rows, dim: dim, target: t, count: n, stepSize: eta, method: .sequential)
    let blk = try GreedyDiversity.select(
      features: g, rows: rows, dim: dim, target: t, count: n, stepSize: eta, method: .blocked)
    #expect(Set(blk.indices).count == n)
    let fs = GreedyDiversity.objective(features: g, dim: dim, target: t, picked: seq.indices, stepSize: eta)
    let fb = GreedyDiversity.objective(features: g, dim: dim, target: t, picked: blk.indices, stepSize: eta)
    #expect(fs > 0)
    #expect(fb >= 0.99 * fs, "blocked \(fb) vs sequential \(fs) at η = \(eta)")
    // Reported gains are the exact marginal gains: they sum to the objective.
    let gains = blk.gains.reduce(0) { $0 + Double($1) }
    #expect(abs(gains - fb) <= 1e-3 * abs(fb), "Σ gains \(gains) vs objective \(fb)")
  }

  /// With one pick a round the blocked rule is the greedy rule itself.
  @Test func batchOfOneMakesTheSequentialPicks() throws {
    let rows = 300, dim = 16, n = 40
    let (g, t) = clustered(rows: rows, dim: dim, clusters: 10, seed: 5)
    for eta: Float in [0, 0.1, 0.5] {
      let seq = try GreedyDiversity.select(
        features: g, rows: rows, dim: dim, target: t, count: n, stepSize: eta, method: .sequential)
      let one = GreedyDiversity.selectBlocked(
        features: g, rows: rows, dim: dim, target: t, count: n, stepSize: eta, batch: 1)
      #expect(one.indices == seq.indices, "η = \(eta)")
    }
  }

  /// η = 0 keeps the n best aligned, ties to the lower index, in any round size.
  @Test func zeroStepSizeIsTopNByAlignment() throws {
    let rows = 1000, dim = 8
    var g = clustered(rows: rows, dim: dim, clusters: 7, seed: 9).g
    for j in 0..<dim { g[500 * dim + j] = g[20 * dim + j] }  // an exact tie
    let t: [Float] = [1, 0, 0, 0, 0, 0, 0, 0]
    let alignment = (0..<rows).map { g[$0 * dim] }
    let top = try alignment.withUnsafeBufferPointer { try Selection.top($0, k: 300) }
    for batch in [7, 64, 300] {
      let r = GreedyDiversity.selectBlocked(
        features: g, rows: rows, dim: dim, target: t, count: 300, stepSize: 0, batch: batch)
      #expect(r.indices == top, "batch \(batch)")
    }
  }

  /// The pool pass is one fixed-order dot per row, so a row's value does not
  /// depend on the chunk or call it is in (hence on the thread count).
  @Test func poolDotsAreBitIdenticalToOneRowAtATime() {
    let rows = 5000, dim = 37
    let (g, t) = clustered(rows: rows, dim: dim, clusters: 3, seed: 1)
    var all = [Float](repeating: 0, count: rows)
    GreedyDiversity.rowDots(g, rows: rows, dim: dim, with: t, into: &all)
    let single = (0..<rows).map { r in
      g.withUnsafeBufferPointer { Kernels.dot($0.baseAddress! + r * dim, t, count: dim) }
    }
    #expect(all == single)
  }

  @Test func automaticChoosesSequentialForSmallAndBlockedForLargeProblems() {
    #expect(GreedyDiversity.Method.automatic.resolved(rows: 1024, dim: 8192, count: 256) == .sequential)
    #expect(GreedyDiversity.Method.automatic.resolved(rows: 1_000_000, dim: 1024, count: 50_000) == .blocked)
    #expect(GreedyDiversity.Method.sequential.resolved(rows: 1_000_000, dim: 1024, count: 50_000) == .sequential)
    #expect(throws: WinnowError.self) {
      try EngineParameter.diversityMethod.validate(3)
    }
  }
}
