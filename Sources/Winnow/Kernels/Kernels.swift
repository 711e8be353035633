import CWinnowKernels

/// The one door to Winnow's C kernels (`Sources/CWinnowKernels`).
///
/// Every call of a `wnk_` function goes through this file, so the unsafe
/// edge lives in one place: counts and strides are checked before any call,
/// and the kernels' C types become Swift ones. All matrices are row-major.
/// The kernels are a private detail: their prefix `wnk_` is not exported by
/// `libwinnow.so` (see `Sources/WinnowC/exports.map`).
enum Kernels {
  /// Checks that a `rows × cols` matrix with row stride `ld` is well formed.
  private static func check(rows: Int, cols: Int, ld: Int, _ what: String) {
    precondition(rows >= 0 && cols >= 0, what)
    precondition(rows <= 1 || ld >= cols, what)
  }

  // MARK: - Counter RNG

  /// Fills `out[r·ld + c]` (`r < rows`, `c < cols`) with the entry at global
  /// position (`row0 + r`, `col0 + c`) of the random matrix of `kind` keyed by
  /// `seed`, times `scale`: ±`scale` (Rademacher) or a standard normal times
  /// `scale` (Gaussian). Each entry is a pure function of (seed, row, column).
  ///
  /// - Parameters:
  ///   - out: `rows × cols`, row stride `ld`.
  /// - Complexity: O(`rows · cols`).
  ///
  /// The corresponding functions are `wnk_fill_rademacher` and
  /// `wnk_fill_gaussian` (`counter_rng.c`).
  static func fill(
    _ kind: ProjectorKind, seed: UInt64, row0: UInt64, rows: Int,
    col0: UInt64, cols: Int, scale: Float,
    into out: UnsafeMutablePointer<Float>, ld: Int
  ) {
    check(rows: rows, cols: cols, ld: ld, "fill: bad shape")
    switch kind {
    case .rademacher:
      wnk_fill_rademacher(seed, row0, rows, col0, cols, scale, out, ld)
    case .gaussian:
      wnk_fill_gaussian(seed, row0, rows, col0, cols, scale, out, ld)
    }
  }

  // MARK: - Half precision

  /// Converts `count` IEEE halves (as bit patterns) to `Float`.
  ///
  /// The corresponding function is `wnk_f16_to_f32` (`half.c`).
  static func halfToFloat(
    _ source: UnsafePointer<UInt16>, into out: UnsafeMutablePointer<Float>, count: Int
  ) {
    precondition(count >= 0, "halfToFloat: negative count")
    wnk_f16_to_f32(source, out, count)
  }

  /// Converts `count` floats to IEEE halves (bit patterns), rounding to
  /// nearest even.
  ///
  /// The corresponding function is `wnk_f32_to_f16` (`half.c`).
  static func floatToHalf(
    _ source: UnsafePointer<Float>, into out: UnsafeMutablePointer<UInt16>, count: Int
  ) {
    precondition(count >= 0, "floatToHalf: negative count")
    wnk_f32_to_f16(source, out, count)
  }

  // MARK: - Checks and dot products

  /// The number of non-finite values (NaN or ±Inf) among `count` floats.
  ///
  /// The corresponding function is `wnk_count_nonfinite` (`counter_rng.c`).
  static func countNonFinite(_ x: UnsafePointer<Float>, count: Int) -> Int {
    precondition(count >= 0, "countNonFinite: negative count")
    return wnk_count_nonfinite(x, count)
  }

  /// `out[i·ldo + g] = x_i · directions_g` in a fixed order of operations,
  /// so a row's results never depend on the other rows in the call, the
  /// thread count or the CPU.
  ///
  /// - Parameters:
  ///   - x: `rows × k`, row stride `ldx`.
  ///   - directions: `groups × k`, row-major.
  ///   - out: `rows × groups`, row stride `ldo`.
  /// - Complexity: O(`rows · groups · k`).
  ///
  /// The corresponding function is `wnk_row_dots_f32` (`row_dots.c`).
  static func rowDots(
    _ x: UnsafePointer<Float>, rows: Int, k: Int, ldx: Int,
    directions: UnsafePointer<Float>, groups: Int,
    into out: UnsafeMutablePointer<Float>, ldo: Int
  ) {
    check(rows: rows, cols: k, ld: ldx, "rowDots: bad x")
    check(rows: rows, cols: groups, ld: ldo, "rowDots: bad out")
    wnk_row_dots_f32(x, rows, k, ldx, directions, groups, out, ldo)
  }

