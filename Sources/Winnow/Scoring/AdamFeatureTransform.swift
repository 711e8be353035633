
/// The LESS training-sample feature: one simulated Adam step (DESIGN §2.2).
///
/// For a per-sample gradient `g` (length `D`) and the optimizer's moments `m`,
/// `v` (length `D`) at a checkpoint:
///
///     m' = β1·m + (1−β1)·g
///     v' = β2·v + (1−β2)·g²
///     Γ  = m' / √(v' + ε)
///
/// with `ε` inside the square root and no bias correction, exactly as the
/// public LESS code does. The moments are shared by every row; the result is
/// projected next (`Γ` replaces `g`), and the target side keeps plain gradients.
public struct AdamFeatureTransform: Sendable, Hashable {
  /// Adam's first-moment decay `β1` (LESS: 0.9).
  public var beta1: Double
  /// Adam's second-moment decay `β2` (LESS: 0.999).
  public var beta2: Double
  /// Adam's `ε`, added to `v'` inside the square root (LESS: 1e-8).
  public var epsilon: Double

  /// A transform with LESS's constants unless told otherwise.
  public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
  }

  /// Writes `Γ` for each of `rows` gradients into `out`; `out` may be `gradients`.
  ///
  /// Arithmetic is in `Double` per element and rounded once to `Float`, so the
  /// result is the correctly rounded value of the formula for `Float` inputs.
  /// - Parameters:
  ///   - gradients: `rows × dim`, row-major, finite.
  ///   - m: first moments, `dim` finite values.
  ///   - v: second moments, `dim` finite values `≥ 0`.
  ///   - out: `rows × dim`, row-major; may alias `gradients`.
  /// - Throws: `.invalidArgument` for bad constants, `.nonFinite` naming the
  ///   first gradient row or moment index that holds NaN/∞ (or `v < 0`).
  /// - Complexity: O(rows · dim).
  public func apply(
    _ gradients: UnsafePointer<Float>, rows: Int, dim: Int,
    m: UnsafePointer<Float>, v: UnsafePointer<Float>,
    into out: UnsafeMutablePointer<Float>
  ) throws {
    try checkConstants()
    guard rows >= 0, dim >= 0 else {
      throw WinnowError.shape("gradient shape \(rows) × \(dim) is negative")
    }
    for j in 0..<dim where !m[j].isFinite || !v[j].isFinite || v[j] < 0 {
      throw WinnowError(
        .nonFinite, "Adam moments at index \(j): m = \(m[j]), v = \(v[j]) (need finite, v ≥ 0)")
    }
    for r in 0..<rows where Kernels.countNonFinite(gradients + r * dim, count: dim) != 0 {
      throw WinnowError(.nonFinite, "gradient row \(r) holds NaN or infinity")
    }
    let (b1, b2, eps) = (beta1, beta2, epsilon)
    for r in 0..<rows {
      let g = gradients + r * dim, o = out + r * dim
      for j in 0..<dim {
        let gj = Double(g[j])
        let m1 = b1 * Double(m[j]) + (1 - b1) * gj
        let v1 = b2 * Double(v[j]) + (1 - b2) * gj * gj
        o[j] = Float(m1 / (v1 + eps).squareRoot())
      }
    }
  }

  /// Replaces each row `g` of `gradients` (`rows × D`) by its Adam feature `Γ`.
  ///
  /// - Parameters:
  ///   - gradients: `rows × D` per-sample gradients, transformed in place.
  ///   - m: first moments, length `D`.
  ///   - v: second moments, length `D`, non-negative.
  /// - Throws: `.shapeMismatch` when `m` or `v` is not of length `D`; see
  ///   `apply(_:rows:dim:m:v:into:)` for the rest.
  /// - Complexity: O(rows · D).
  public func apply(to gradients: inout Matrix, m: [Float], v: [Float]) throws {
    guard m.count == gradients.cols, v.count == gradients.cols else {
      throw WinnowError.shape(
        "Adam moments have lengths m = \(m.count), v = \(v.count); "
          + "the gradients have D = \(gradients.cols)")
    }
    let (rows, dim) = (gradients.rows, gradients.cols)
    try gradients.withUnsafeMutableBufferPointer { g in
      guard let base = g.baseAddress else { return }
      try apply(base, rows: rows, dim: dim, m: m, v: v, into: base)
    }
  }

  private func checkConstants() throws {
    guard (0..<1).contains(beta1), (0..<1).contains(beta2), epsilon.isFinite, epsilon > 0 else {
      throw WinnowError.invalid(
        "Adam constants β1 = \(beta1), β2 = \(beta2), ε = \(epsilon): need β in [0, 1), ε > 0")
    }
  }
}
