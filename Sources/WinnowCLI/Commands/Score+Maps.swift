import Foundation
import Winnow

extension Score {
  /// Opens a checkpoint's target features, a `.npy` or a feature store.
  /// When the target and the checkpoint's train are both stores, their
  /// manifests must record the same projection map (kind, seed, nnz, K, D):
  /// features of different maps have no meaningful inner product.
  func openTarget(_ path: String, train: String) throws -> any FeatureSource {
    let url = URL(fileURLWithPath: path)
    guard FeatureStore.isStore(url) else { return try openFeatures(path, role: "target features") }
    let store = try FeatureStore(directory: url, verifyChecksums: !noVerify)
    let trainURL = URL(fileURLWithPath: train)
    if FeatureStore.isStore(trainURL) {
      try FeatureStore.metadata(at: trainURL).checkSameMap(
        as: store.metadata, "train store \(train)", "target store \(path)")
    }
    return store
  }
}
