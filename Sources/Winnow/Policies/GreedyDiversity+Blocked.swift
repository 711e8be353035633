import Dispatch
#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension GreedyDiversity {
  /// Blocked greedy: the same objective as the sequential rule, `b` picks a
  /// round with one pass over the pool per round instead of one per pick.
  ///
  /// Each round takes the `m = 2b` candidates of largest current gain (ties
  /// by ascending index) and picks up to `b` of them greedily with the exact
  /// within-round correction (`u_c ← u_c − η²⟨g_c, g_p⟩` after each pick `p`,
  /// dot products of the pick against the `m` candidates). After `b/4` picks
  /// the round stops early once its best corrected gain falls below the best
  /// gain left outside it (an upper bound on that candidate's gain when the
  /// rows correlate non-negatively), so late picks match the sequential
  /// rule. Then every gain is updated once with the sum `s` of the round's
  /// picks (`u ← u − η²·G·s`, equal to one rank-one update per pick). A
  /// pick's reported gain is its exact marginal gain: earlier rounds are in
  /// `u`, this round's picks in the correction.
  ///
  /// All dot products go through the fixed-order kernel `Kernels.rowDots`
  /// (row by row), so the picks are the same for any thread count.
  /// - Complexity: O(⌈n/b⌉·N·k + n·m·k) time, `b ≈ √(N/2)` balancing the two
  ///   terms; O(N + m·k) extra memory.
  static func selectBlocked(
    features: UnsafePointer<Float>, rows: Int, dim: Int,
    target: UnsafePointer<Float>, count n: Int, stepSize: Float, batch: Int? = nil
  ) -> Result {
    let eta2 = stepSize * stepSize
    var gain = [Float](repeating: 0, count: rows)
    gain.withUnsafeMutableBufferPointer { g in
      rowDots(features, rows: rows, dim: dim, with: target, into: g.baseAddress!)
    }
    let alpha = stepSize > 0 ? stepSize : 1
    for i in 0..<rows { gain[i] *= alpha }
    let b = max(1, min(n, batch ?? defaultBatch(rows: rows)))
    var result = Result(indices: [], gains: [])
    result.indices.reserveCapacity(n)
    result.gains.reserveCapacity(n)
    var round = Round(dim: dim, capacity: min(rows, 2 * b))
    while result.indices.count < n {
      let picks = min(b, n - result.indices.count)
      let m = min(rows - result.indices.count, 2 * picks)
      // One more than m: the best gain left outside bounds the round.
      let open = rows - result.indices.count
      var candidates = gain.withUnsafeBufferPointer { Selection.topChecked($0, k: min(open, m + 1)) }
      let outside = candidates.count > m ? gain[candidates.removeLast()] : -Float.infinity
      let chosen = round.pick(
        picks, of: candidates, gains: gain, features: features, eta2: eta2,
        atLeast: max(1, picks / 4), above: outside)
      for (c, u) in chosen {
        result.indices.append(c)
        result.gains.append(u)
        gain[c] = -.infinity  // never eligible again
      }
      guard result.indices.count < n, eta2 > 0 else { continue }
      round.subtractSum(of: chosen.map(\.0), features: features, rows: rows, eta2: eta2, from: &gain)
    }
    return result
  }

  /// `b` for a pool of `rows`: `√(rows/2)` balances the pool passes against
  /// the within-round work, at least 16 and at most 4096.
  static func defaultBatch(rows: Int) -> Int {
    min(4096, max(16, Int((Double(rows) / 2).squareRoot())))
  }

  /// `out[i] = ⟨x_i, v⟩` for `rows` rows of `x` (`rows × dim`), in chunks
  /// of rows run on all cores. Each row's sum has a fixed order of its own,
  /// so the chunking (which follows the core count) never changes a bit.
  static func rowDots(
    _ x: UnsafePointer<Float>, rows: Int, dim: Int, with v: UnsafePointer<Float>,
    into out: UnsafeMutablePointer<Float>
  ) {
    let parts = 2 * ProcessInfo.processInfo.activeProcessorCount
    let chunk = max(256, min(2048, (rows + parts - 1) / parts))
    let chunks = (rows + chunk - 1) / chunk
    let part = { (c: Int) in
      let lo = c * chunk, n = min(chunk, rows - lo)
      Kernels.rowDots(
        x + lo * dim, rows: n, k: dim, ldx: dim, directions: v, groups: 1, into: out + lo, ldo: 1)
    }
    if chunks <= 1 {
      part(0)
    } else {
      nonisolated(unsafe) let body = part
      DispatchQueue.concurrentPerform(iterations: chunks) { body($0) }
    }
  }

  /// The scratch of one round: the candidates' rows (`m × dim`), their
  /// corrected gains, and the sum of the picks.
  struct Round {
    let dim: Int
    var rowsOfCandidates: [Float]
    var dots: [Float]
    var sum: [Float]

    init(dim: Int, capacity: Int) {
      self.dim = dim
      rowsOfCandidates = [Float](repeating: 0, count: capacity * dim)
      dots = [Float](repeating: 0, count: capacity)
      sum = [Float](repeating: 0, count: dim)
    }

    /// Picks `count` of `candidates` greedily by their gains corrected for
    /// the picks made so far in this round; returns (index, gain) in order.
    mutating func pick(
      _ count: Int, of candidates: [Int], gains: [Float], features: UnsafePointer<Float>,
      eta2: Float, atLeast minimum: Int, above outside: Float
    ) -> [(Int, Float)] {
      let m = candidates.count, dim = self.dim
      var local = candidates.map { gains[$0] }
      var open = [Bool](repeating: true, count: m)
      var chosen = [(Int, Float)]()
      rowsOfCandidates.withUnsafeMutableBufferPointer { c in
        for (r, i) in candidates.enumerated() {
          (c.baseAddress! + r * dim).update(from: features + i * dim, count: dim)
        }
      }
      for step in 0..<count {
        // Best open candidate; ties to the lowest pool index.
        var best = -1
        for r in 0..<m where open[r] {
          if best < 0 || local[r] > local[best]
            || (local[r] == local[best] && candidates[r] < candidates[best])
          {
            best = r
          }
        }
        // Past the minimum, stop once a candidate outside the round could be
        // better (its stale gain is an upper bound when pick rows correlate
        // non-negatively with it): then the round's picks are the greedy's.
        if step >= minimum && local[best] < outside { break }
        open[best] = false
        chosen.append((candidates[best], local[best]))
        guard step + 1 < count, eta2 > 0 else { continue }
        rowsOfCandidates.withUnsafeBufferPointer { c in
          dots.withUnsafeMutableBufferPointer { d in
            GreedyDiversity.rowDots(
              c.baseAddress!, rows: m, dim: dim, with: c.baseAddress! + best * dim,
              into: d.baseAddress!)
          }
        }
        for r in 0..<m where open[r] { local[r] -= eta2 * dots[r] }
      }
      return chosen
    }

    /// `gain ← gain − η²·G·s`, `s` the sum of the rows `picked` (in order).
    mutating func subtractSum(
      of picked: [Int], features: UnsafePointer<Float>, rows: Int, eta2: Float,
      from gain: inout [Float]
    ) {
      let dim = self.dim
      for j in 0..<dim { sum[j] = 0 }
      for p in picked {
        for j in 0..<dim { sum[j] += features[p * dim + j] }
      }
      var delta = [Float](repeating: 0, count: rows)
      sum.withUnsafeBufferPointer { s in
        delta.withUnsafeMutableBufferPointer { d in
          GreedyDiversity.rowDots(features, rows: rows, dim: dim, with: s.baseAddress!, into: d.baseAddress!)
        }
      }
      for i in 0..<rows { gain[i] -= eta2 * delta[i] }
    }
  }
}
