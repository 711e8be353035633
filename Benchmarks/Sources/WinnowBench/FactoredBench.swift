import CBenchBLAS
import Winnow

/// The shape of the factored-projection figures (issue 5).
struct FactoredSizes {
  var dIn: Int, dOut: Int, tokens: Int, kIn: Int, kOut: Int
  /// Samples per batch, for the projections and the ghost Gram matrix.
  var batch: Int
  /// Rows of `P` timed for the dense side before extrapolating to `d_in·d_out`.
  var denseSliceRows: Int

  init(smoke: Bool) {
    (dIn, dOut, tokens, kIn, kOut) = smoke ? (64, 64, 16, 8, 8) : (4096, 4096, 512, 64, 64)
    batch = smoke ? 4 : 64
    denseSliceRows = smoke ? 1024 : 1 << 18
  }
}

/// Factored-projection figures:
/// - `projection.kronecker`: samples/s of `(Δ P_out)ᵀ (A P_in)` for a batch;
/// - `projection.dense.materialized.extrapolated`: samples/s of forming
///   `G = Δᵀ A` and projecting it densely to the same `k_in·k_out` features,
///   timed on a slice of `P`'s rows and extrapolated to all `d_in·d_out`
///   (a `16.7M × 4096` `P` cannot be run whole);
/// - `ghost.gram.batch`: seconds for the exact `S × S` Gram matrix of a batch.
func benchFactored(_ report: Report, _ options: Options) throws {
  let s = FactoredSizes(smoke: options.smoke)
  let rows = s.batch * s.tokens
  let layer = LinearLayerSpec(id: 0, inputDim: s.dIn, outputDim: s.dOut, inputRank: s.kIn, outputRank: s.kOut)
  let a = filledArray(rows * s.dIn, seed: 3), d = filledArray(rows * s.dOut, seed: 4)
  let counts = [Int](repeating: s.tokens, count: s.batch)
  report.add("sgemm.roofline.factored", sgemmRoofline(m: rows, n: s.kIn, k: s.dIn), "GFLOP/s",
             note: "cblas_sgemm \(rows) × \(s.dIn) times \(s.dIn) × \(s.kIn): the A·P_in shape")

  let projector = try FactoredProjector(layers: [layer], seed: 1)
  let t = try a.withUnsafeBufferPointer { ab in
    try d.withUnsafeBufferPointer { db in
      let f = [LayerFactors(layerID: 0, inputs: .float32(ab), outputGradients: .float32(db))]
      return try bestTime { _ = try projector.project(tokenCounts: counts, layers: f) }
    }
  }
  let flop = 2 * Double(rows) * Double(s.dIn * s.kIn + s.dOut * s.kOut + s.kIn * s.kOut)
  report.add("projection.kronecker.gflops", flop / t / 1e9, "GFLOP/s", vs: "sgemm.roofline.factored")

  let dense = try denseMaterializedSeconds(s, a: a, d: d)
  report.add("projection.dense.materialized.extrapolated", Double(s.batch) / dense, "samples/s",
             note: "G = Δᵀ A formed per sample, then dense P (\(s.dIn * s.dOut) × \(s.kIn * s.kOut)) "
               + "in 256 MiB panels; P timed on \(s.denseSliceRows) rows and scaled to all")
  report.add("projection.kronecker", Double(s.batch) / t, "samples/s",
             vs: "projection.dense.materialized.extrapolated",
             note: "d_in=\(s.dIn), d_out=\(s.dOut), T=\(s.tokens), k_in=\(s.kIn), k_out=\(s.kOut), batch \(s.batch)")
  try benchGhost(report, s, layer: layer, a: a, d: d, counts: counts)
}

/// Seconds for a batch on the dense side: materialize each `G_s` (one sgemm
/// per sample) plus a dense projection of all of them, extrapolated from a
/// slice of `P` rows (its cost is linear in rows, generation included).
private func denseMaterializedSeconds(_ s: FactoredSizes, a: [Float], d: [Float]) throws -> Double {
  let big = s.dIn * s.dOut, k = s.kIn * s.kOut
  let g = UnsafeMutablePointer<Float>.allocate(capacity: big)
  defer { g.deallocate() }
  let materialize = a.withUnsafeBufferPointer { ab in
    d.withUnsafeBufferPointer { db in
      bestTime(repeats: 2) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(s.dOut), Int32(s.dIn), Int32(s.tokens),
                    1, db.baseAddress!, Int32(s.dOut), ab.baseAddress!, Int32(s.dIn), 0, g, Int32(s.dIn))
      }
    }
  }
  let slice = min(s.denseSliceRows, big)
  let x = filledBuffer(s.batch * slice)
  let out = UnsafeMutablePointer<Float>.allocate(capacity: s.batch * k)
  defer { x.deallocate(); out.deallocate() }
  let p = try DenseProjector(inputDim: big, outputDim: k, memoryBudget: min(256 << 20, slice * k * 4 / 4))
  let tSlice = try bestTime(repeats: 2) {
    try p.project(piece: x, rows: s.batch, offset: 0, length: slice, into: out, accumulate: false)
  }
  return materialize * Double(s.batch) + tSlice * Double(big) / Double(slice)
}

/// `ghost.gram.batch`: the exact Gram matrix of a batch of `S` samples
/// (the cheaper of the ghost and materialized paths, as the library picks),
/// and `ghost.target.batch`: dot products of the batch with a target gradient.
private func benchGhost(
  _ report: Report, _ s: FactoredSizes, layer: LinearLayerSpec, a: [Float], d: [Float], counts: [Int]
) throws {
  let ghost = try GhostDotProducts(layers: [layer])
  try a.withUnsafeBufferPointer { ab in
    try d.withUnsafeBufferPointer { db in
      let f = [LayerFactors(layerID: 0, inputs: .float32(ab), outputGradients: .float32(db))]
      var paths: [GhostPath] = []
      let t = try bestTime(repeats: 1, warmup: 0) { paths = try ghost.gram(tokenCounts: counts, layers: f).paths }
      report.add("ghost.gram.batch", t, "s",
                 note: "exact \(s.batch) × \(s.batch) Gram, T=\(s.tokens), \(s.dIn)×\(s.dOut), path \(paths.map(\.rawValue))")
      let target = [LayerTarget(layerID: 0, gradient: .factors(
        inputs: .float32(UnsafeBufferPointer(rebasing: ab[0..<s.tokens * s.dIn])),
        outputGradients: .float32(UnsafeBufferPointer(rebasing: db[0..<s.tokens * s.dOut])),
        tokenCount: s.tokens))]
      let tt = try bestTime(repeats: 2) {
        paths = try ghost.dotProducts(tokenCounts: counts, layers: f, targets: target).paths
      }
      report.add("ghost.target.batch", tt, "s",
                 note: "exact ⟨G_i, G_target⟩ for \(s.batch) samples, path \(paths.map(\.rawValue))")
    }
  }
}
