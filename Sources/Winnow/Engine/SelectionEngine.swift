/// The training-time selection engine over a fixed candidate pool.
///
/// Each epoch the training loop calls, in this order:
/// 1. `beginEpoch(_:learningRate:)`;
/// 2. `addTarget(task:features:rows:dim:)` for every target task (rows may
///    come in several calls; all before the first candidate features);
/// 3. `addCandidates(…)` in batches: `B × k` projected features (LESS
///    features, DESIGN §2.2), optional per-sample losses and reference losses;
///    each sample at most once per epoch;
/// 4. `endEpoch()`, which returns the `EpochPlan` for the next epoch.
///
/// Scores are LESS's (Xia et al. 2024, "LESS: Selecting Influential Data for
/// Targeted Instruction Tuning"): rows are L2-normalized, the score of a
/// sample for a task is the mean cosine to that task's normalized target
/// rows, and the sample's score is the maximum over tasks. Per-task scores
/// are combined across epochs by `ScoreCombination`; samples never scored
/// get the lowest score seen. Calls out of order throw `.badState`, wrong
/// dimensions `.shapeMismatch`, NaN or infinite inputs `.nonFinite`; a call
/// that throws changes nothing.
///
/// Memory: `O(N·T)` for scores plus `O(N·k)` only under the `diversity`
/// policy, which keeps the epoch's normalized features.
/// Thread safety: none; one engine is used by one thread at a time.
public final class SelectionEngine {
  /// The sample id of each pool position (`N` distinct values).
  public let ids: [Int64]
  /// The domain of each pool position, in `0..<domainCount`.
  public let domains: [Int32]
  /// `K ≥ 1` (1 when no domains were given).
  public let domainCount: Int
  /// `k`: the dimension of candidate and target features.
  public let featureDim: Int
  /// `T ≥ 1`: the number of target tasks fed each epoch.
  public let taskCount: Int
  /// The current parameter values.
  public internal(set) var configuration = EngineConfiguration()
  /// The plan returned by the last `endEpoch`.
  public internal(set) var lastPlan: EpochPlan?
  /// Every pool position's inclusion probability in the last plan (`N` values).
  public internal(set) var inclusionProbabilities: [Double]
  /// When set, `endEpoch` appends the plan's audit line to this file.
  public var auditLogPath: String?
  /// Projects raw `D`-dimensional gradients to `k` inside the engine (the
  /// `…gradients…` entry points); `nil` when only features are fed.
  public let projector: DenseProjector?

  let positionOfID: [Int64: Int]
  var state: EngineState

  /// The number of candidates `N`.
  public var poolSize: Int { ids.count }

  /// Creates an engine over a pool.
  ///
  /// - Parameters:
  ///   - ids: `N ≥ 1` distinct sample ids.
  ///   - domains: `N` domain indices in `0..<K`, or `nil` for one domain.
  ///   - domainCount: `K`; defaults to the largest domain index + 1.
  ///   - featureDim: `k ≥ 1`.
  ///   - taskCount: `T` in `1...1024`.
  ///   - projector: for raw gradients, a `DenseProjector` with
  ///     `outputDim == featureDim`; its seed fixes the feature space.
  /// - Complexity: O(N).
  public init(
    ids: [Int64], domains: [Int32]? = nil, domainCount: Int? = nil,
    featureDim: Int, taskCount: Int = 1, projector: DenseProjector? = nil
  ) throws {
    guard !ids.isEmpty else { throw WinnowError.invalid("the candidate pool is empty") }
    guard featureDim >= 1 else { throw WinnowError.invalid("feature dim \(featureDim) < 1") }
    guard (1...1024).contains(taskCount) else {
      throw WinnowError.invalid("task count \(taskCount) is outside 1...1024")
    }
    if let projector, projector.outputDim != featureDim {
      throw WinnowError.shape(
        "the projector maps to k = \(projector.outputDim), the engine's feature dim is \(featureDim)")
    }
    try EngineState.checkFeasible(poolSize: ids.count, tasks: taskCount, domains: 1, dim: featureDim)
    var index = [Int64: Int](minimumCapacity: ids.count)
    for (i, id) in ids.enumerated() {
      guard index.updateValue(i, forKey: id) == nil else {
        throw WinnowError.invalid("sample id \(id) appears twice in the pool")
      }
    }
    let d = domains ?? [Int32](repeating: 0, count: ids.count)
    guard d.count == ids.count else {
      throw WinnowError.shape("\(d.count) domain ids for a pool of \(ids.count)")
    }
    let k = domainCount ?? (Int(d.max() ?? 0) + 1)
    guard k >= 1, k <= 1 << 20, d.allSatisfy({ $0 >= 0 && Int($0) < k }) else {
      throw WinnowError.invalid("domain ids must lie in 0..<\(k) (domain count \(k))")
    }
    try EngineState.checkFeasible(poolSize: ids.count, tasks: taskCount, domains: k, dim: featureDim)
    // Feasible, yet too large for BLAS (norms, step mode): refused here, not
    // at the first features.
    _ = try BLAS.int(featureDim, "feature dim k")
    self.ids = ids
    self.domains = d
    self.domainCount = k
    self.featureDim = featureDim
    self.taskCount = taskCount
    self.positionOfID = index
    self.projector = projector
    self.inclusionProbabilities = [Double](repeating: 0, count: ids.count)
    self.state = EngineState(poolSize: ids.count, tasks: taskCount, domains: k, dim: featureDim)
    _checkInvariants()
  }

