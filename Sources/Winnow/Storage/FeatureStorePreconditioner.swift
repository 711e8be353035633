#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// How a store's features were preconditioned before they were stored.
public enum PreconditionerMethod: String, Codable, CaseIterable, Sendable {
  /// K-FAC whitened factors `A(C+λ_C)^{-1/2}`, `Δ(S+λ_S)^{-1/2}` projected
  /// by `FactoredProjector` (`KFACWhitener`): `Σ_l k_out·k_in` per row.
  case kfacWhitened = "kfac-whitened"
  /// Eigenbasis features divided by `√(e_S ⊗ e_C + λ)` (`CurvatureMethod.kfac`),
  /// `Σ_l d_out·d_in` per row, or a dense / sparse projection of them.
  case kfac
  /// Eigenbasis features divided by the fitted EK-FAC moments
  /// (`CurvatureMethod.ekfac`); the curvature must hold corrections.
  case ekfac
}

/// The K-FAC / EK-FAC preconditioner of a store's features (DESIGN 2.9):
/// the method, the damping and the identity of the curvature fit.
///
/// Recorded in the manifest under `metadata.preconditioner`; features of
/// raw gradients have none (the field is then absent, so their manifests
/// are byte-identical to those of stores made before it existed).
///
/// The dot product of two preconditioned features is already the
/// influence `g_iᵀ (H + λI)⁻¹ g_j`, so they are scored with `dot` (or
/// `cosine`, its normalised form), never with TRAK's `influence`, which
/// would precondition a second time.
public struct FeatureStorePreconditioner: Codable, Hashable, Sendable, CustomStringConvertible {
  /// `kfac-whitened`, `kfac` or `ekfac`.
  public var method: PreconditionerMethod
  /// The damping's fraction of the mean eigenvalue (relative) or its value.
  public var damping: Double
  /// Whether `damping` is a fraction of the mean eigenvalue (the default).
  public var relativeDamping: Bool
  /// The curvature file (`KroneckerCurvature.save`), as given (relative
  /// paths stay relative).
  public var curvature: String
  /// SHA-256 of the curvature file: its identity (64 hex digits).
  public var curvatureSHA256: String
  /// XXH3-128 of the curvature file (32 hex digits).
  public var curvatureXXH3: String
  /// The fit's counts: tokens and samples of `C`, `S`; samples of the
  /// EK-FAC corrections (0: none).
  public var tokens: Int
  public var samples: Int
  public var correctionSamples: Int
  /// The linear layers the curvature covers.
  public var layers: Int

  public init(
    method: PreconditionerMethod, damping: CurvatureDamping, curvature: String, curvatureSHA256: String,
    curvatureXXH3: String, tokens: Int, samples: Int, correctionSamples: Int, layers: Int
  ) {
    self.method = method
    self.damping = damping.value
    self.relativeDamping = damping.isRelative
    self.curvature = curvature
    self.curvatureSHA256 = curvatureSHA256
    self.curvatureXXH3 = curvatureXXH3
    self.tokens = tokens
    self.samples = samples
    self.correctionSamples = correctionSamples
    self.layers = layers
  }

  /// Reads and checks the curvature file at `url` and records it.
  ///
  /// The file is loaded whole (`KroneckerCurvature.load`, which verifies
  /// its checksums), must be fitted, and for `.ekfac` must hold EK-FAC
  /// corrections; then it is hashed (SHA-256 and XXH3-128).
  ///
  /// - Throws: `.io` / `.format` naming the file when it cannot be read or
  ///   is not an intact curvature file; `.badState` when it is not fitted,
  ///   or has no corrections for `.ekfac`.
  /// - Complexity: O(file size).
  public static func recording(
    _ method: PreconditionerMethod, damping: CurvatureDamping, curvatureAt url: URL
  ) throws -> FeatureStorePreconditioner {
    let path = url.path
    let fit = try KroneckerCurvature.load(from: url)
    guard fit.phase == .fitted else {
      throw WinnowError(
        .badState,
        "\(path): the curvature is not fitted (only its covariances were accumulated); "
          + "call fit() before saving it and making \(method.rawValue) features")
    }
    if method == .ekfac && fit.correctionSamples == 0 {
      throw WinnowError(
        .badState,
        "\(path): the curvature has no EK-FAC corrections; accumulate them "
          + "(accumulateCorrections / accumulate_corrections) before making ekfac features, "
          + "or record the features as kfac")
    }
    let sums = try FileChecksums.of(file: path, [.sha256, .xxh3])
    return FeatureStorePreconditioner(
      method: method, damping: damping, curvature: url.relativePath, curvatureSHA256: sums[0], curvatureXXH3: sums[1],
      tokens: fit.tokens, samples: fit.samples, correctionSamples: fit.correctionSamples,
      layers: fit.layers.count)
  }

  /// The damping as the library takes it, if the recorded value is valid.
  public var curvatureDamping: CurvatureDamping? {
    if relativeDamping { return try? CurvatureDamping.relative(damping) }
    return try? CurvatureDamping.absolute(damping)
  }

  /// What makes two preconditioned feature sets comparable: the method, the
  /// damping and the curvature's SHA-256 (not its path or counts).
  public var identity: String {
    "\(method.rawValue), damping \(dampingDescription), curvature SHA-256 \(curvatureSHA256)"
  }

  var dampingDescription: String { curvatureDamping?.description ?? "\(damping)" }

  public var description: String {
    "\(method.rawValue), damping \(dampingDescription), curvature \(curvature) "
      + "(SHA-256 \(curvatureSHA256.prefix(16))…, \(layers) layers, \(tokens) tokens, \(samples) samples"
      + (correctionSamples > 0 ? ", corrections from \(correctionSamples) samples)" : ")")
  }

  /// Checks the fields of a preconditioner read from a manifest.
  ///
  /// - Throws: `.format` naming `field` and the problem.
  func validate(_ bad: (String, String) -> WinnowError) throws {
    guard damping.isFinite, damping >= 0 else {
      throw bad("metadata.preconditioner.damping", "= \(damping) must be finite and ≥ 0")
    }
    guard ChecksumAlgorithm.sha256.isDigest(curvatureSHA256) else {
      throw bad("metadata.preconditioner.curvatureSHA256", "= \"\(curvatureSHA256)\" is not 64 lowercase hex digits")
    }
    guard ChecksumAlgorithm.xxh3.isDigest(curvatureXXH3) else {
      throw bad("metadata.preconditioner.curvatureXXH3", "= \"\(curvatureXXH3)\" is not 32 lowercase hex digits")
    }
    for (key, count) in [("tokens", tokens), ("samples", samples), ("correctionSamples", correctionSamples)] {
      guard count >= 0 else { throw bad("metadata.preconditioner.\(key)", "= \(count) is negative") }
    }
    guard layers >= 1 else { throw bad("metadata.preconditioner.layers", "= \(layers) must be ≥ 1") }
    guard method != .ekfac || correctionSamples > 0 else {
      throw bad("metadata.preconditioner.correctionSamples", "= 0, but ekfac features need EK-FAC corrections")
    }
  }
}
