import Dispatch
import Foundation
import Winnow

/// Sparse JL figures at D = 2²⁷, N = 8, k = 8192 (a 4 GiB Float32 gradient):
/// `projection.sjlt.read` GB/s of gradient read by a plain sum of the same
/// array on all cores (the memory roofline), `projection.sjlt.s<S>` GB/s of
/// the SJLT (CountSketch at S = 1) against it, the half-precision input
/// (2 GiB), `projection.sjlt.s1.unaligned-rows` CountSketch at D ≈ 1.3·10⁸
/// (rows not a power of two apart, read in place), and `projection.dense.sjlt-shape`
/// the dense panel projection at that shape, extrapolated from a timed slice
/// of D (its cost is linear in D), which the SJLT figures are also measured
/// against.
func benchSparse(_ report: Report, _ options: Options) throws {
  let (n, d, k) = options.smoke ? (8, 1 << 20, 512) : (8, 1 << 27, 8192)
  let bytes = Double(n * d * 4)
  let x = filledBuffer(n * d, seed: 5)
  defer { x.deallocate() }
  let out = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
  defer { out.deallocate() }
  let read = "projection.sjlt.read"
  var sink: Float = 0
  // D = 2²⁷ puts the rows 512 MiB apart, a power of two, where the
  // kernel stages each row; at a LoRA-of-7B width (≈ 1.3·10⁸) it reads
  // them in place. Same array, same read. The read
  // and both CountSketch calls alternate, 5 rounds, best of each.
  let loraD = options.smoke ? (1 << 20) - 16 : 130_000_000
  let p1 = try SparseProjector(seed: 1, inputDim: d, outputDim: k, nonzeros: 1)
  let pl = try SparseProjector(seed: 1, inputDim: loraD, outputDim: k, nonzeros: 1)
  let times = try alternatedTimes(rounds: 5, [
    { sink += parallelSum(x, count: n * d) },
    { try p1.project(x, rows: n, into: out) },
    { try pl.project(x, rows: n, into: out) },
  ])
  let tr = times[0].min()!
  report.add(read, bytes / tr / 1e9, "GB/s",
             note: "sum of the same \(n) × \(d) Float32 array on all cores (sum \(sink))")
  /// The per-round ratios to the read beside them, as "lo-hi".
  func roundRatios(_ t: [Double], bytes b: Double) -> String {
    let r = zip(t, times[0]).map { (b / $0) / (bytes / $1) }
    return String(format: "%.2f-%.2f", r.min()!, r.max()!)
  }
  let dense = try denseSlice(x: x, n: n, d: d, k: k, options: options)
  report.add("projection.dense.sjlt-shape", bytes / dense / 1e9, "GB/s",
             note: "dense panels, \(n) × \(d) → \(k), extrapolated: \(String(format: "%.0f", dense)) s per call")
  /// `projection.sjlt.s<S>` against the read and the dense panels.
  func addSJLT(nonzeros s: Int, seconds t: Double, threads: Int, more: String = "") {
    let name = "projection.sjlt.s\(s)"
    report.add(name, bytes / t / 1e9, "GB/s", vs: read,
               note: "N=\(n), D=\(d), k=\(k), \(threads) threads: \(String(format: "%.3f", t)) s per call\(more)")
    report.add(name + ".vs-dense", bytes / t / 1e9, "GB/s", vs: "projection.dense.sjlt-shape")
  }
  addSJLT(nonzeros: 1, seconds: times[1].min()!, threads: p1.threads,
          more: ", rows staged; per-round ratio to the read \(roundRatios(times[1], bytes: bytes))")
  let p4 = try SparseProjector(seed: 1, inputDim: d, outputDim: k, nonzeros: 4)
  addSJLT(nonzeros: 4, seconds: try bestTime(repeats: 3, warmup: 1) { try p4.project(x, rows: n, into: out) },
          threads: p4.threads)
  let lBytes = Double(n * loraD * 4), tl = times[2].min()!
  report.add("projection.sjlt.s1.unaligned-rows", lBytes / tl / 1e9, "GB/s", vs: read,
             note: "N=\(n), D=\(loraD), rows read in place, k=\(k): \(String(format: "%.3f", tl)) s per call; "
               + "per-round ratio \(roundRatios(times[2], bytes: lBytes))")
  // Half precision: the same sketch reading half the bytes.
  let half = UnsafeMutablePointer<UInt16>.allocate(capacity: n * d)
  defer { half.deallocate() }
  for i in 0..<(n * d) { half[i] = Float16(x[i]).bitPattern }
  let p = try SparseProjector(seed: 1, inputDim: d, outputDim: k, nonzeros: 1)
  let th = try bestTime(repeats: 3, warmup: 1) { try p.project(half: half, rows: n, into: out) }
  report.add("projection.sjlt.s1.f16", Double(n * d * 2) / th / 1e9, "GB/s", vs: read,
             note: "half-precision input, \(String(format: "%.3f", th)) s per call (GB/s of fp16 read)")
}

/// The sum of `count` floats, split over all cores: one read of the array.
private func parallelSum(_ x: UnsafePointer<Float>, count: Int) -> Float {
  let parts = ProcessInfo.processInfo.activeProcessorCount
  let chunk = (count + parts - 1) / parts
  let sums = UnsafeMutablePointer<Float>.allocate(capacity: parts)
  defer { sums.deallocate() }
  nonisolated(unsafe) let (xs, ss) = (x, sums)
  DispatchQueue.concurrentPerform(iterations: parts) { p in
    let lo = p * chunk, hi = min(count, lo + chunk)
    // Four independent 8-wide accumulators: the adds never wait on each
    // other, so the loop is bound by memory, not by the add latency.
    var (a, b, c, d) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
    var i = lo
    while i + 32 <= hi {
      let p = UnsafeRawPointer(xs + i)
      a += p.loadUnaligned(as: SIMD8<Float>.self)
      b += p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
      c += p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
      d += p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
      i += 32
    }
    var s = ((a + b) + (c + d)).sum()
    while i < hi { s += xs[i]; i += 1 }
    ss[p] = s
  }
  return (0..<parts).reduce(0) { $0 + sums[$1] }
}

/// Seconds per dense projection of `n × d` to `k`, from a timed slice of
/// `d` (256 MiB panels, as the LoRA figure), scaled by `d / slice`.
private func denseSlice(
  x: UnsafePointer<Float>, n: Int, d: Int, k: Int, options: Options
) throws -> Double {
  let slice = options.smoke ? 8192 : 32_768
  let p = try DenseProjector(inputDim: d, outputDim: k, memoryBudget: 256 << 20)
  let piece = UnsafeMutablePointer<Float>.allocate(capacity: n * slice)
  defer { piece.deallocate() }
  for r in 0..<n { (piece + r * slice).update(from: x + r * d, count: slice) }
  let out = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
  defer { out.deallocate() }
  let t = try bestTime(repeats: 1, warmup: 0) {
    try p.project(piece: piece, rows: n, offset: 0, length: slice, into: out, accumulate: false)
  }
  return t * Double(d) / Double(slice)
}
