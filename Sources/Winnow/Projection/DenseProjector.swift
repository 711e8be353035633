import Synchronization
#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// A dense Johnson–Lindenstrauss projection `φ(g) = (1/√k) · Pᵀ g`.
///
/// `P` is the `D × k` counter-based `RandomMatrix` (Rademacher by default),
/// so features depend only on `(kind, seed, D, k)` and the input — not on batch
/// size, thread count, shard split or machine. A gradient given in pieces
/// (layers, parameter ranges at their global offsets) projects piecewise and
/// the pieces sum to the features of the whole.
///
/// `P` is cached whole when `D·k·4` bytes fit `memoryBudget`; otherwise row
/// panels of `P` that fit the budget are generated on the fly and accumulated,
/// so memory stays bounded for any `D` (LoRA-sized `D` in the millions
/// included). The multiply is a fixed-order kernel (`Kernels.panelAccumulate`,
/// fused multiply-adds in input order), not sgemm, so the features are the
/// same bytes for any row blocking, memory budget, thread count and
/// instruction set; pieces summed with `accumulate` agree with the whole up
/// to float rounding.
///
/// Thread safety: a projector may be shared across threads; calls that
/// generate panels serialize on the panel buffer.
public final class DenseProjector: @unchecked Sendable {
  public let matrix: RandomMatrix
  /// `D`, the input (gradient) dimension.
  public let inputDim: Int
  /// `k`, the output (feature) dimension.
  public let outputDim: Int
  /// Bytes the projector may hold for `P` (the whole matrix or one panel).
  public let memoryBudget: Int
  /// Worker threads for matrix generation (BLAS threads are separate).
  public var generatorThreads: Int

  let scale: Float
  /// Rows of `P` per generated panel when `P` is not cached.
  let panelRows: Int
  /// Guards the buffers below (held for a whole `multiply`).
  let lock = Mutex(())
  /// The whole `D × k` matrix, unscaled, once built (when `cachesMatrix`).
  var cacheStorage: [Float]?
  /// One reusable panel of `P` (fresh pages are slow to touch on these VMs).
  let panelStorage = ScratchBuffer()
  /// Float32 copy of one chunk of half-precision input.
  let halfStorage = ScratchBuffer()
  /// Unscaled `rows × k` sums of an accumulating call.
  let sumStorage = ScratchBuffer()
  /// The instruction set of the multiply (−1: the best the CPU has). Tests
  /// set 0 or 1 to prove every path gives the same bytes.
  package var kernelISA: Int32 = -1

  /// The default memory budget for `P`: 1 GiB.
  public static let defaultMemoryBudget = 1 << 30

  /// Creates a projector from `D` to `k` dimensions.
  ///
  /// - Parameters:
  ///   - kind: the entry distribution, Rademacher (default) or Gaussian.
  ///   - seed: the key of the random matrix; the same seed gives the same features.
  ///   - inputDim: `D ≥ 1`.
  ///   - outputDim: `k ≥ 1`, any value.
  ///   - memoryBudget: bytes for `P`; at least one row of `P` (`4k` bytes).
  public init(
    kind: ProjectorKind = .rademacher, seed: UInt64 = 0,
    inputDim: Int, outputDim: Int, memoryBudget: Int = DenseProjector.defaultMemoryBudget
  ) throws {
    guard inputDim >= 1 else { throw WinnowError.invalid("input dimension D = \(inputDim) must be ≥ 1") }
    guard outputDim >= 1 else { throw WinnowError.invalid("output dimension k = \(outputDim) must be ≥ 1") }
    let rowBytes = try CheckedSize.bytes([outputDim], elementSize: 4, "one row of the projection matrix (k floats)")
    guard memoryBudget >= rowBytes else {
      throw WinnowError.invalid(
        "memory budget \(memoryBudget) B is below one row of the projection matrix (\(rowBytes) B)")
    }
    _ = try BLAS.int(outputDim, "k")
    // What the projector will hold: the whole matrix, or one panel of rows.
    let panelRows = min(inputDim, memoryBudget / rowBytes)
    try CheckedSize.checkFeasible(
      bytes: panelRows * rowBytes, "the projection matrix (\(panelRows) of its \(inputDim) rows × k = \(outputDim))")
    self.matrix = RandomMatrix(kind: kind, seed: seed)
    self.inputDim = inputDim
    self.outputDim = outputDim
    self.memoryBudget = memoryBudget
    self.scale = 1 / Float(outputDim).squareRoot()
    self.panelRows = panelRows
    self.generatorThreads = max(1, ProcessInfo.processInfo.activeProcessorCount)
  }

  /// Whether the whole `D × k` matrix fits the budget (and is cached once built).
  public var cachesMatrix: Bool { panelRows == inputDim }

  /// Projects `rows × D` gradients into `rows × k` features.
  ///
  /// - Parameters:
  ///   - x: `rows × D`, row-major.
  ///   - rows: the number of samples.
  ///   - out: `rows × k`, row-major; overwritten.
  /// - Complexity: `2·rows·D·k` flops, plus `D·k` generated entries per call
  ///   when the matrix is not cached.
  public func project(
    _ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>
  ) throws {
    try project(piece: x, rows: rows, offset: 0, length: inputDim, into: out, accumulate: false)
  }

  /// Projects a piece of the gradients: columns `offset ..< offset + length` of
  /// the full `D`-dimensional gradient (a layer, a parameter range).
  ///
  /// Summing the pieces (`accumulate: true` after the first) gives the
  /// features of the whole gradient, up to float rounding.
  ///
  /// - Parameters:
  ///   - x: `rows × length`, row-major: the piece of each sample's gradient.
  ///   - offset: the piece's global offset in `0..<D`.
  ///   - length: the piece's width; `offset + length ≤ D`.
  ///   - out: `rows × k`; overwritten, or added to when `accumulate`.
  public func project(
    piece x: UnsafePointer<Float>, rows: Int, offset: Int, length: Int,
    into out: UnsafeMutablePointer<Float>, accumulate: Bool
  ) throws {
    try checkPiece(rows: rows, offset: offset, length: length)
    try checkFinite(x, rows: rows, length: length)
    try multiply(rows: rows, offset: offset, length: length, out: out, accumulate: accumulate) {
      d0, _ in (x + (d0 - offset), length)
    }
  }

  /// Projects IEEE half-precision gradients (`rows × length` at `offset`),
  /// converting to Float32 one panel of columns at a time.
  public func project(
    half x: UnsafePointer<UInt16>, rows: Int, offset: Int = 0, length: Int? = nil,
    into out: UnsafeMutablePointer<Float>, accumulate: Bool = false
  ) throws {
    let length = length ?? inputDim - offset
    try checkPiece(rows: rows, offset: offset, length: length)
    let chunk = Self.halfChunkColumns
    try multiply(
      rows: rows, offset: offset, length: length, out: out, accumulate: accumulate,
      source: { d0, n in
      // Called under the lock, one sub-panel of at most `chunk` columns.
      let buf = halfStorage.reserve(rows * n)
      for r in 0..<rows {
        Kernels.halfToFloat(x + r * length + (d0 - offset), into: buf + r * n, count: n)
      }
      let bad = Kernels.countNonFinite(buf, count: rows * n)
      if bad > 0 {
        throw WinnowError(.nonFinite, "half-precision gradients hold \(bad) NaN or infinite values")
      }
      return (UnsafePointer(buf), n)
    }, maxColumns: chunk)
  }

  /// Columns of half input converted at a time (bounded scratch memory).
  static let halfChunkColumns = 4096
}
