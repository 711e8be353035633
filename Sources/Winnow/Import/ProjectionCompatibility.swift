/// Which projection produced a set of features: enough to tell whether two
/// sets may be compared (their dot products mean something only when both
/// went through the same random map, after the same preconditioner).
public struct ProjectionIdentity: Hashable, Sendable, CustomStringConvertible {
  public var tool: String
  public var projector: String
  public var seed: UInt64?
  public var k: Int
  public var modelID: String
  /// The K-FAC / EK-FAC preconditioner applied before the projection
  /// (`FeatureStorePreconditioner.identity`: method, damping, curvature
  /// checksum), or nil for raw gradients.
  public var preconditioner: String?

  /// The identity recorded in a store's metadata, or nil when it is unknown
  /// (features imported from a bare `.npy` without a declared source).
  public init?(_ metadata: FeatureStoreMetadata) {
    if let source = metadata.source {
      self.init(tool: source.tool, projector: source.projector, seed: source.seed, k: source.k, modelID: source.modelID)
      self.preconditioner = metadata.preconditioner?.identity
    } else if metadata.projector == "imported" {
      return nil
    } else {
      // LESS's Adam train features share the map of plain target gradients,
      // so `/adam` is not part of the identity; a sparse map's nnz is.
      let kind = metadata.projector.hasSuffix("/adam") ? String(metadata.projector.dropLast(5)) : metadata.projector
      self.init(
        tool: "winnow", projector: kind + (metadata.nnz.map { " nnz \($0)" } ?? ""), seed: metadata.seed,
        k: metadata.k, modelID: "")
      self.preconditioner = metadata.preconditioner?.identity
    }
  }

  public init(
    tool: String, projector: String, seed: UInt64?, k: Int, modelID: String, preconditioner: String? = nil
  ) {
    self.tool = tool
    self.projector = projector
    self.seed = seed
    self.k = k
    self.modelID = modelID
    self.preconditioner = preconditioner
  }

  public var description: String {
    var parts = ["\(tool) \(projector)", "seed \(seed.map(String.init) ?? "unrecorded")", "k \(k)"]
    if !modelID.isEmpty { parts.append("model \(modelID)") }
    if let preconditioner { parts.append("preconditioned by \(preconditioner)") }
    return parts.joined(separator: ", ")
  }

  /// Checks that `train` and `target` features may be scored against each
  /// other: both identities known and equal, or either unknown.
  ///
  /// - Throws: `.invalidArgument` naming both inputs, their projections and
  ///   how to make compatible targets.
  public static func check(
    train: ProjectionIdentity?, trainLabel: String, target: ProjectionIdentity?, targetLabel: String
  ) throws {
    guard let train, let target, train != target else { return }
    let remedy =
      train.tool == "winnow"
      ? "project the target gradients with `winnow project` using the pool's projector, seed and k"
      : "make the targets with \(train.tool) itself, with the same projector, seed and model id as the pool, "
        + "and import them too (`winnow store import --from \(train.tool) ...`), "
        + "or project both pool and targets with `winnow project`"
    throw WinnowError.invalid(
      "\(trainLabel) holds features projected by \(train); \(targetLabel) by \(target). "
        + "Scores between features of two different projection maps are meaningless: \(remedy). "
        + "--allow-mixed-projections scores them anyway.")
  }
}

extension ProjectionIdentity {
  /// Checks that two feature sets may be scored against each other, from
  /// what their stores record (nil: a bare `.npy`, which records nothing).
  ///
  /// Two stores must have the same preconditioner, or none (a store without
  /// one holds features of raw gradients, whatever its projection), and
  /// then the same projection when both record it (`check(train:...)`).
  ///
  /// - Throws: `.invalidArgument` naming both inputs, what differs and how
  ///   to make compatible targets.
  public static func check(
    train: FeatureStoreMetadata?, trainLabel: String, target: FeatureStoreMetadata?, targetLabel: String
  ) throws {
    if let train, let target, train.preconditioner?.identity != target.preconditioner?.identity {
      func holds(_ m: FeatureStoreMetadata) -> String {
        m.preconditioner.map { "features preconditioned by \($0.identity)" }
          ?? "features of raw gradients (no preconditioner recorded)"
      }
      throw WinnowError.invalid(
        "\(trainLabel) holds \(holds(train)); \(targetLabel) holds \(holds(target)). "
          + "Dot products of differently preconditioned features are not a K-FAC / EK-FAC influence: "
          + "make the targets' features with the pool's curvature file, method and damping, and import "
          + "them with the same --preconditioner, --curvature and --damping (or --absolute-damping) "
          + "as the pool. --allow-mixed-projections scores them anyway.")
    }
    try check(
      train: train.flatMap(ProjectionIdentity.init), trainLabel: trainLabel,
      target: target.flatMap(ProjectionIdentity.init), targetLabel: targetLabel)
  }
}
