/// How a train feature `φ(z)` is compared with a target feature `φ(v)`.
public enum ScoreMeasure: String, CaseIterable, Sendable {
  /// `φ(z)·φ(v) / (‖φ(z)‖·‖φ(v)‖)`: LESS's default (rows L2-normalized after
  /// projection). A zero row stays zero, as in LESS's `normalize`, so its
  /// cosine with everything is 0.
  case cosine
  /// The raw inner product `φ(z)·φ(v)`.
  case dot
  /// TRAK-style influence `φ(z)ᵀ (ΦᵀΦ + λI)⁻¹ φ(v)` with `Φ` the `N × k`
  /// train features of the checkpoint and damping `λ > 0` (DESIGN §2.3).
  case influence
}

/// One checkpoint's features: the candidate pool and the targets, both
/// projected with the same projector, plus the checkpoint's weight `η_c`.
public struct ScoringCheckpoint {
  /// Train (candidate) features, `N × k`; the Adam transform already applied.
  public var train: any FeatureSource
  /// Target (validation) features, `M × k`: plain projected gradients.
  public var target: any FeatureSource
  /// The checkpoint's weight (LESS: the epoch's mean learning rate); weights
  /// are renormalized to sum to 1 across checkpoints.
  public var weight: Double

  public init(train: any FeatureSource, target: any FeatureSource, weight: Double = 1) {
    self.train = train
    self.target = target
    self.weight = weight
  }
}

/// What `Scorer.score` produces.
public struct ScoringResult: Sendable, Hashable {
  /// One score per train row (`N`); `-Float.infinity` for skipped rows, which
  /// `Selection` treats as excluded.
  public var scores: [Float]
  /// The train rows skipped because some checkpoint's row held NaN or
  /// infinity (only with `skipNonFinite`), ascending.
  public var skippedRows: [Int]
  /// The number of target subtask groups the max was taken over.
  public var groupCount: Int
}
