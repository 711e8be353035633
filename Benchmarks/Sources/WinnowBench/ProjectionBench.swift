import Winnow

/// Dense projection at `N × D × K` against the sgemm roofline of that shape.
///
/// Reports the steady state (matrix cached, the usual case across the row
/// blocks of a pool), the first call (generation included) and the
/// panel-generating path used when `P` exceeds the memory budget.
func benchDenseProjection(_ report: Report, n: Int, d: Int, k: Int, tag: String) throws {
  let flop = 2 * Double(n) * Double(d) * Double(k)
  let roof = "sgemm.roofline.projection\(tag)"
  report.add(roof, sgemmRoofline(m: n, n: k, k: d), "GFLOP/s")
  let x = filledBuffer(n * d)
  let out = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
  defer { x.deallocate(); out.deallocate() }
  for kind in ProjectorKind.allCases {
    let name = "projection.dense.\(kind.rawValue)\(tag)"
    let bytes = d * k * 4
    if bytes <= 6 << 30 {
      let cached = try DenseProjector(kind: kind, inputDim: d, outputDim: k, memoryBudget: bytes)
      let first = try bestTime(repeats: 1, warmup: 0) { try cached.project(x, rows: n, into: out) }
      report.add(name + ".first-call", flop / first / 1e9, "GFLOP/s", vs: roof)
      let steady = try bestTime { try cached.project(x, rows: n, into: out) }
      report.add(name, flop / steady / 1e9, "GFLOP/s", vs: roof)
    }
    let paneled = try DenseProjector(kind: kind, inputDim: d, outputDim: k, memoryBudget: 256 << 20)
    let t = try bestTime(repeats: 2) { try paneled.project(x, rows: n, into: out) }
    report.add(name + ".panels-256MiB", flop / t / 1e9, "GFLOP/s", vs: roof)
  }
}
