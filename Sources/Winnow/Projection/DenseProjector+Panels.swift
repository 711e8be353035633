import Dispatch

extension DenseProjector {
  func checkPiece(rows: Int, offset: Int, length: Int) throws {
    guard rows >= 0 else { throw WinnowError.invalid("row count \(rows) is negative") }
    guard offset >= 0, length >= 1, offset <= inputDim - length else {
      throw WinnowError.shape(
        "gradient piece at offset \(offset) of width \(length) does not fit D = \(inputDim)")
    }
  }

  func checkFinite(_ x: UnsafePointer<Float>, rows: Int, length: Int) throws {
    for r in 0..<rows where Kernels.countNonFinite(x + r * length, count: length) > 0 {
      throw WinnowError(.nonFinite, "gradient row \(r) holds NaN or infinity")
    }
  }

  /// `out ← (accumulate ? out : 0) + scale · X · P[offset..<offset+length, :]`,
  /// one panel of `P` rows at a time. `source(d0, n)` returns the pointer to
  /// column `d0` of `X` (global index) and its leading dimension, for a panel
  /// of `n` columns starting at `d0`.
  ///
  /// The sums are `Kernels.panelAccumulate`'s fixed-order chains, carried in an
  /// unscaled `rows × k` accumulator across panels and sub-panels, then
  /// scaled once: each feature is the same sequence of operations whatever
  /// the rows around it, the panel size (memory budget), the thread count or
  /// the instruction set — byte-identical, not just close (sgemm is not:
  /// see `panel_accumulate.c`).
  func multiply(
    rows: Int, offset: Int, length: Int, out: UnsafeMutablePointer<Float>, accumulate: Bool,
    source: (Int, Int) throws -> (UnsafePointer<Float>, Int),
    maxColumns: Int = .max
  ) throws {
    let k = outputDim
    if rows == 0 { return }
    // Held until the sums are scaled out: the panel, half and sum buffers
    // are shared by every caller of this projector.
    try lock.withLock { _ in
      var sums: UnsafeMutablePointer<Float>?
      try withPanels(offset: offset, length: length) { d0, n, p in
        // `out` itself when not accumulating.
        let t = sums ?? (accumulate ? sumStorage.reserve(rows * k) : out)
        if sums == nil { t.update(repeating: 0, count: rows * k) }
        sums = t
        var c0 = 0
        while c0 < n {
          let w = min(maxColumns, n - c0)
          let (a, lda) = try source(d0 + c0, w)
          Self.accumulate(a, lda: lda, rows: rows, width: w, panel: p + c0 * k, k: k, into: t,
                          isa: kernelISA)
          c0 += w
        }
      }
      guard let t = sums else { return }
      let s = scale
      for i in 0..<(rows * k) {
        // Two roundings, never fused, so the bytes do not depend on the compiler.
        let scaled = s * t[i]
        out[i] = accumulate ? out[i] + scaled : scaled
      }
    }
  }

  /// `t (rows × k) += a (rows × width, stride lda) · panel (width × k)`,
  /// the columns split across the BLAS thread count in blocks of 64.
  ///
  /// - Complexity: `2·rows·width·k` flops.
  static func accumulate(
    _ a: UnsafePointer<Float>, lda: Int, rows: Int, width: Int, panel: UnsafePointer<Float>,
    k: Int, into t: UnsafeMutablePointer<Float>, isa: Int32
  ) {
    let work = Double(rows) * Double(width) * Double(k)
    let threads = work < 4e6 ? 1 : max(1, min(BLAS.threadCount, (k + 63) / 64))
    let per = ((k + threads - 1) / threads + 63) / 64 * 64
    let body = { (i: Int) in
      let c0 = i * per, c1 = min(k, c0 + per)
      guard c0 < c1 else { return }
      Kernels.panelAccumulate(
        a, ldx: lda, rows: rows, n: width, panel: panel, ldp: k, columns: c0..<c1, into: t, ldt: k,
        isa: isa)
    }
    if threads == 1 {
      body(0)
    } else {
      // Each worker writes its own columns of `t`.
      nonisolated(unsafe) let run = body
      DispatchQueue.concurrentPerform(iterations: threads) { run($0) }
    }
  }

  /// Calls `body(d0, n, P[d0..<d0+n, :])` for consecutive row panels of `P`
  /// covering `offset..<offset+length`, from the cache or freshly generated.
  /// The caller holds `lock`.
  func withPanels(
    offset: Int, length: Int,
    _ body: (Int, Int, UnsafePointer<Float>) throws -> Void
  ) throws {
    let k = outputDim
    if cachesMatrix {
      let whole = cacheStorage ?? generate(rows: 0..<inputDim)
      cacheStorage = whole
      try whole.withUnsafeBufferPointer { p in
        guard let base = p.baseAddress else { return }
        try body(offset, length, base + offset * k)
      }
      return
    }
    let p = panelStorage.reserve(min(panelRows, length) * k)
    var d0 = offset
    while d0 < offset + length {
      let n = min(panelRows, offset + length - d0)
      matrix.fill(rows: d0..<d0 + n, cols: 0..<k, into: p, ld: k, threads: generatorThreads)
      try body(d0, n, p)
      d0 += n
    }
  }

  private func generate(rows: Range<Int>) -> [Float] {
    let k = outputDim
    return [Float](unsafeUninitializedCapacity: rows.count * k) { buf, n in
      if let base = buf.baseAddress {
        matrix.fill(rows: rows, cols: 0..<k, into: base, ld: k, threads: generatorThreads)
      }
      n = rows.count * k
    }
  }
}
