/// Working copies of the three mixture rules, updated at `endEpoch` and
/// written back only when the plan succeeds.
struct MixtureSet {
  var alignment: GradientAlignmentMixture
  var excessLoss: ExcessLossMixture
  var bandit: Exp3Mixture

  init(_ state: EngineState) {
    (alignment, excessLoss, bandit) = (state.alignment, state.excessLoss, state.bandit)
  }

  func current(_ rule: MixtureRule) -> [Double] {
    switch rule {
    case .fixed, .gradientAlignment: alignment.mixture
    case .excessLoss: excessLoss.mixture
    case .bandit: bandit.mixture
    }
  }

  func average(_ rule: MixtureRule) -> [Double] {
    rule == .excessLoss ? excessLoss.average : current(rule)
  }

  func commit(to state: inout EngineState) {
    (state.alignment, state.excessLoss, state.bandit) = (alignment, excessLoss, bandit)
  }
}

extension SelectionEngine {
  /// Applies the configured rule to the epoch's signals. An epoch without the
  /// rule's signal (no target or candidate features for alignment, no losses
  /// for the others) leaves the mixture unchanged.
  /// - Complexity: O(K·k).
  func updateMixture(_ m: inout MixtureSet) throws {
    let c = configuration
    let k = featureDim
    switch c.mixtureRule {
    case .fixed:
      return
    case .gradientAlignment:
      guard state.targetRawRows > 0, state.domainRows.contains(where: { $0 > 0 }) else { return }
      let scale = 1 / Double(state.targetRawRows)
      let w: [Double?] = (0..<domainCount).map { d in
        let rows = state.domainRows[d]
        guard rows > 0 else { return nil }
        var dot = 0.0
        for j in 0..<k { dot += state.domainRawSum[d * k + j] * state.targetRawSum[j] }
        return dot * scale / Double(rows)
      }
      m.alignment.update(alignment: w, clip: c.alignmentClip, mu: c.alignmentTemperature)
    case .excessLoss:
      let rows = state.excessRows
      guard rows.contains(where: { $0 > 0 }) else { return }
      let lambda = (0..<domainCount).map { rows[$0] > 0 ? state.excessSum[$0] / Double(rows[$0]) : nil }
      m.excessLoss.update(excess: lambda, stepSize: c.excessLossStepSize, smoothing: c.mixtureSmoothing)
    case .bandit:
      let rows = state.lossRows
      guard rows.contains(where: { $0 > 0 }) else { return }
      m.bandit.update(rewards: (0..<domainCount).map { rows[$0] > 0 ? state.lossSum[$0] / Double(rows[$0]) : nil })
    }
  }
}
