import Winnow

/// The shapes of the dense-projection figures.
struct ProjectionSizes {
  /// `N × D × K` of the headline figure (a batch of full gradients).
  var main: (n: Int, d: Int, k: Int)
  /// A LoRA-like `D` in the millions: `P` (`D × K`) never fits, so panels.
  var lora: (n: Int, d: Int, k: Int)
  /// Bytes of one generated panel of `P`.
  var panelBudget: Int

  init(smoke: Bool) {
    main = smoke ? (32, 4096, 512) : (256, 65536, 8192)
    lora = smoke ? (8, 65536, 512) : (32, 2 << 20, 8192)
    panelBudget = smoke ? 1 << 20 : 256 << 20
  }
}

/// Dense projection figures: `projection.dense.<kind>[.first-call|.panels]`
/// at `N × D × K`, and `projection.dense.<kind>.lora` at a LoRA-sized `D`,
/// each against the sgemm roofline of the same shape.
func benchProjection(_ report: Report, _ options: Options) throws {
  let s = ProjectionSizes(smoke: options.smoke)
  try benchDenseProjection(report, n: s.main.n, d: s.main.d, k: s.main.k, panelBudget: s.panelBudget)
  try benchLoRAProjection(report, n: s.lora.n, d: s.lora.d, k: s.lora.k, panelBudget: s.panelBudget)
}

/// Dense projection at `N × D × K` against the sgemm roofline of that shape.
///
/// Reports the steady state (matrix cached, the usual case across the row
/// blocks of a pool), the first call (generation included) and the
/// panel-generating path used when `P` exceeds the memory budget.
func benchDenseProjection(_ report: Report, n: Int, d: Int, k: Int, panelBudget: Int) throws {
  let flop = 2 * Double(n) * Double(d) * Double(k)
  let roof = "sgemm.roofline.projection"
  report.add(roof, sgemmRoofline(m: n, n: k, k: d), "GFLOP/s",
             note: "cblas_sgemm \(n) × \(d) times \(d) × \(k), both in memory")
  let x = filledBuffer(n * d)
  let out = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
  defer { x.deallocate(); out.deallocate() }
  for kind in ProjectorKind.allCases {
    let name = "projection.dense.\(kind.rawValue)"
    let bytes = d * k * 4
    let cached = try DenseProjector(kind: kind, inputDim: d, outputDim: k, memoryBudget: bytes)
    let first = try wallTime { try cached.project(x, rows: n, into: out) }
    report.add(name + ".first-call", flop / first / 1e9, "GFLOP/s", vs: roof,
               note: "P (\(bytes >> 20) MiB) generated, then multiplied")
    let steady = try bestTime { try cached.project(x, rows: n, into: out) }
    report.add(name, flop / steady / 1e9, "GFLOP/s", vs: roof, note: "P cached")
    // The roofline again, right beside our figures (see Report.improve).
    report.improve(roof, sgemmRoofline(m: n, n: k, k: d))
    let batch = min(16, n)
    let small = try bestTime { try cached.project(x, rows: batch, into: out) }
    report.add(name + ".batch16", Double(batch) / small, "samples/s",
               note: "P cached, one call with a batch of \(batch) (LESS's)")
    let paneled = try DenseProjector(kind: kind, inputDim: d, outputDim: k, memoryBudget: panelBudget)
    let t = try bestTime(repeats: 2) { try paneled.project(x, rows: n, into: out) }
    report.add(name + ".panels", flop / t / 1e9, "GFLOP/s", vs: roof,
               note: "P regenerated every call in \(panelBudget >> 20) MiB panels")
    report.improve(roof, sgemmRoofline(m: n, n: k, k: d))
  }
}

/// Dense projection at a LoRA-like `D` (millions): `P` is `D × K`, far over
/// any budget, so every call regenerates it panel by panel. The roofline is
/// sgemm of one panel's shape (`N × panelRows × K`) with the panel in memory.
func benchLoRAProjection(_ report: Report, n: Int, d: Int, k: Int, panelBudget: Int) throws {
  let flop = 2 * Double(n) * Double(d) * Double(k)
  let panelRows = panelBudget / (4 * k)
  let roof = "sgemm.roofline.projection.lora"
  report.add(roof, sgemmRoofline(m: n, n: k, k: panelRows), "GFLOP/s",
             note: "cblas_sgemm of one panel: \(n) × \(panelRows) times \(panelRows) × \(k)")
  let x = filledBuffer(n * d)
  let out = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
  defer { x.deallocate(); out.deallocate() }
  for kind in ProjectorKind.allCases {
    let p = try DenseProjector(kind: kind, inputDim: d, outputDim: k, memoryBudget: panelBudget)
    let t = try bestTime(repeats: 1, warmup: 0) { try p.project(x, rows: n, into: out) }
    report.add("projection.dense.\(kind.rawValue).lora", flop / t / 1e9, "GFLOP/s", vs: roof,
               note: "N=\(n), D=\(d), K=\(k): \(String(format: "%.2f", t)) s per call, "
                 + "\(panelBudget >> 20) MiB panels")
  }
}
