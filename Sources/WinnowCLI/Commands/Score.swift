import ArgumentParser
import Foundation
import Winnow

/// `winnow score`: LESS/TRAK scores of a candidate pool against targets.
struct Score: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Score every candidate (train row) by gradient similarity to the targets.",
    discussion: """
      One --train, --target and (optionally) --checkpoint-weight per checkpoint c, in order. \
      Weights η_c are renormalized to sum to 1. For train features φ (N × k) and target \
      features v (M × k) of each checkpoint:
        cosine     S_c(i,j) = ⟨φ_i/‖φ_i‖, v_j/‖v_j‖⟩   (LESS's default; a zero row stays zero)
        dot        S_c(i,j) = ⟨φ_i, v_j⟩
        influence  S_c(i,j) = φ_iᵀ (ΦᵀΦ + λI)⁻¹ v_j   (Cholesky, damping λ = --damping)
      score(i) = max over target groups g of  mean_{j∈g} Σ_c η_c S_c(i,j)
      Groups come from --target-groups (an integer label per target row; default: one group) \
      and may differ in size. The output is <f4 of shape (N,); rows skipped with \
      --skip-nonfinite score -inf, which `winnow select` never selects.

      A --train or --target may be a feature store directory (see `winnow store import`). A \
      train store's shard checksums (SHA-256) are verified unless --no-verify: each block is \
      hashed as it is read for scoring, on a second thread, and a mismatch fails the command, \
      naming the shard, before any output is written (a target store is verified when opened). \
      When both record their projection (tool, kind, seed, k, model id) and these differ, \
      scoring is refused unless --allow-mixed-projections. Train rows are streamed in blocks \
      sized from --memory-cap, so pools larger than memory score in bounded memory.

      K-FAC / EK-FAC features (stores imported with `winnow store import --preconditioner`) \
      are already preconditioned: their dot product is the influence g_iᵀ(H + λI)⁻¹g_j. With \
      such a store --measure defaults to dot (cosine is its normalised form), and influence \
      is refused, since it would apply TRAK's (ΦᵀΦ + λI)⁻¹ on top and precondition twice. \
      Train and target stores must record the same preconditioner (method, damping, \
      curvature file checksum), or none, unless --allow-mixed-projections.
      """
  )

  @Option(name: .long, help: "Train features, N × k, <f4/<f2 .npy or a store directory (one per checkpoint).")
  var train: [String] = []

  @Option(name: .long, help: "Target features, M × k, <f4/<f2 .npy or a store directory (one per checkpoint).")
  var target: [String] = []

  @Option(name: .customLong("checkpoint-weight"), help: "Weight η_c of each checkpoint (default: a store's recorded weight, else equal).")
  var checkpointWeight: [Double] = []

  @Option(name: .customLong("target-groups"), help: "Integer subtask label per target row, .npy (M,).")
  var targetGroups: String?

  @Option(name: .long, help: "cosine, dot or influence (default: cosine; dot for K-FAC / EK-FAC stores).")
  var measure: ScoreMeasure?

  @Option(name: .long, help: "Damping λ > 0 of influence.")
  var damping: Float = 1e-3

  @Option(name: .customLong("memory-cap"), help: "Bytes for train blocks, targets and the Gram matrix (e.g. 512M).")
  var memoryCap: ByteCount = ByteCount(bytes: 1 << 30)

  @Flag(name: .customLong("skip-nonfinite"), help: "Give train rows with NaN/inf the score -inf instead of failing.")
  var skipNonFinite = false

  @Flag(name: .customLong("no-verify"), help: "Do not verify store shard checksums.")
  var noVerify = false

  @Flag(name: .customLong("allow-mixed-projections"), help: "Score stores of different recorded projections anyway.")
  var allowMixedProjections = false

  @Option(name: .long, help: "Output scores, <f4 .npy of shape (N,).")
  var output: String

  @Flag(name: .long, help: "Print elapsed time and peak memory to stderr at the end.")
  var stats = false

  func validate() throws {
    guard !train.isEmpty else { throw ValidationError("give at least one --train") }
    guard train.count == target.count else {
      throw ValidationError("\(train.count) --train but \(target.count) --target: give one of each per checkpoint")
    }
    guard checkpointWeight.isEmpty || checkpointWeight.count == train.count else {
      throw ValidationError("\(checkpointWeight.count) --checkpoint-weight for \(train.count) checkpoints")
    }
    try checkOutputFolder(output)
  }

  func run() throws {
    let started = Date()
    var checkpoints = [ScoringCheckpoint]()
    for (c, path) in train.enumerated() {
      let pool = try openTrain(path), targets = try openTarget(target[c])
      if !allowMixedProjections {
        try checkProjections(train: pool, target: targets, trainPath: path, targetPath: target[c])
      }
      checkpoints.append(
        ScoringCheckpoint(
          train: pool, target: targets,
          weight: checkpointWeight.isEmpty ? ((pool as? FeatureStore)?.metadata.weight ?? 1) : checkpointWeight[c]))
    }
    let measure = try chooseMeasure(checkpoints)
    let groups = try targetGroups.map { try NPYArray(contentsOf: URL(fileURLWithPath: $0)).readInt64().map(Int.init) }
    let scorer = Scorer(
      measure: measure, damping: damping, memoryCap: memoryCap.bytes, skipNonFinite: skipNonFinite)
    var progress: Progress?
    let result = try scorer.score(checkpoints, targetGroups: groups) { done, total in
      if progress == nil { progress = Progress("score", total: total) }
      progress?.update(done)
    }
    progress?.finish()
    // Every shard's verdict before any output: the scan hashed each block
    // as it read it; this hashes what was not read (nothing, normally).
    for case let store as FeatureStore in checkpoints.map(\.train) { try store.finishVerification() }
    try NPYWriter.write(result.scores, shape: [result.scores.count], to: URL(fileURLWithPath: output))
    if !result.skippedRows.isEmpty {
      FileHandle.standardError.write(
        Data("skipped \(result.skippedRows.count) train rows with NaN or infinity (score -inf)\n".utf8))
    }
    if stats { printStats(since: started) }
  }

  /// `--measure`, or its default: `dot` when a store holds preconditioned
  /// (K-FAC / EK-FAC) features, else `cosine`. Refuses `influence` on
  /// preconditioned features, and says on stderr which preconditioner the
  /// scores are dot products under.
  private func chooseMeasure(_ checkpoints: [ScoringCheckpoint]) throws -> ScoreMeasure {
    let recorded = checkpoints.flatMap { [preconditioner(of: $0.train), preconditioner(of: $0.target)] }
    guard let first = recorded.compactMap({ $0 }).first else { return measure ?? .cosine }
    let chosen = measure ?? .dot
    if chosen == .influence {
      throw WinnowError(
        .invalidArgument,
        "--measure influence on K-FAC / EK-FAC features (\(first.method.rawValue)) would precondition twice: "
          + "their dot product is already the influence g_iᵀ(H + λI)⁻¹g_j, and influence would apply "
          + "(ΦᵀΦ + λI)⁻¹ on top. Use --measure dot (the default for these stores) or cosine.")
    }
    FileHandle.standardError.write(
      Data("score: --measure \(chosen.rawValue) on preconditioned features: \(first)\n".utf8))
    return chosen
  }

  private func openTrain(_ path: String) throws -> any FeatureSource {
    let url = URL(fileURLWithPath: path)
    if FeatureStore.isStore(url) {
      return try FeatureStore(directory: url, verification: noVerify ? .none : .whileReading)
    }
    return try openFeatures(path, role: "train features")
  }

  private func openTarget(_ path: String) throws -> any FeatureSource {
    let url = URL(fileURLWithPath: path)
    if FeatureStore.isStore(url) { return try FeatureStore(directory: url, verifyChecksums: !noVerify) }
    return try openFeatures(path, role: "target features")
  }
}

/// Opens an `N × k` float `.npy` as features.
func openFeatures(_ path: String, role: String) throws -> NPYArray {
  let array = try NPYArray(contentsOf: URL(fileURLWithPath: path))
  try array.checkFeatureMatrix(role: role)
  return array
}

extension ScoreMeasure: ExpressibleByArgument {}
