/// The damping `λ` added to a curvature before it is inverted.
///
/// Relative damping is a fraction of the mean eigenvalue of what it damps
/// (per layer, and per factor for K-FAC whitening), so one value suits
/// layers of any scale: kronfluence's heuristic is `0.1 · mean`, the default
/// here. Absolute damping is the same `λ` everywhere.
public struct CurvatureDamping: Hashable, Sendable, CustomStringConvertible {
  /// The fraction (relative) or the value (absolute); finite and `≥ 0`.
  public let value: Double
  /// Whether `value` is a fraction of the mean eigenvalue.
  public let isRelative: Bool

  /// `λ = fraction · mean eigenvalue`.
  ///
  /// - Throws: `.invalidArgument` unless `fraction` is finite and `≥ 0`.
  public static func relative(_ fraction: Double) throws -> CurvatureDamping {
    try CurvatureDamping(fraction, relative: true)
  }

  /// `λ = value` for every layer.
  ///
  /// - Throws: `.invalidArgument` unless `value` is finite and `≥ 0`.
  public static func absolute(_ value: Double) throws -> CurvatureDamping {
    try CurvatureDamping(value, relative: false)
  }

  /// `0.1 ·` the mean eigenvalue: kronfluence's default.
  public static let `default` = CurvatureDamping(checked: 0.1, relative: true)

  private init(_ value: Double, relative: Bool) throws {
    guard value.isFinite, value >= 0 else {
      throw WinnowError.invalid("damping = \(value) must be finite and ≥ 0")
    }
    self.init(checked: value, relative: relative)
  }

  private init(checked value: Double, relative: Bool) {
    self.value = value
    self.isRelative = relative
  }

  public var description: String {
    isRelative ? "\(value) × mean eigenvalue" : "\(value) (absolute)"
  }

  /// `λ` for `eigenvalues`: `value` times their mean (relative), or `value`.
  func lambda(for eigenvalues: [Float]) -> Double {
    guard isRelative else { return value }
    let sum = eigenvalues.reduce(0.0) { $0 + Double($1) }
    return eigenvalues.isEmpty ? 0 : value * sum / Double(eigenvalues.count)
  }

  /// `1/√(e + λ)`, refusing a singular result: zero damping of a curvature
  /// with a zero eigenvalue (a direction the fit set never moved).
  static func inverseRoot(_ e: Float, _ lambda: Double, _ what: @autoclosure () -> String) throws -> Float {
    let d = Double(e) + lambda
    guard d > 0, d.isFinite else {
      throw WinnowError(
        .numerical,
        "\(what()): eigenvalue \(e) + damping \(lambda) is not positive: the fit set does not span "
          + "this layer (a relative damping of an all-zero curvature is 0); use an absolute damping, "
          + "or leave the layer out")
    }
    return Float(1 / d.squareRoot())
  }
}
