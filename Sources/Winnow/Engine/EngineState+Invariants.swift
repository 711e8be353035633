extension EngineState {
  /// Traps unless the state is consistent: every per-candidate array has one
  /// entry per candidate (`N`, or `N × T` scores), every per-epoch sum has
  /// the shape of the epoch (`T × k`, `K × k`, `K`), and the counters agree
  /// with what they count.
  ///
  /// Compiled in debug builds only; a no-op in release.
  /// - Parameter perCandidate: also check the values of the per-candidate
  ///   arrays, O(N·T); the shapes alone are O(1).
  func _checkInvariants(perCandidate: Bool = true) {
    #if DEBUG
      let (n, t, k, dim) = (poolSize, tasks, domains, dim)
      precondition(n >= 1 && (1...1024).contains(t) && k >= 1 && dim >= 1, "EngineState: bad sizes")
      // Across epochs: one entry per candidate.
      precondition(scoreSums.count == n * t, "EngineState: scoreSums is not N × T")
      precondition(scoreWeights.count == n, "EngineState: scoreWeights is not N")
      precondition(fedSerial.count == n && featuredSerial.count == n, "EngineState: serials are not N")
      precondition(
        alignment.logWeights.count == k && excessLoss.mixture.count == k && bandit.mixture.count == k,
        "EngineState: a mixture does not have K domains")
      precondition(epochsEnded >= 0 && (epochsEnded == 0) == (lastEpoch == nil), "EngineState: epoch count")
      if let lastEpoch {
        precondition(isOpen ? epoch > lastEpoch : epoch == lastEpoch, "EngineState: epochs out of order")
      }
      if let lastPlanned {
        precondition(lastPlanned.positions.allSatisfy { (0..<n).contains($0) }, "EngineState: plan position")
      }
      // The open (or last) epoch: empty before the first, else its shapes.
      if isOpen || epochsEnded > 0 {
        precondition(targetUnitSum.count == t * dim && targetRows.count == t, "EngineState: target sums")
        precondition(targetRawSum.count == dim, "EngineState: raw target sum")
        precondition(targetRawRows == targetRows.reduce(0, +), "EngineState: target row counts")
        precondition(domainRawSum.count == k * dim && domainRows.count == k, "EngineState: domain sums")
        precondition(
          lossSum.count == k && lossRows.count == k && excessSum.count == k && excessRows.count == k,
          "EngineState: loss sums")
        precondition(
          zip(excessRows, lossRows).allSatisfy { 0 <= $0 && $0 <= $1 },
          "EngineState: more excess losses than losses")
      } else {
        precondition(
          targetUnitSum.isEmpty && targetRows.isEmpty && domainRows.isEmpty && lossRows.isEmpty,
          "EngineState: epoch sums before the first epoch")
      }
      precondition(targetMeans == nil || targetMeans?.count == t * dim, "EngineState: target means")
      precondition(features.isEmpty || features.count == n * dim, "EngineState: diversity features")
      guard perCandidate else { return }
      precondition(scoreWeights.allSatisfy { $0 >= 0 }, "EngineState: negative score weight")
      // Fed with features this epoch ⇒ fed this epoch; one domain row each.
      var featured = 0
      for p in 0..<n where featuredSerial[p] == serial {
        precondition(fedSerial[p] == serial, "EngineState: featured but not fed")
        featured += 1
      }
      if isOpen || epochsEnded > 0 {
        precondition(domainRows.reduce(0, +) == featured, "EngineState: domain rows ≠ featured candidates")
      }
    #endif
  }
}
