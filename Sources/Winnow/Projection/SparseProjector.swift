import Dispatch
#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// A sparse JL map (SJLT; CountSketch when `s = 1`), DESIGN 2.8:
/// `φ(g)_h = Σ_i Σ_{t<s} [h_t(i) = h] · σ_t(i) · g_i / √s`.
///
/// Each input coordinate `i` has exactly `s` nonzeros, one in each of `s`
/// blocks of the `k` outputs (Kane & Nelson 2014, "Sparser
/// Johnson–Lindenstrauss transforms", block construction), with buckets and
/// signs a pure function of `(seed, i, t)` through the counter RNG of
/// `RandomMatrix`. Nothing is stored or generated ahead: the projection is
/// one read of the gradient and `s` scatter-adds per coordinate, so it
/// reaches `D ≈ 10⁸` where a dense `D × k` matrix cannot.
///
/// Features depend only on `(seed, s, D, k)` and the input: every output is
/// summed in ascending coordinate order in a fixed-order C kernel, so they
/// are bit-identical for any batch size and thread count. Pieces at global
/// offsets sum to the features of the whole gradient, up to float rounding.
///
/// Thread safety: immutable apart from `threads`; calls may run concurrently.
public final class SparseProjector: @unchecked Sendable {
  /// The key of the map; the same seed gives the same features.
  public let seed: UInt64
  /// `s`, the nonzeros per input coordinate, `1 ≤ s ≤ min(k, maxNonzeros)`.
  public let nonzeros: Int
  /// `D`, the input (gradient) dimension.
  public let inputDim: Int
  /// `k`, the output (feature) dimension.
  public let outputDim: Int
  /// Worker threads; rows are split between them (results do not depend on it).
  public var threads: Int

  let scale: Float

  /// The largest `s` the kernel accepts.
  public static var maxNonzeros: Int { Kernels.sparseJLMaxNonzeros }

  /// Creates the map from `D` to `k` dimensions with `s` nonzeros a coordinate.
  ///
  /// - Parameters:
  ///   - seed: the key of the map.
  ///   - inputDim: `D ≥ 1`.
  ///   - outputDim: `k` in `1 ..< 2³²`, any value.
  ///   - nonzeros: `s` in `1 ... min(k, maxNonzeros)`; 1 is CountSketch.
  public init(seed: UInt64 = 0, inputDim: Int, outputDim: Int, nonzeros: Int = 1) throws {
    guard inputDim >= 1 else { throw WinnowError.invalid("input dimension D = \(inputDim) must be ≥ 1") }
    guard outputDim >= 1, outputDim <= Int(UInt32.max) else {
      throw WinnowError.invalid("output dimension k = \(outputDim) must be in 1..<2^32")
    }
    guard nonzeros >= 1, nonzeros <= min(outputDim, Self.maxNonzeros) else {
      throw WinnowError.invalid(
        "nonzeros per coordinate s = \(nonzeros) must be in 1...\(min(outputDim, Self.maxNonzeros)) "
          + "(at most k = \(outputDim) and \(Self.maxNonzeros))")
    }
    self.seed = seed
    self.inputDim = inputDim
    self.outputDim = outputDim
    self.nonzeros = nonzeros
    self.scale = 1 / Float(nonzeros).squareRoot()
    self.threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
  }

  /// Projects `rows × D` gradients (row-major) into `rows × k` features.
  /// - Complexity: `O(rows·D·s)`, one read of `x`; no extra memory.
  public func project(
    _ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>
  ) throws {
    try project(piece: x, rows: rows, offset: 0, length: inputDim, into: out, accumulate: false)
  }

  /// Projects columns `offset ..< offset + length` of the gradients (a layer,
  /// a parameter range): `x` is `rows × length`, row-major; `out` is
  /// `rows × k`, overwritten or added to (`accumulate`). A NaN or infinity in
  /// the input makes its row's features non-finite and the call throws;
  /// `out` is then unspecified.
  public func project(
    piece x: UnsafePointer<Float>, rows: Int, offset: Int, length: Int,
    into out: UnsafeMutablePointer<Float>, accumulate: Bool
  ) throws {
    try checkPiece(rows: rows, offset: offset, length: length)
    try run(rows: rows, length: length, out: out, accumulate: accumulate) { r0, g, c0, w, o, work in
      Kernels.sparseJL(
        seed: self.seed, nonzeros: self.nonzeros, k: self.outputDim, scale: self.scale,
        col0: UInt64(offset + c0), length: w, x + r0 * length + c0, rows: g, ldx: length,
        into: o, ldo: self.outputDim, work: work)
    }
  }

  /// As `project(piece:…)`, for IEEE half-precision input (`length`
  /// defaults to the rest of `D`).
  public func project(
    half x: UnsafePointer<UInt16>, rows: Int, offset: Int = 0, length: Int? = nil,
    into out: UnsafeMutablePointer<Float>, accumulate: Bool = false
  ) throws {
    let length = length ?? inputDim - offset
    try checkPiece(rows: rows, offset: offset, length: length)
    try run(rows: rows, length: length, out: out, accumulate: accumulate) { r0, g, c0, w, o, work in
      Kernels.sparseJL(
        seed: self.seed, nonzeros: self.nonzeros, k: self.outputDim, scale: self.scale,
        col0: UInt64(offset + c0), length: w, x + r0 * length + c0, rows: g, ldx: length,
        into: o, ldo: self.outputDim, work: work)
    }
  }

