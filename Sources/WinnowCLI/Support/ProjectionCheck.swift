import Foundation
import Winnow

/// Refuses to score `train` against `target` when both are stores of
/// different preconditioners, or both record their projection and the two
/// differ (see `ProjectionIdentity.check`).
func checkProjections(train: any FeatureSource, target: any FeatureSource, trainPath: String, targetPath: String) throws {
  try ProjectionIdentity.check(
    train: (train as? FeatureStore)?.metadata, trainLabel: "--train \(trainPath)",
    target: (target as? FeatureStore)?.metadata, targetLabel: "--target \(targetPath)")
}

/// The preconditioner a `winnow score` input records: a store's, nil for a
/// bare `.npy` or a store of raw-gradient features.
func preconditioner(of source: any FeatureSource) -> FeatureStorePreconditioner? {
  (source as? FeatureStore)?.metadata.preconditioner
}
