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

      A --train or --target may be a feature store directory (see `winnow store import`); its \
      shard checksums are verified first unless --no-verify. When both of a checkpoint are \
      stores, they must record the same projection map (kind, seed, nnz, K, D). Train rows are streamed in blocks \
      sized from --memory-cap, so pools larger than memory score in bounded memory.
      """
  )

  @Option(name: .long, help: "Train features, N × k, <f4/<f2 .npy or a store directory (one per checkpoint).")
  var train: [String] = []

  @Option(name: .long, help: "Target features, M × k, <f4/<f2 .npy (one per checkpoint).")
  var target: [String] = []

  @Option(name: .customLong("checkpoint-weight"), help: "Weight η_c of each checkpoint (default: equal).")
  var checkpointWeight: [Double] = []

  @Option(name: .customLong("target-groups"), help: "Integer subtask label per target row, .npy (M,).")
  var targetGroups: String?

  @Option(name: .long, help: "cosine, dot or influence.")
  var measure: ScoreMeasure = .cosine

  @Option(name: .long, help: "Damping λ > 0 of influence.")
  var damping: Float = 1e-3

  @Option(name: .customLong("memory-cap"), help: "Bytes for train blocks, targets and the Gram matrix (e.g. 512M).")
  var memoryCap: ByteCount = ByteCount(bytes: 1 << 30)

  @Flag(name: .customLong("skip-nonfinite"), help: "Give train rows with NaN/inf the score -inf instead of failing.")
  var skipNonFinite = false

  @Flag(name: .customLong("no-verify"), help: "Do not verify store shard checksums.")
  var noVerify = false

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
      checkpoints.append(
        ScoringCheckpoint(
          train: try openTrain(path), target: try openTarget(target[c], train: path),
          weight: checkpointWeight.isEmpty ? 1 : checkpointWeight[c]))
    }
    let groups = try targetGroups.map { try NPYArray(contentsOf: URL(fileURLWithPath: $0)).readInt64().map(Int.init) }
    let scorer = Scorer(
      measure: measure, damping: damping, memoryCap: memoryCap.bytes, skipNonFinite: skipNonFinite)
    var progress: Progress?
    let result = try scorer.score(checkpoints, targetGroups: groups) { done, total in
      if progress == nil { progress = Progress("score", total: total) }
      progress?.update(done)
    }
    progress?.finish()
    try NPYWriter.write(result.scores, shape: [result.scores.count], to: URL(fileURLWithPath: output))
    if !result.skippedRows.isEmpty {
      FileHandle.standardError.write(
        Data("skipped \(result.skippedRows.count) train rows with NaN or infinity (score -inf)\n".utf8))
    }
    if stats { printStats(since: started) }
  }

  private func openTrain(_ path: String) throws -> any FeatureSource {
    let url = URL(fileURLWithPath: path)
    if FeatureStore.isStore(url) { return try FeatureStore(directory: url, verifyChecksums: !noVerify) }
    return try openFeatures(path, role: "train features")
  }
}

/// Opens an `N × k` float `.npy` as features.
func openFeatures(_ path: String, role: String) throws -> NPYArray {
  let array = try NPYArray(contentsOf: URL(fileURLWithPath: path))
  try array.checkFeatureMatrix(role: role)
  return array
}

extension ScoreMeasure: ExpressibleByArgument {}