  private func checkPiece(rows: Int, offset: Int, length: Int) throws {
    guard rows >= 0 else { throw WinnowError.invalid("row count \(rows) is negative") }
    guard offset >= 0, length >= 1, offset <= inputDim - length else {
      throw WinnowError.shape(
        "gradient piece at offset \(offset) of width \(length) does not fit D = \(inputDim)")
    }
    guard !rows.multipliedReportingOverflow(by: length).overflow,
      !rows.multipliedReportingOverflow(by: outputDim).overflow
    else {
      throw WinnowError.invalid("\(rows) rows of width \(length) (or of \(outputDim) features) overflow")
    }
  }

  /// `floats` uninitialized floats from `malloc`, or `.outOfMemory`.
  private static func scratch(floats: Int, for what: String) throws -> UnsafeMutablePointer<Float> {
    let (bytes, overflow) = floats.multipliedReportingOverflow(by: 4)
    guard !overflow, let raw = malloc(bytes) else {
      throw WinnowError(.outOfMemory, "cannot allocate \(floats) floats of sparse JL \(what)")
    }
    return raw.bindMemory(to: Float.self, capacity: floats)
  }

  /// Rows a kernel call interleaves, and columns summed apart before the
  /// segments are added in order: the fixed split that lets threads share
  /// a few rows without changing a bit of the result.
  static let (rowGroup, segmentColumns) = (8, 1 << 18)

  /// Zeroes `out` unless accumulating, then, for every (block of 8 rows,
  /// segment of columns) item, runs `kernel(firstRow, rowCount, firstColumn,
  /// columnCount, partial, work)` into a zeroed `partial` (`rowCount × k`)
  /// and adds the partials to `out` block by block in ascending segment
  /// order. Items run in waves on `threads` workers; the split is fixed, so
  /// the sums never depend on the thread count or on the other rows.
  private func run(
    rows: Int, length: Int, out: UnsafeMutablePointer<Float>, accumulate: Bool,
    kernel: @escaping (Int, Int, Int, Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
  ) throws {
    guard rows > 0 else { return }
    let k = outputDim, group = Self.rowGroup, span = Self.segmentColumns
    if !accumulate { out.update(repeating: 0, count: rows * k) }
    let segments = (length + span - 1) / span
    let items = (rows + group - 1) / group * segments
    let workFloats = Kernels.sparseJLWorkFloats(k: k)
    // Waves of up to 8 items a thread (within 64 MiB of scratch): a worker
    // held up by other load stalls only the tail of a wave.
    let perItem = group * k + workFloats, workers = max(1, threads)
    let wave = min(items, max(workers * 2, min(workers * 8, (16 << 20) / perItem)))
    // Scratch: per concurrent item, a partial (8 × k) and the kernel's work
    // area (≈ 8·k + 72 Ki floats); checked, since a huge k must fail cleanly.
    let partials = try Self.scratch(floats: wave * group * k, for: "partial features")
    let works = try Self.scratch(floats: wave * workFloats, for: "kernel work areas")
    defer { free(partials); free(works) }
    var first = 0
    while first < items {
      let count = min(wave, items - first)
      let start = first
      let part = { (j: Int) in
        let item = start + j, r0 = item / segments * group, c0 = item % segments * span
        let g = min(group, rows - r0), p = partials + j * group * k
        p.update(repeating: 0, count: g * k)
        kernel(r0, g, c0, min(span, length - c0), p, works + j * workFloats)
      }
      if count == 1 || threads <= 1 {
        for j in 0..<count { part(j) }
      } else {
        nonisolated(unsafe) let body = part
        DispatchQueue.concurrentPerform(iterations: count) { body($0) }
      }
      // The partials are added in ascending item order; with several
      // workers each takes a slice of the k columns, so every element still
      // gets its additions in that order.
      let slices = count == 1 || threads <= 1 ? 1 : workers
      let reduce = { (slice: Int) in
        let lo = slice * k / slices, hi = (slice + 1) * k / slices
        for j in 0..<count {
          let r0 = (start + j) / segments * group, g = min(group, rows - r0)
          for r in 0..<g {
            let (o, p) = (out + (r0 + r) * k, partials + (j * group + r) * k)
            for e in lo..<hi { o[e] += p[e] }
          }
        }
      }
      if slices == 1 {
        reduce(0)
      } else {
        nonisolated(unsafe) let body = reduce
        DispatchQueue.concurrentPerform(iterations: slices) { body($0) }
      }
      first += count
    }
    for r in 0..<rows where Kernels.countNonFinite(out + r * k, count: k) > 0 {
      throw WinnowError(
        .nonFinite, "gradient row \(r) holds NaN or infinity (its sparse JL features are not finite)")
    }
  }
}

extension SparseProjector: FeatureProjector {}
