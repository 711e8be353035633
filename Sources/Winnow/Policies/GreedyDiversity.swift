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
///
/// Two algorithms maximize it (`Method`): the exact sequential greedy (one
/// pass over the pool per pick, O(n·N·k)) and the blocked greedy
/// (`selectBlocked`: `b` picks per pass, O(⌈n/b⌉·N·k)), which a million
/// candidates need. `automatic` runs the sequential one while
/// `n·N·k ≤ 2³²` multiply-adds (a few seconds) and the blocked one beyond.
public enum GreedyDiversity {
  /// Which greedy runs. Raw values are the engine parameter's values.
  public enum Method: Int32, Sendable, CaseIterable {
    /// `sequential` while `n·N·k ≤ 2³²`, `blocked` beyond.
    case automatic = 0
    /// The exact greedy, one pool pass per pick.
    case sequential = 1
    /// The blocked greedy, `b ≈ √(N/2)` picks per pool pass.
    case blocked = 2

    /// The algorithm `automatic` resolves to for `n` picks of `rows × dim`.
    public func resolved(rows: Int, dim: Int, count n: Int) -> Method {
      guard self == .automatic else { return self }
      let (a, o1) = n.multipliedReportingOverflow(by: rows)
      let (work, o2) = a.multipliedReportingOverflow(by: dim)
      return !o1 && !o2 && work <= 1 << 32 ? .sequential : .blocked
    }
  }


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
  ///   - method: the algorithm; `automatic` chooses by size (see `Method`).
  /// - Complexity: sequential O(n·rows·dim) time (one `sgemv` per pick),
  ///   blocked O(⌈n/b⌉·rows·dim + n·b·dim); O(rows + b·dim) extra memory.
  public static func select(
    features: UnsafePointer<Float>, rows: Int, dim: Int,
    target: UnsafePointer<Float>, count n: Int, stepSize: Float,
    method: Method = .automatic
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
    _ = try BLAS.int(rows, "rows")
    _ = try BLAS.int(dim, "dim")
    if method.resolved(rows: rows, dim: dim, count: n) == .blocked {
      return selectBlocked(
        features: features, rows: rows, dim: dim, target: target, count: n, stepSize: stepSize)
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

  /// The GREATS set objective of `picked` rows:
  /// `η·Σ_{i∈S}⟨g_i, ḡ⟩ − η²·Σ_{i<j∈S}⟨g_i, g_j⟩`, computed as
  /// `η·⟨s, ḡ⟩ − η²/2·(‖s‖² − Σ‖g_i‖²)` with `s = Σ_{i∈S} g_i` (in Double).
  /// - Complexity: O(|S|·dim).
  public static func objective(
    features: UnsafePointer<Float>, dim: Int, target: UnsafePointer<Float>,
    picked: [Int], stepSize: Float
  ) -> Double {
    var sum = [Double](repeating: 0, count: dim)
    var squares = 0.0
    for i in picked {
      for j in 0..<dim {
        let v = Double(features[i * dim + j])
        sum[j] += v
        squares += v * v
      }
    }
    var align = 0.0, norm = 0.0
    for j in 0..<dim {
      align += sum[j] * Double(target[j])
      norm += sum[j] * sum[j]
    }
    let eta = Double(stepSize)
    return eta * align - eta * eta / 2 * (norm - squares)
  }
}
