/// What the training loop does next epoch: which samples, with what weights,
/// in what domain mixture.
public struct EpochPlan: Sendable, Equatable {
  /// How a plan came about.
  public enum Kind: Int32, Sendable {
    /// Computed by the selection policy from this epoch's state.
    case planned = 0
    /// A warm-up plan: the full pool or a seeded random subset.
    case warmup = 1
    /// The last planned selection, reused because of `selectEvery`.
    case reused = 2
  }

  /// The epoch whose `endEpoch` produced the plan.
  public var epoch: Int
  public var kind: Kind
  /// The policy that chose the samples (`topFraction` for warm-up plans).
  public var policy: SelectionPolicy
  /// Positions in the pool of the selected samples: best first for the
  /// deterministic policies, greedy order for `diversity`, ascending otherwise.
  public var positions: [Int]
  /// The sample ids of `positions`.
  public var ids: [Int64]
  /// One training weight per selected sample.
  public var weights: [Float]
  /// Each selected sample's inclusion probability (1 for deterministic choices).
  public var inclusion: [Double]
  /// The domain mixture `α` for the next epoch (`K` values summing to 1).
  public var mixture: [Double]
  /// The time average of the mixtures so far (DoReMi's output; equals
  /// `mixture` for the other rules).
  public var mixtureAverage: [Double]
  /// How many selected samples fall in each domain (`K` values).
  public var domainCounts: [Int]

  /// The number of selected samples.
  public var count: Int { positions.count }
}
