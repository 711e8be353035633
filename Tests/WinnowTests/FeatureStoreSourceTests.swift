import Foundation
import Testing

@testable import Winnow

@Suite struct FeatureStoreSourceTests {
  /// A one-shard store at a fresh temporary path, removed by the caller.
  func makeStore(_ metadata: FeatureStoreMetadata) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-source-\(UUID().uuidString)")
    let writer = try FeatureStoreWriter.openOrCreate(directory: dir, metadata: metadata)
    try [Float](repeating: 0.5, count: 3 * metadata.k).withUnsafeBufferPointer { try writer.append(features: $0) }
    try writer.close()
    return dir
  }

  /// Rewrites the store's manifest.json through `edit` of its JSON object.
  func editManifest(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
    let url = dir.appendingPathComponent("manifest.json")
    guard var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
      throw WinnowError(.format, "manifest is not an object")
    }
    edit(&json)
    try JSONSerialization.data(withJSONObject: json).write(to: url)
  }

  @Test func storesWithoutASourceAndWithUnknownFieldsStillLoad() throws {
    let plain = try makeStore(FeatureStoreMetadata(projector: "rademacher", seed: 3, k: 4, inputDim: 10))
    defer { try? FileManager.default.removeItem(at: plain) }
    #expect(try String(contentsOf: plain.appendingPathComponent("manifest.json"), encoding: .utf8).contains("source") == false)
    try editManifest(plain) { json in
      var meta = json["metadata"] as? [String: Any] ?? [:]
      meta["projectorKind"] = "sjlt"  // a field from a later version
      json["metadata"] = meta
      json["writtenBy"] = "a later winnow"
    }
    let store = try FeatureStore(directory: plain)
    #expect(store.metadata.source == nil)
    #expect(ProjectionIdentity(store.metadata) == ProjectionIdentity(tool: "winnow", projector: "rademacher", seed: 3, k: 4, modelID: ""))
  }

  @Test func theSourceRoundTripsAndDecidesWhichFeaturesMayBeCompared() throws {
    let trak = FeatureStoreSource(tool: "trak", path: "/x/trak_results", projector: "rademacher", k: 4, modelID: "0", array: "grads.mmap <f2")
    let dir = try makeStore(FeatureStoreMetadata(projector: "imported", seed: 0, k: 4, inputDim: 0, source: trak))
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try FeatureStore(directory: dir)
    #expect(store.metadata.source == trak)
    let pool = ProjectionIdentity(store.metadata)
    let ours = ProjectionIdentity(tool: "winnow", projector: "rademacher", seed: 0, k: 4, modelID: "")
    #expect(throws: WinnowError.self) {
      try ProjectionIdentity.check(train: pool, trainLabel: "pool", target: ours, targetLabel: "targets")
    }
    var otherModel = trak
    otherModel.modelID = "1"
    let other = ProjectionIdentity(FeatureStoreMetadata(projector: "imported", seed: 0, k: 4, inputDim: 0, source: otherModel))
    #expect(throws: WinnowError.self) {
      try ProjectionIdentity.check(train: pool, trainLabel: "pool", target: other, targetLabel: "targets")
    }
    try ProjectionIdentity.check(train: pool, trainLabel: "pool", target: pool, targetLabel: "targets")
    // A bare import records nothing: it is compared with anything, as before.
    let bare = ProjectionIdentity(FeatureStoreMetadata(projector: "imported", seed: 0, k: 4, inputDim: 0))
    #expect(bare == nil)
    try ProjectionIdentity.check(train: pool, trainLabel: "pool", target: bare, targetLabel: "targets")
  }
}
