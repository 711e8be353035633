extension SelectionEngine {
  /// Traps unless the engine is consistent: ids, domains and inclusion
  /// probabilities have one entry per candidate, domain ids lie in
  /// `0..<domainCount`, every id has its position, and the state agrees
  /// (`EngineState._checkInvariants`).
  ///
  /// Compiled in debug builds only; a no-op in release.
  /// - Parameter perCandidate: also check per-candidate values, O(N·T);
  ///   the shapes alone are O(1).
  func _checkInvariants(perCandidate: Bool = true) {
    #if DEBUG
      let n = ids.count
      precondition(
        state.poolSize == n && domains.count == n && inclusionProbabilities.count == n
          && positionOfID.count == n,
        "SelectionEngine: per-candidate arrays are not N")
      precondition(
        state.domains == domainCount && state.tasks == taskCount && state.dim == featureDim,
        "SelectionEngine: state sizes")
      if perCandidate {
        precondition(domains.allSatisfy { $0 >= 0 && Int($0) < domainCount }, "SelectionEngine: domain id")
        precondition(
          ids.indices.allSatisfy { positionOfID[ids[$0]] == $0 }, "SelectionEngine: id positions")
      }
      state._checkInvariants(perCandidate: perCandidate)
    #endif
  }
}
