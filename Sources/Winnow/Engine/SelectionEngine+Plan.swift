extension SelectionEngine {
  /// Closes the epoch and returns the plan for the next one.
  ///
  /// Updates the domain mixture from the epoch's signals (`MixtureRule`), then
  /// builds the plan: a warm-up plan during the first `warmupEpochs`, the
  /// last planned selection on epochs that `selectEvery` skips, otherwise a
  /// fresh selection by `policy` (quotas use the updated mixture). If an
  /// audit log path is set, appends the plan's audit line. On error the epoch
  /// stays open and nothing changes (e.g. `.badState` when no candidate
  /// features were ever fed, so there is nothing to rank); the caller may
  /// feed more and retry, or abandon the epoch with `beginEpoch` (whose
  /// parameters may then be changed first: see `beginEpoch`).
  /// - Complexity: top-fraction and quota O(N·T + n log n); stochastic
  ///   O(N log N); diversity O(n·N·k) sequential, O(⌈n/b⌉·N·k) blocked.
  public func endEpoch() throws -> EpochPlan {
    guard state.isOpen else { throw WinnowError(.badState, "endEpoch before beginEpoch") }
    do {
      return try closeEpoch()
    } catch {
      state.endFailed = true
      throw error
    }
  }

  private func closeEpoch() throws -> EpochPlan {
    var mixtures = MixtureSet(state)
    try updateMixture(&mixtures)
    let rule = configuration.mixtureRule
    let (plan, inclusion) = try makePlan(
      mixture: mixtures.current(rule), average: mixtures.average(rule))
    if let path = auditLogPath {
      try AuditLog.append(auditLine(for: plan), to: path)
    }
    mixtures.commit(to: &state)
    state.isOpen = false
    state.lastEpoch = state.epoch
    state.epochsEnded += 1
    if plan.kind == .planned { state.lastPlanned = plan }
    if let inclusion { inclusionProbabilities = inclusion }
    lastPlan = plan
    _checkInvariants()
    return plan
  }

  /// The combined score of every pool position (`N` values; see the type's
  /// discussion), or `.badState` if no sample has been scored yet.
  public func scores() throws -> [Float] {
    guard let s = state.combinedScores(configuration.scoreCombination) else {
      throw WinnowError(.badState, "no candidate features have been fed yet")
    }
    return s
  }

  func makePlan(mixture: [Double], average: [Double]) throws -> (EpochPlan, [Double]?) {
    let c = configuration
    var plan = EpochPlan(
      epoch: state.epoch, kind: .planned, policy: c.policy, positions: [], ids: [],
      weights: [], inclusion: [], mixture: mixture, mixtureAverage: average, domainCounts: [])
    var full: [Double]?
    let index = state.epochsEnded - c.warmupEpochs
    if index < 0 {
      (plan.kind, plan.policy) = (.warmup, .topFraction)
      full = warmupSelection(&plan)
    } else if index % c.selectEvery != 0, let last = state.lastPlanned {
      plan.kind = .reused
      (plan.policy, plan.positions, plan.weights, plan.inclusion) =
        (last.policy, last.positions, last.weights, last.inclusion)
    } else {
      full = try policySelection(&plan)
    }
    plan.ids = plan.positions.map { ids[$0] }
    plan.domainCounts = [Int](repeating: 0, count: domainCount)
    for p in plan.positions { plan.domainCounts[Int(domains[p])] += 1 }
    return (plan, full)
  }

  /// The full pool, or a seeded uniform random subset; weights 1.
  func warmupSelection(_ plan: inout EpochPlan) -> [Double] {
    let n = poolSize
    let m = Selection.count(forFraction: configuration.warmupFraction, of: n)
    if m == n {
      plan.positions = Array(0..<n)
    } else {
      // The first m of a keyed random order: a simple random sample.
      let order = ids.withUnsafeBufferPointer {
        StochasticSelection.keyedOrder(
          ids: $0, seed: configuration.seed, stream: .warmup, epoch: state.epoch)
      }
      let picked = order.prefix(m)
      plan.positions = picked.sorted()
    }
    plan.weights = [Float](repeating: 1, count: plan.positions.count)
    let pi = Double(m) / Double(n)
    plan.inclusion = [Double](repeating: pi, count: plan.positions.count)
    return [Double](repeating: pi, count: n)
  }
}
