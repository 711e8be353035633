/// Relevance + diversity by greedy maximization, the GREATS rule
/// (Wang et al. 2024, "GREATS: Online Selection of High-Quality Data for LLM
/// Training in Every Iteration").
///
/// Step `t` adds the candidate with the largest marginal gain
/// `η⟨g_i, ḡ⟩ − η²·Σ_{j∈S}⟨g_i, g_j⟩`, which is the gain of the set objective
/// `η·Σ_{i∈S}⟨g_i, ḡ⟩ − η²·Σ_{i<j∈S}⟨g_i, g_j⟩` (a first-order model of the
/// validation loss drop after one SGD step on `S`, plus the first
/// interaction term). Ties go to the lowest index.
///
/// Memory is `O(N + k)` beyond the input: the gains are kept as one vector
/// and updated after each pick by one matrix–vector product with the chosen
/// row (`u ← u − η²·G·g_j`), which is the same as keeping the running sum of
/// the selected rows. No `N × N` Gram matrix is ever formed.
public enum GreedyDiversity {
  /// The greedy picks, in order, and the marginal gain of each when picked.
  public struct Result: Sendable, Equatable {
    /// Indices into the candidate rows, in the order they were picked.
    public var indices: [Int]
    /// The marginal gain of each pick, same order.
    public var gains: [Float]
  }

  /// Greedily picks `n` of `rows` candidates.
  ///
  /// - Parameters:
  ///   - features: `rows × dim`, row-major: one (projected) gradient per candidate.
  ///   - target: `dim` values: the target gradient `ḡ`.
  ///   - n: how many to keep, `1 ≤ n ≤ rows`.
  ///   - stepSize: `η ≥ 0`; `η = 0` is taken as the limit `η → 0⁺`: top-n by
  ///     alignment `⟨g_i, ḡ⟩` (then `gains` are the alignments).
  /// - Complexity: O(n·rows·dim) time (one `sgemv` per pick), O(rows) extra memory.
  public static func select(
    features: UnsafePointer<Float>, rows: Int, dim: Int,
    target: UnsafePointer<Float>, count n: Int, stepSize: Float
  ) throws -> Result {
    guard rows >= 1, dim >= 1 else {
      throw WinnowError.shape("greedy selection needs rows ≥ 1 and dim ≥ 1, got \(rows) × \(dim)")
    }
    guard n >= 1, n <= rows else {
      throw WinnowError.invalid("keep \(n) is outside 1...\(rows)")
    }
    guard stepSize >= 0, stepSize.isFinite else {
      throw WinnowError.invalid("step size \(stepSize) must be finite and non-negative")
    }
    var gain = [Float](repeating: 0, count: rows)
    try BLAS.sgemv(
      .none, m: rows, n: dim, alpha: stepSize > 0 ? stepSize : 1, a: features, lda: dim, x: target,
      beta: 0, y: &gain)
    var taken = [Bool](repeating: false, count: rows)
    var result = Result(indices: [], gains: [])
    result.indices.reserveCapacity(n)
    result.gains.reserveCapacity(n)
    let eta2 = stepSize * stepSize
    for step in 0..<n {
      var best = -1
      for i in 0..<rows where !taken[i] && (best < 0 || gain[i] > gain[best]) { best = i }
      taken[best] = true
      result.indices.append(best)
      result.gains.append(gain[best])
      if step + 1 < n, eta2 > 0 {
        try BLAS.sgemv(
          .none, m: rows, n: dim, alpha: -eta2, a: features, lda: dim,
          x: features + best * dim, beta: 1, y: &gain)
      }
    }
    return result
  }
}
