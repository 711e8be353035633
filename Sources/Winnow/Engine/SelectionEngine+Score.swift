extension SelectionEngine {
  /// Rows per chunk when scoring, so scratch memory stays bounded.
  static var scoringChunk: Int { 4096 }

  /// Scores candidate rows against the task means and folds the scores into
  /// the cross-epoch state; also feeds the domain sums and, under the
  /// diversity policy, keeps the unit-norm rows.
  ///
  /// - Parameters:
  ///   - positions: `B` pool positions; `features`: `B × k`, row-major.
  /// - Complexity: O(B·k·T) — one `sgemm` per chunk of rows.
  func score(_ positions: [Int], _ features: UnsafePointer<Float>) throws {
    let k = featureDim, t = taskCount
    let means = state.targetMeans ?? freezeTargetMeans()
    // Take the scratch buffers out of `state` so BLAS never overlaps an access to it.
    var unit: [Float] = [], scores: [Float] = []
    swap(&unit, &state.scratch)
    swap(&scores, &state.scratchScores)
    defer {
      swap(&unit, &state.scratch)
      swap(&scores, &state.scratchScores)
    }
    var start = 0
    while start < positions.count {
      let rows = min(Self.scoringChunk, positions.count - start)
      if unit.count < rows * k { unit = [Float](repeating: 0, count: rows * k) }
      if scores.count < rows * t { scores = [Float](repeating: 0, count: rows * t) }
      let x = features + start * k
      try normalize(x, rows: rows, positions: positions[start..<start + rows], into: &unit)
      // S = X̂ · Mᵀ : (rows × k)·(k × T)
      try BLAS.sgemm(
        .none, .transposed, m: rows, n: t, k: k, alpha: 1, a: unit, lda: k,
        b: means, ldb: k, beta: 0, c: &scores, ldc: t)
      fold(positions[start..<start + rows], scores)
      start += rows
    }
  }

  /// Fixes this epoch's per-task target means (mean of unit-norm rows).
  func freezeTargetMeans() -> [Float] {
    let k = featureDim
    var means = state.targetUnitSum
    for task in 0..<taskCount {
      let inv = 1 / Float(state.targetRows[task])
      for j in 0..<k { means[task * k + j] *= inv }
    }
    state.targetMeans = means
    return means
  }

  /// Copies unit-norm rows into scratch; adds raw rows to the domain sums.
  private func normalize(
    _ x: UnsafePointer<Float>, rows: Int, positions: ArraySlice<Int>, into unit: inout [Float]
  ) throws {
    let k = featureDim
    let keep = !state.features.isEmpty
    for (r, p) in positions.enumerated() {
      let row = x + r * k
      let scale = try Self.inverseNorm(row, k)
      let d = Int(domains[p])
      unit.withUnsafeMutableBufferPointer { s in
        for j in 0..<k { s[r * k + j] = row[j] * scale }
      }
      state.domainRawSum.withUnsafeMutableBufferPointer { sums in
        for j in 0..<k { sums[d * k + j] += Double(row[j]) }
      }
      state.domainRows[d] += 1
      if keep {
        state.features.withUnsafeMutableBufferPointer { f in
          for j in 0..<k { f[p * k + j] = row[j] * scale }
        }
      }
      state.featuredSerial[p] = state.serial
    }
  }

  /// Adds one chunk's `rows × T` scores to the combined per-task scores.
  private func fold(_ positions: ArraySlice<Int>, _ scores: [Float]) {
    let t = taskCount
    let lr = Float(state.learningRate)
    let beta = Float(configuration.emaDecay)
    let ema = configuration.scoreCombination == .movingAverage
    for (r, p) in positions.enumerated() {
      let seen = state.scoreWeights[p] > 0
      for task in 0..<t {
        let s = scores[r * t + task]
        let i = p * t + task
        if !ema {
          state.scoreSums[i] += lr * s
        } else {
          state.scoreSums[i] = seen ? beta * state.scoreSums[i] + (1 - beta) * s : s
        }
      }
      state.scoreWeights[p] = ema ? 1 : state.scoreWeights[p] + lr
    }
  }
}
