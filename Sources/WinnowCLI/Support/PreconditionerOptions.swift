import ArgumentParser
import Foundation
import Winnow

/// The options of `winnow store import` that record how K-FAC / EK-FAC
/// features were preconditioned (DESIGN 2.9): the method, the curvature
/// file and the damping they were made with.
///
/// `winnow project` has none: it projects raw gradients.
struct PreconditionerOptions: ParsableArguments {
  @Option(
    name: .long,
    help: "The features are K-FAC / EK-FAC features: kfac-whitened, kfac or ekfac (recorded in the manifest).")
  var preconditioner: PreconditionerMethod?

  @Option(name: .long, help: "With --preconditioner: the curvature file the features were made with (checked; its checksums recorded).")
  var curvature: String?

  @Option(name: .long, help: "With --preconditioner: the damping used, a fraction of the mean eigenvalue (default 0.1, the library's).")
  var damping: Double?

  @Flag(name: .customLong("absolute-damping"), help: "--damping is an absolute λ, not a fraction of the mean eigenvalue.")
  var absoluteDamping = false

  func validate() throws {
    guard preconditioner != nil || (curvature == nil && damping == nil && !absoluteDamping) else {
      throw ValidationError("--curvature, --damping and --absolute-damping describe a --preconditioner; give it too")
    }
    guard preconditioner == nil || curvature != nil else {
      throw ValidationError("--preconditioner needs --curvature FILE, the curvature fit the features were made with")
    }
    guard !absoluteDamping || damping != nil else { throw ValidationError("--absolute-damping needs --damping") }
    if let damping, !(damping.isFinite && damping >= 0) {
      throw ValidationError("--damping \(damping) must be finite and ≥ 0")
    }
  }

  /// The preconditioner to record, from the curvature file (read, checked
  /// and hashed), or nil without --preconditioner.
  func recorded() throws -> FeatureStorePreconditioner? {
    guard let preconditioner, let curvature else { return nil }
    let value = damping ?? CurvatureDamping.default.value
    let damping = absoluteDamping ? try CurvatureDamping.absolute(value) : try CurvatureDamping.relative(value)
    return try FeatureStorePreconditioner.recording(
      preconditioner, damping: damping, curvatureAt: URL(fileURLWithPath: curvature))
  }
}

extension PreconditionerMethod: ExpressibleByArgument {}
