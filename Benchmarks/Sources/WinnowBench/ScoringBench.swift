import Winnow

/// The shapes of the in-memory scoring figures (the NumPy peers use the same).
struct ScoringSizes {
  var n: Int, k: Int, targets: Int, groups: Int, checkpoints: Int
  /// Influence: `N × k` train features (the `k × k` Gram matrix dominates).
  var influence: (n: Int, k: Int)

  init(smoke: Bool) {
    (n, k, targets, groups, checkpoints) = smoke ? (2048, 256, 32, 4, 2) : (32768, 8192, 256, 4, 2)
    influence = smoke ? (2048, 128) : (32768, 2048)
  }
}

/// In-memory scoring figures (rows/s):
/// - `scoring.cosine.memory`: LESS cosine over `C` checkpoints, `M` targets
///   in `G` subtasks, against `sgemm.roofline.scoring`: the sgemm the scorer
///   reduces to (`N × k` times `k × G` per checkpoint; memory-bound);
/// - `scoring.influence.memory`: TRAK-style influence, against
///   `sgemm.roofline.influence`: sgemm of `ΦᵀΦ` (`k × N` times `N × k`), the
///   Gram's full product; the scorer forms only its upper half (`ssyrk`)
///   and then makes a second pass, so this ratio is not a fraction of a
///   bound: read it as "influence scoring costs about one sgemm of ΦᵀΦ".
func benchScoring(_ report: Report, _ options: Options) throws {
  let s = ScoringSizes(smoke: options.smoke)
  let groups = (0..<s.targets).map { $0 % s.groups }
  // The scorer's pass: one N × k by k × G product per checkpoint.
  let gemm = 2 * Double(s.n) * Double(s.k) * Double(s.groups) * Double(s.checkpoints)
  let roofGF = sgemmRoofline(m: s.n, n: s.groups, k: s.k, transposeB: true)
  report.add("sgemm.roofline.scoring", roofGF * 1e9 / gemm * Double(s.n), "rows/s",
             note: "cblas_sgemm \(s.n) × \(s.k) times \(s.k) × \(s.groups), once per checkpoint (\(s.checkpoints))")
  var checkpoints = [ScoringCheckpoint]()
  for c in 0..<s.checkpoints {
    let train = try Matrix(rows: s.n, cols: s.k, storage: filledArray(s.n * s.k, seed: 30 + UInt32(c)))
    let target = try Matrix(rows: s.targets, cols: s.k, storage: filledArray(s.targets * s.k, seed: 40 + UInt32(c)))
    checkpoints.append(ScoringCheckpoint(train: train, target: target, weight: 1))
  }
  let cosine = Scorer(measure: .cosine, memoryCap: 4 << 30)
  let t = try bestTime { _ = try cosine.score(checkpoints, targetGroups: groups) }
  report.add("scoring.cosine.memory", Double(s.n) / t, "rows/s", vs: "sgemm.roofline.scoring",
             note: "N=\(s.n), k=\(s.k), M=\(s.targets) in \(s.groups) subtasks, \(s.checkpoints) checkpoints")
  // The roofline again, right beside our figure (see Report.improve).
  let roofAgain = sgemmRoofline(m: s.n, n: s.groups, k: s.k, transposeB: true)
  report.improve("sgemm.roofline.scoring", roofAgain * 1e9 / gemm * Double(s.n))
  checkpoints = []

  let (ni, ki) = s.influence
  let gram = 2 * Double(ni) * Double(ki) * Double(ki)
  let roofI = sgemmRoofline(m: ki, n: ki, k: ni)
  report.add("sgemm.roofline.influence", roofI * 1e9 / gram * Double(ni), "rows/s",
             note: "cblas_sgemm of ΦᵀΦ: \(ki) × \(ni) times \(ni) × \(ki)")
  let phi = try Matrix(rows: ni, cols: ki, storage: filledArray(ni * ki, seed: 50))
  let v = try Matrix(rows: s.targets, cols: ki, storage: filledArray(s.targets * ki, seed: 51))
  let influence = Scorer(measure: .influence, damping: 1e-3, memoryCap: 2 << 30)
  let ti = try bestTime(repeats: 2) {
    _ = try influence.score([ScoringCheckpoint(train: phi, target: v)], targetGroups: groups)
  }
  report.add("scoring.influence.memory", Double(ni) / ti, "rows/s", vs: "sgemm.roofline.influence",
             note: "N=\(ni), k=\(ki), M=\(s.targets): Gram (ssyrk) + Cholesky + a second pass")
}
