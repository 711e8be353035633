/// Streamed, blocked LESS/TRAK scoring of a candidate pool against targets.
///
/// For checkpoints `c` with renormalized weights `η_c` (`Σ η_c = 1`), train
/// features `Φ_c` (`N × k_c`) and target features `V_c` (`M × k_c`), and target
/// subtask groups `g` (an integer label per target row):
///
///     S_c(i, j) = ⟨φ̂_c,i , v̂_c,j⟩               cosine (rows L2-normalized)
///               = ⟨φ_c,i , v_c,j⟩                dot
///               = φ_c,iᵀ (Φ_cᵀΦ_c + λI)⁻¹ v_c,j   influence
///     score(i)  = max_g  (1/|g|) Σ_{j∈g} Σ_c η_c S_c(i, j)
///
/// The mean over a group commutes with the (linear) score, so each checkpoint
/// reduces its targets to one direction per group first; the pass over the
/// pool is then one pass of row dot products per block and checkpoint. Groups
/// may differ in size.
///
/// Memory is bounded independently of `N`: train rows are read in blocks sized
/// from `memoryCap` and released (`FeatureSource.release(rows:)`) after use.
/// Besides the blocks, scoring holds the `N` output scores, one checkpoint's
/// `M × k` targets at a time, and for `influence` one `k × k` Gram matrix.
public struct Scorer {
  /// The similarity measure.
  public var measure: ScoreMeasure
  /// The damping `λ > 0` of `influence` (unused by the other measures).
  public var damping: Float
  /// The bytes that train blocks, targets and the Gram matrix may take.
  public var memoryCap: Int
  /// Whether train rows with NaN/∞ get the score `-∞` (excluded from
  /// selection) instead of failing the whole run.
  public var skipNonFinite: Bool

  /// A scorer; the defaults are LESS's (cosine) and a 1 GiB memory cap.
  public init(
    measure: ScoreMeasure = .cosine, damping: Float = 1e-3,
    memoryCap: Int = 1 << 30, skipNonFinite: Bool = false
  ) {
    self.measure = measure
    self.damping = damping
    self.memoryCap = memoryCap
    self.skipNonFinite = skipNonFinite
  }

  /// Scores every train row against the targets (see the type's formulas).
  ///
  /// - Parameters:
  ///   - checkpoints: one or more checkpoints; all train sources have the same
  ///     `N > 0` rows, all target sources the same `M > 0` rows, and each
  ///     checkpoint's train and target share `k`.
  ///   - targetGroups: `M` subtask labels (any integers); `nil` is one group.
  ///   - progress: called after each block with rows done and rows to do
  ///     (`influence` streams the pool twice, so `total` counts both passes).
  /// - Returns: `N` scores, `-∞` for skipped rows, and the skipped rows.
  /// - Throws: `.invalidArgument` (empty pool, bad weights or damping),
  ///   `.shapeMismatch`, `.nonFinite` naming the row and source,
  ///   `.outOfMemory` when the cap cannot hold one block, `.numerical`.
  /// - Complexity: O(C·N·k·G + C·M·k) time for `C` checkpoints and `G`
  ///   groups, plus O(C·(N·k² + k³)) for `influence`; O(memoryCap + N) memory.
  public func score(
    _ checkpoints: [ScoringCheckpoint], targetGroups: [Int]? = nil,
    progress: ((_ done: Int, _ total: Int) -> Void)? = nil
  ) throws -> ScoringResult {
    let plan = try ScoringPlan(self, checkpoints, targetGroups)
    // The disk reads the first block while the targets are prepared.
    for c in checkpoints { c.train.willRead(rows: 0..<min(plan.blockRows, c.train.rowCount)) }
    let pass = ScoringPass(plan: plan, checkpoints: checkpoints, progress: progress)
    if measure == .influence, skipNonFinite, checkpoints.count > 1 {
      try pass.findExcludedRows()
    }
    var directions = [[Float]]()
    for c in checkpoints.indices {
      directions.append(try pass.targetDirections(checkpoint: c))
    }
    return try pass.scorePool(directions: directions)
  }
}
