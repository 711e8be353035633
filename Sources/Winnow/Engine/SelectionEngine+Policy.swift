extension SelectionEngine {
  /// Runs the configured policy and weighting; returns the full-pool `π`.
  func policySelection(_ plan: inout EpochPlan) throws -> [Double] {
    let c = configuration
    guard let scores = state.combinedScores(c.scoreCombination) else {
      throw WinnowError(.badState, "no candidate features have been fed yet: nothing to rank")
    }
    let n = Selection.count(forFraction: c.selectFraction, of: poolSize)
    var full = [Double](repeating: 0, count: poolSize)
    switch c.policy {
    case .topFraction:
      plan.positions = try scores.withUnsafeBufferPointer { try Selection.top($0, k: n) }
    case .domainQuota:
      plan.positions = try scores.withUnsafeBufferPointer { s in
        try domains.withUnsafeBufferPointer { d in
          try DomainQuota.select(s, domains: d, mixture: plan.mixture, count: n)
        }
      }
    case .stochastic:
      let draw = try scores.withUnsafeBufferPointer { s in
        try ids.withUnsafeBufferPointer { i in
          try StochasticSelection.draw(
            scores: s, ids: i, count: n, temperature: c.temperature,
            floor: c.explorationFloor, seed: c.seed, epoch: state.epoch)
        }
      }
      plan.positions = draw.indices
      full = draw.inclusion
    case .diversity:
      plan.positions = try diverseSelection(count: n)
    }
    if c.policy != .stochastic { for p in plan.positions { full[p] = 1 } }
    plan.inclusion = plan.positions.map { full[$0] }
    plan.weights = try weights(plan, scores)
    return full
  }

  /// The weights of a freshly planned selection under `weighting`.
  func weights(_ plan: EpochPlan, _ scores: [Float]) throws -> [Float] {
    let c = configuration
    var scheme = c.weighting
    if scheme == .automatic { scheme = c.policy == .stochastic ? .unbiased : .uniform }
    switch scheme {
    case .automatic, .uniform:
      return [Float](repeating: 1, count: plan.count)
    case .selfNormalized:
      let chosen = plan.positions.map { scores[$0] }
      return try chosen.withUnsafeBufferPointer {
        try Reweighting.selfNormalized(
          $0, temperature: c.weightTemperature, minimum: c.weightMin, maximum: c.weightMax)
      }
    case .unbiased:
      guard c.policy == .stochastic else {
        throw WinnowError.invalid("unbiased weights need the stochastic policy (π < 1)")
      }
      return try Reweighting.unbiased(inclusion: plan.inclusion, poolSize: poolSize)
    }
  }

  /// GREATS greedy over the samples fed with features this epoch, against the
  /// mean over tasks of the task target means.
  func diverseSelection(count n: Int) throws -> [Int] {
    let k = featureDim
    let fed = (0..<poolSize).filter { state.featuredSerial[$0] == state.serial }
    guard !fed.isEmpty, let means = state.targetMeans else {
      throw WinnowError(.badState, "the diversity policy needs candidate features this epoch")
    }
    // The policy may have been set after a failed endEpoch: the epoch did
    // not keep its features then.
    guard state.features.count == poolSize * k else {
      throw WinnowError(
        .badState,
        "the diversity policy was chosen after epoch \(state.epoch) began, so its features were not kept: begin a new epoch")
    }
    var target = [Float](repeating: 0, count: k)
    for t in 0..<taskCount {
      for j in 0..<k { target[j] += means[t * k + j] / Float(taskCount) }
    }
    // Compact the fed rows only when some were not fed (else use them in place).
    let rows: [Float]
    if fed.count == poolSize {
      rows = state.features
    } else {
      var compact = [Float](repeating: 0, count: fed.count * k)
      for (r, p) in fed.enumerated() {
        for j in 0..<k { compact[r * k + j] = state.features[p * k + j] }
      }
      rows = compact
    }
    let result = try GreedyDiversity.select(
      features: rows, rows: fed.count, dim: k, target: target, count: min(n, fed.count),
      stepSize: Float(configuration.diversityStepSize), method: configuration.diversityMethod)
    return result.indices.map { fed[$0] }
  }
}
