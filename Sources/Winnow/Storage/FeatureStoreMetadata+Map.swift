#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension FeatureStoreMetadata {
  /// The projection map the features come from, as words: kind (without the
  /// `/adam` of LESS train features, which share the map of plain
  /// gradients), seed, nonzeros per coordinate for `sjlt`, `k` and `D`.
  public var map: String {
    let kind = projector.hasSuffix("/adam") ? String(projector.dropLast(5)) : projector
    return "\(kind) seed \(seed)" + (nnz.map { " nnz \($0)" } ?? "") + " k \(k) D \(inputDim)"
  }

  /// Throws unless `other`'s features come from the same projection map, so
  /// they can be compared; `imported` features carry no map and pass.
  /// - Parameters: `name`, `otherName`: how the error names the two stores.
  public func checkSameMap(as other: FeatureStoreMetadata, _ name: String, _ otherName: String) throws {
    guard projector != "imported", other.projector != "imported", map != other.map else { return }
    throw WinnowError(
      .shapeMismatch,
      "\(name) holds features of the map \(map) but \(otherName) of \(other.map): "
        + "features of different projections cannot be compared")
  }
}

extension FeatureStore {
  /// The metadata of the store at `directory`, from its manifest alone.
  public static func metadata(at directory: URL) throws -> FeatureStoreMetadata {
    try FeatureStoreManifest.load(from: directory).metadata
  }
}
