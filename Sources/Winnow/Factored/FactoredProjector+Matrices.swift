
extension FactoredProjector {
  /// Which factor of a layer a matrix is: `P_in` (`d_in × k_in`) or
  /// `P_out` (`d_out × k_out`).
  public enum Factor: Sendable {
    case input, output
  }

  /// Writes the factor matrix that a projector built on `seed` and `kind`
  /// uses for layer `layerID`, so that a training framework can run the first
  /// stage, `A·P_in` and `Δ·P_out`, on its own device (DESIGN 2.10) and get
  /// exactly this projector's features.
  ///
  /// The matrix is `rows × cols`, row-major, scaled by `1/√cols`: pass
  /// `(d_in, k_in)` for `.input` and `(d_out, k_out)` for `.output`. Entries
  /// depend only on `(seed, layerID, factor)` and the position, so any layer
  /// spec with these dims and ranks gets the same matrix.
  ///
  /// - Parameters:
  ///   - out: At least `rows × cols` floats.
  /// - Throws: `.invalidArgument` for a zero `rows` or `cols`,
  ///   `.bufferTooSmall` when `out` is shorter than `rows × cols`.
  /// - Complexity: O(rows·cols).
  public static func factorMatrix(
    kind: ProjectorKind, seed: UInt64, layerID: UInt64, factor: Factor, rows: Int, cols: Int,
    into out: UnsafeMutableBufferPointer<Float>
  ) throws {
    guard rows >= 1, cols >= 1 else {
      throw WinnowError.invalid("factor matrix: rows and cols must be >= 1, got \(rows) × \(cols)")
    }
    let (count, overflow) = rows.multipliedReportingOverflow(by: cols)
    guard !overflow, out.count >= count, let base = out.baseAddress else {
      throw WinnowError(
        .bufferTooSmall, "factor matrix: the output holds \(out.count) floats, needs \(rows) × \(cols)")
    }
    let key = sideSeed(seed, layerID, factor == .input ? .input : .output)
    // The same fill as `factor(_:_:rows:cols:)`, straight into the caller's buffer.
    let scale = 1 / Float(cols).squareRoot()
    Kernels.fill(
      kind, seed: key, row0: 0, rows: rows, col0: 0, cols: cols, scale: scale, into: base, ld: cols)
  }
}
