import Dispatch

/// The counter-based random matrix behind every projection.
///
/// Entry `(i, j)` is a pure function of `(seed, i, j)` (a keyed SplitMix64
/// over a counter built from the row and the column block), so any panel of
/// the matrix can be generated on its own, in any order, on any machine, and
/// the result never depends on batch size, panel size, thread count or shard
/// split. Entries are unscaled: ±1 (Rademacher) or standard normal.
public struct RandomMatrix: Hashable, Sendable {
  public var kind: ProjectorKind
  public var seed: UInt64

  public init(kind: ProjectorKind = .rademacher, seed: UInt64 = 0) {
    self.kind = kind
    self.seed = seed
  }

  /// Writes entries `rows × cols` (global rows `rows`, global columns `cols`)
  /// times `scale` into `out`, row-major with leading dimension `ld`.
  ///
  /// Rows are split across `threads` workers; the output is the same for any
  /// split because each entry depends only on its position.
  func fill(
    rows: Range<Int>, cols: Range<Int>, scale: Float = 1,
    into out: UnsafeMutablePointer<Float>, ld: Int, threads: Int = 1
  ) {
    let workers = max(1, min(threads, rows.count / 64))
    let chunk = (rows.count + workers - 1) / max(workers, 1)
    let fillRows = { (start: Int) in
      let lo = rows.lowerBound + start * chunk
      let hi = min(rows.upperBound, lo + chunk)
      guard lo < hi else { return }
      self.fillSerial(rows: lo..<hi, cols: cols, scale: scale,
                      into: out + (lo - rows.lowerBound) * ld, ld: ld)
    }
    if workers == 1 {
      fillRows(0)
    } else {
      // Each worker writes a disjoint row range of `out`.
      nonisolated(unsafe) let body = fillRows
      DispatchQueue.concurrentPerform(iterations: workers) { body($0) }
    }
  }

  private func fillSerial(
    rows: Range<Int>, cols: Range<Int>, scale: Float,
    into out: UnsafeMutablePointer<Float>, ld: Int
  ) {
    let (r0, c0) = (UInt64(rows.lowerBound), UInt64(cols.lowerBound))
    Kernels.fill(
      kind, seed: seed, row0: r0, rows: rows.count, col0: c0, cols: cols.count, scale: scale,
      into: out, ld: ld)
  }

  /// The unscaled entries of a block, row-major `rows.count × cols.count`.
  public func entries(rows: Range<Int>, cols: Range<Int>) -> [Float] {
    [Float](unsafeUninitializedCapacity: rows.count * cols.count) { buf, n in
      if let base = buf.baseAddress, !rows.isEmpty, !cols.isEmpty {
        fill(rows: rows, cols: cols, into: base, ld: cols.count)
      }
      n = rows.count * cols.count
    }
  }
}