  /// Sets one parameter; see `EngineParameter` for keys and ranges.
  ///
  /// Throws `.invalidArgument` out of range and `.badState` while an epoch is
  /// open (parameters are fixed for the duration of an epoch), unless that
  /// epoch's `endEpoch` failed: parameters may then change before the retry.
  public func setParameter(_ key: EngineParameter, _ value: Double) throws {
    try requireNoOpenEpoch()
    try configuration.set(key, value)
  }

  /// Sets a parameter from an integer (the C ABI's `wn_set_param_i64`).
  /// `.seed` goes to `setSeed` by bit pattern (-1 is `UInt64.max`); other
  /// keys as `setParameter(key, Double(value))`.
  public func setIntegerParameter(_ key: EngineParameter, _ value: Int64) throws {
    guard key == .seed else { return try setParameter(key, Double(value)) }
    try setSeed(UInt64(bitPattern: value))
  }

  /// Sets the seed of every random choice: any `UInt64`, the one range of
  /// `.seed`. `setParameter(.seed, x)` takes the whole doubles of that range.
  ///
  /// Throws `.badState` while an epoch is open (unless its `endEpoch` failed).
  public func setSeed(_ seed: UInt64) throws {
    try requireNoOpenEpoch()
    configuration.seed = seed
  }

  private func requireNoOpenEpoch() throws {
    guard !state.isOpen || state.endFailed else {
      throw WinnowError(.badState, "parameters cannot change while epoch \(state.epoch) is open")
    }
  }

  /// The current value of one parameter.
  public func parameter(_ key: EngineParameter) -> Double { configuration.value(of: key) }

  /// Sets the starting domain mixture (`K` positive weights, normalized here)
  /// and restarts the mixture rules from it. Not while an epoch is open
  /// (unless its `endEpoch` failed).
  public func setInitialMixture(_ weights: [Double]) throws {
    try requireNoOpenEpoch()
    guard weights.count == domainCount else {
      throw WinnowError.shape("\(weights.count) mixture weights for \(domainCount) domains")
    }
    guard weights.allSatisfy({ $0 > 0 && $0.isFinite }) else {
      throw WinnowError.invalid("initial mixture weights must be positive and finite")
    }
    state.resetMixture(Softmax.normalized(weights))
    _checkInvariants(perCandidate: false)
  }

  /// The mixture the next plan starts from (the last plan's, or the initial one).
  public var mixture: [Double] { MixtureSet(state).current(configuration.mixtureRule) }

  /// Opens an epoch.
  ///
  /// - Parameters:
  ///   - epoch: a number larger than any earlier epoch's (it keys the seeded
  ///     random choices).
  ///   - learningRate: `η_e > 0`, the weight of this epoch's scores under
  ///     `learningRateWeighted` combination.
  ///
  /// An open epoch whose `endEpoch` failed is abandoned here (`epoch` must
  /// then come after it): its candidates' scores stay folded in, its mixture
  /// signals are dropped and it makes no plan. Any other open epoch is
  /// `.badState`. `.invalidArgument` for a negative epoch, a learning rate
  /// that is not positive and finite, or `.unbiased` weighting under a
  /// policy other than `.stochastic` (only its inclusion probabilities are
  /// below 1), refused here rather than when the epoch ends.
  /// - Complexity: O(K·k + T·k).
  public func beginEpoch(_ epoch: Int, learningRate: Double = 1) throws {
    guard !state.isOpen || state.endFailed else {
      throw WinnowError(.badState, "epoch \(state.epoch) is still open; call endEpoch first")
    }
    guard epoch >= 0 else { throw WinnowError.invalid("epoch \(epoch) is negative") }
    if let last = state.lastEpoch, epoch <= last {
      throw WinnowError(.badState, "epoch \(epoch) does not come after epoch \(last)")
    }
    if state.isOpen, epoch <= state.epoch {
      throw WinnowError(.badState, "epoch \(epoch) does not come after the abandoned epoch \(state.epoch)")
    }
    guard learningRate > 0, learningRate.isFinite else {
      throw WinnowError.invalid("learning rate \(learningRate) must be positive and finite")
    }
    if configuration.weighting == .unbiased, configuration.policy != .stochastic {
      throw WinnowError.invalid(
        "unbiased weighting needs the stochastic policy (the policy is \(configuration.policy)): "
          + "set the policy or the weighting before the epoch begins")
    }
    let keep = configuration.policy == .diversity
    if keep {  // the epoch's N × k unit-norm features
      _ = try CheckedSize.allocatable([poolSize, featureDim], elementSize: 4, "the diversity policy's features")
    }
    state.open(epoch: epoch, learningRate: learningRate, keepFeatures: keep)
    _checkInvariants()
  }
}
