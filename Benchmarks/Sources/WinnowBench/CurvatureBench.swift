import CBenchBLAS
import Winnow

/// K-FAC / EK-FAC figures (issue 16), per square layer `d_in = d_out = d`:
/// - `kfac.accumulate.d…`: GFLOP/s of streaming `AᵀA`, `ΔᵀΔ` (`ssyrk`,
///   `T·d²` flops each) against `cblas_sgemm` of the same `d × T × d` shape;
/// - `kfac.fit.d…`: seconds of the two eigendecompositions (`ssyevd`);
/// - `kfac.whitener.d…`: seconds to form `(X + λI)^{-1/2}` of both sides;
/// - `kfac.whiten.d…`: GFLOP/s of whitening a batch (`2·T·2d²`) against
///   `cblas_sgemm` of the `T × d × d` shape;
/// - `features.{plain,kfac,kfac.unfolded,ekfac}.d…`: samples/s of making a
///   batch's features: the factored projection alone; K-FAC with the
///   whitening folded into the maps (same `k`, so scoring costs the same);
///   whitening the factors first, then projecting; and EK-FAC's eigenbasis
///   features (`d²` per sample: the cost of not factoring);
/// - `score.{plain,ekfac}.d…`: candidates/s of scoring those features
///   against 64 targets (`sgemm`), `k` vs `d²` wide.
func benchCurvature(_ report: Report, _ options: Options) throws {
  let dims = options.smoke ? [32] : [256, 1024, 2048]
  let samples = options.smoke ? 8 : 64, tokens = options.smoke ? 8 : 128
  let (kIn, kOut) = options.smoke ? (4, 4) : (64, 64)
  for d in dims {
    try benchCurvatureLayer(report, d: d, samples: samples, tokens: tokens, kIn: kIn, kOut: kOut)
  }
}

private func benchCurvatureLayer(
  _ report: Report, d: Int, samples: Int, tokens: Int, kIn: Int, kOut: Int
) throws {
  let rows = samples * tokens
  let layer = LinearLayerSpec(id: 7, inputDim: d, outputDim: d, inputRank: kIn, outputRank: kOut)
  let a = filledArray(rows * d, seed: 5), g = filledArray(rows * d, seed: 6)
  let counts = [Int](repeating: tokens, count: samples)
  try a.withUnsafeBufferPointer { ab in
    try g.withUnsafeBufferPointer { gb in
      let f = [LayerFactors(layerID: 7, inputs: .float32(ab), outputGradients: .float32(gb))]
      let tag = "d\(d)"
      report.add("sgemm.roofline.kfac.accumulate.\(tag)", sgemmRoofline(m: d, n: d, k: rows), "GFLOP/s",
                 note: "cblas_sgemm \(d) × \(rows) times \(rows) × \(d)")
      var curvature = try KroneckerCurvature(layers: [layer])
      let tAccumulate = try bestTime(repeats: 2) {
        var c = try KroneckerCurvature(layers: [layer])
        try c.accumulate(tokenCounts: counts, layers: f)
      }
      report.add("kfac.accumulate.\(tag)", 2 * Double(rows) * Double(d * d) / tAccumulate / 1e9, "GFLOP/s",
                 vs: "sgemm.roofline.kfac.accumulate.\(tag)",
                 note: "two ssyrk (T·d² flops each, the upper triangle), T = \(rows) tokens")
      try curvature.accumulate(tokenCounts: counts, layers: f)
      let tFit = try wallTime { try curvature.fit() }
      report.add("kfac.fit.\(tag)", tFit, "s", note: "LAPACKE_ssyevd of C and S, \(d) × \(d) each")
      var whitener = try curvature.whitener()
      let tWhitener = try bestTime(repeats: 2) { whitener = try curvature.whitener() }
      report.add("kfac.whitener.\(tag)", tWhitener, "s", note: "Q diag((e+λ)^-1/2) Qᵀ, both sides")

      report.add("sgemm.roofline.kfac.whiten.\(tag)", sgemmRoofline(m: rows, n: d, k: d), "GFLOP/s",
                 note: "cblas_sgemm \(rows) × \(d) times \(d) × \(d)")
      let tWhiten = try bestTime(repeats: 2) { _ = try whitener.whiten(rows: rows, layers: f) }
      report.add("kfac.whiten.\(tag)", 4 * Double(rows) * Double(d * d) / tWhiten / 1e9, "GFLOP/s",
                 vs: "sgemm.roofline.kfac.whiten.\(tag)", note: "A·M_C and Δ·M_S, T = \(rows)")

      let projector = try FactoredProjector(layers: [layer], seed: 1)
      let tPlain = try bestTime(repeats: 2) { _ = try projector.project(tokenCounts: counts, layers: f) }
      report.add("features.plain.\(tag)", Double(samples) / tPlain, "samples/s",
                 note: "factored projection, k = \(kOut)·\(kIn), T = \(tokens) per sample")
      let tKFAC = try bestTime(repeats: 2) {
        let w = try whitener.whiten(rows: rows, layers: f)
        try LayerFactors.withMatrices(w) { _ = try projector.project(tokenCounts: counts, layers: $0) }
      }
      report.add("features.kfac.unfolded.\(tag)", Double(samples) / tKFAC, "samples/s", vs: "features.plain.\(tag)",
                 note: "whitening the factors, then the same projection")
      let folded = try FactoredProjector(whitening: projector, by: whitener)
      let tFolded = try bestTime(repeats: 2) { _ = try folded.project(tokenCounts: counts, layers: f) }
      report.add("features.kfac.\(tag)", Double(samples) / tFolded, "samples/s", vs: "features.plain.\(tag)",
                 note: "the whitening folded into the maps (M_C P_in, M_S P_out): K-FAC features of the same k")
      try curvature.accumulateCorrections(tokenCounts: counts, layers: f)
      let tEKFAC = try bestTime(repeats: 2) {
        _ = try curvature.eigenbasisFeatures(tokenCounts: counts, layers: f, method: .ekfac)
      }
      report.add("features.ekfac.\(tag)", Double(samples) / tEKFAC, "samples/s", vs: "features.plain.\(tag)",
                 note: "EK-FAC eigenbasis features, \(d * d) floats per sample (unprojected)")
      benchScoreWidths(report, tag: tag, k: kIn * kOut, wide: d * d)
    }
  }
}

/// Candidates/s of `N × width` features times `width × 64` targets.
private func benchScoreWidths(_ report: Report, tag: String, k: Int, wide: Int) {
  let targets = 64
  for (name, width) in [("plain", k), ("ekfac", wide)] {
    let n = max(64, min(65_536, (256 << 20) / (4 * width)))
    let x = filledBuffer(n * width), t = filledBuffer(width * targets, seed: 2)
    let out = UnsafeMutablePointer<Float>.allocate(capacity: n * targets)
    defer { x.deallocate(); t.deallocate(); out.deallocate() }
    let seconds = bestTime(repeats: 2) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(targets), Int32(width),
                  1, x, Int32(width), t, Int32(targets), 0, out, Int32(targets))
    }
    report.add("score.\(name).\(tag)", Double(n) / seconds, "candidates/s",
               vs: name == "plain" ? nil : "score.plain.\(tag)",
               note: "\(width) features per candidate against \(targets) targets (sgemm)")
  }
}
