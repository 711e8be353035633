import Foundation
import Winnow

/// The projection a `winnow score` input was made with: recorded in a
/// feature store's manifest, unknown for a bare `.npy`.
func projectionIdentity(of source: any FeatureSource) -> ProjectionIdentity? {
  (source as? FeatureStore).flatMap { ProjectionIdentity($0.metadata) }
}

/// Refuses to score `train` against `target` when both record their
/// projection and the two differ (see `ProjectionIdentity.check`).
func checkProjections(train: any FeatureSource, target: any FeatureSource, trainPath: String, targetPath: String) throws {
  try ProjectionIdentity.check(
    train: projectionIdentity(of: train), trainLabel: "--train \(trainPath)",
    target: projectionIdentity(of: target), targetLabel: "--target \(targetPath)")
}
