/// A seeded JL map from `D`-dimensional gradients to `k` features, given in
/// pieces at global offsets: what `DenseProjector` and `SparseProjector`
/// share, so callers (the CLI, the engine) can take either.
public protocol FeatureProjector: AnyObject, Sendable {
  /// `D`, the input (gradient) dimension.
  var inputDim: Int { get }
  /// `k`, the output (feature) dimension.
  var outputDim: Int { get }

  /// Projects columns `offset ..< offset + length` of `rows` gradients
  /// (`x`: `rows × length`, row-major) into `out` (`rows × k`), overwriting
  /// it or adding to it (`accumulate`).
  func project(
    piece x: UnsafePointer<Float>, rows: Int, offset: Int, length: Int,
    into out: UnsafeMutablePointer<Float>, accumulate: Bool
  ) throws

  /// As `project(piece:…)`, for IEEE half-precision input.
  func project(
    half x: UnsafePointer<UInt16>, rows: Int, offset: Int, length: Int?,
    into out: UnsafeMutablePointer<Float>, accumulate: Bool
  ) throws
}

extension DenseProjector: FeatureProjector {}