  /// `x · y` over `count` floats, in the same order of operations as
  /// `rowDots`.
  ///
  /// The corresponding function is `wnk_dot_f32` (`row_dots.c`).
  static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
    precondition(count >= 0, "dot: negative count")
    return wnk_dot_f32(x, y, count)
  }

  // MARK: - Sparse JL

  /// The largest number of nonzeros per column the sparse JL kernel takes.
  ///
  /// The corresponding function is `wnk_sjlt_max_nnz` (`sjlt.c`).
  static var sparseJLMaxNonzeros: Int { wnk_sjlt_max_nnz() }

  /// The scratch floats one sparse JL call needs for output dimension `k`.
  ///
  /// The corresponding function is `wnk_sjlt_work_floats` (`sjlt.c`).
  static func sparseJLWorkFloats(k: Int) -> Int {
    precondition(k >= 0, "sparseJLWorkFloats: negative k")
    return wnk_sjlt_work_floats(k)
  }

  /// Adds the sparse JL (SJLT / CountSketch) image of columns
  /// `col0 ..< col0 + length` of the map keyed by `seed` into `out`: for each
  /// of the `nonzeros` (bucket h, sign σ) pairs of global column `col0 + c`,
  /// `out[r·ldo + h] += scale · σ · x[r·ldx + c]`, in ascending columns, then
  /// nonzeros. Does nothing unless `1 ≤ nonzeros ≤ min(k,
  /// sparseJLMaxNonzeros)` and `k < 2³²`.
  ///
  /// - Parameters:
  ///   - x: `rows × length`, row stride `ldx`.
  ///   - out: `rows × k`, row stride `ldo`.
  ///   - work: `sparseJLWorkFloats(k:)` floats of scratch.
  /// - Complexity: O(`rows · length · nonzeros`).
  ///
  /// The corresponding function is `wnk_sjlt_f32` (`sjlt.c`).
  static func sparseJL(
    seed: UInt64, nonzeros: Int, k: Int, scale: Float, col0: UInt64, length: Int,
    _ x: UnsafePointer<Float>, rows: Int, ldx: Int,
    into out: UnsafeMutablePointer<Float>, ldo: Int, work: UnsafeMutablePointer<Float>
  ) {
    check(rows: rows, cols: length, ld: ldx, "sparseJL: bad x")
    check(rows: rows, cols: k, ld: ldo, "sparseJL: bad out")
    precondition(nonzeros >= 0, "sparseJL: negative nonzeros")
    wnk_sjlt_f32(seed, nonzeros, k, scale, col0, length, x, rows, ldx, out, ldo, work)
  }

  /// As `sparseJL(…)` for `Float` input, with IEEE half-precision input (bit
  /// patterns).
  ///
  /// The corresponding function is `wnk_sjlt_f16` (`sjlt.c`).
  static func sparseJL(
    seed: UInt64, nonzeros: Int, k: Int, scale: Float, col0: UInt64, length: Int,
    _ x: UnsafePointer<UInt16>, rows: Int, ldx: Int,
    into out: UnsafeMutablePointer<Float>, ldo: Int, work: UnsafeMutablePointer<Float>
  ) {
    check(rows: rows, cols: length, ld: ldx, "sparseJL: bad x")
    check(rows: rows, cols: k, ld: ldo, "sparseJL: bad out")
    precondition(nonzeros >= 0, "sparseJL: negative nonzeros")
    wnk_sjlt_f16(seed, nonzeros, k, scale, col0, length, x, rows, ldx, out, ldo, work)
  }

  // MARK: - Dense panel multiply

  /// The instruction set `panelAccumulate` uses with `isa` = −1: 2 = AVX-512,
  /// 1 = AVX2+FMA, 0 = portable.
  ///
  /// The corresponding function is `wnk_panel_accumulate_isa`
  /// (`panel_accumulate.c`).
  static var panelAccumulateISA: Int32 { wnk_panel_accumulate_isa() }

  /// `T[:, columns] += X · P[:, columns]` with a fixed order of operations:
  /// each element `t[r·ldt + j]` becomes the chain `t = fma(x[r·ldx + w],
  /// p[w·ldp + j], t)` for w = 0, 1, …, n−1, in order. A chain never depends
  /// on the other rows or columns, on how `n` is split across calls, or on
  /// `isa` (2 = AVX-512, 1 = AVX2+FMA, 0 = portable, −1 = the best this CPU
  /// has; a higher value falls back).
  ///
  /// - Parameters:
  ///   - x: `rows × n`, row stride `ldx`.
  ///   - panel: `n × (≥ columns.upperBound)`, row stride `ldp`.
  ///   - t: `rows × (≥ columns.upperBound)`, row stride `ldt`.
  /// - Complexity: `2 · rows · n · columns.count` flops.
  ///
  /// The corresponding function is `wnk_panel_accumulate`
  /// (`panel_accumulate.c`).
  static func panelAccumulate(
    _ x: UnsafePointer<Float>, ldx: Int, rows: Int, n: Int,
    panel: UnsafePointer<Float>, ldp: Int, columns: Range<Int>,
    into t: UnsafeMutablePointer<Float>, ldt: Int, isa: Int32
  ) {
    precondition(columns.lowerBound >= 0, "panelAccumulate: negative column")
    check(rows: rows, cols: n, ld: ldx, "panelAccumulate: bad x")
    check(rows: n, cols: columns.upperBound, ld: ldp, "panelAccumulate: bad panel")
    check(rows: rows, cols: columns.upperBound, ld: ldt, "panelAccumulate: bad t")
    wnk_panel_accumulate(
      x, ldx, rows, n, panel, ldp, columns.lowerBound, columns.upperBound, t, ldt, isa)
  }
}
