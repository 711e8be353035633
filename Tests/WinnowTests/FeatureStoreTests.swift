import Foundation
import Testing

@testable import Winnow

@Suite struct FeatureStoreTests {
  let meta = FeatureStoreMetadata(projector: "rademacher", seed: 7, k: 5, inputDim: 100, checkpoint: "c1")

  func tempDir() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("winnow-store-\(UUID().uuidString)")
  }

  func files(_ dir: URL) throws -> [String: Data] {
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    return try Dictionary(uniqueKeysWithValues: names.map { ($0, try Data(contentsOf: dir.appendingPathComponent($0))) })
  }

  /// Appends rows `range` of `m` in pieces of `piece` rows, ids = 1000 + row.
  func ingest(_ w: FeatureStoreWriter, _ m: Matrix, _ range: Range<Int>, piece: Int) throws {
    for start in stride(from: range.lowerBound, to: range.upperBound, by: piece) {
      let rows = start..<min(start + piece, range.upperBound)
      let values = Array(m.storage[(rows.lowerBound * m.cols)..<(rows.upperBound * m.cols)])
      try values.withUnsafeBufferPointer {
        try w.append(features: $0, ids: rows.map { Int64(1000 + $0) })
      }
    }
  }

  @Test func rowsAndIdsReadBackAcrossShardsAndScoreLikeTheMatrix() throws {
    var rng = SeededRNG(seed: 4)
    let m = Matrix.random(23, 5, &rng)
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let w = try FeatureStoreWriter.openOrCreate(directory: dir, metadata: meta, shardRows: 10)
    try ingest(w, m, 0..<23, piece: 7)
    try w.close()
    let store = try FeatureStore(directory: dir)
    #expect(store.shards.map(\.rows) == [10, 10, 3])
    #expect(store.rowCount == 23 && store.dim == 5)
    #expect(try store.ids() == (0..<23).map { Int64(1000 + $0) })
    var out = [Float](repeating: 0, count: 8 * 5)
    try store.readRows(6..<14, into: &out)  // spans shards 0 and 1
    #expect(out == Array(m.storage[30..<70]))
    let target = Matrix.random(3, 5, &rng)
    let a = try Scorer(memoryCap: 1000).score([ScoringCheckpoint(train: store, target: target)])
    let b = try Scorer().score([ScoringCheckpoint(train: m, target: target)])
    expectClose(a.scores, b.scores.map(Double.init))
  }

  @Test func anInterruptedIngestResumesToTheSameFiles() throws {
    var rng = SeededRNG(seed: 5)
    let m = Matrix.random(35, 5, &rng)
    let whole = tempDir(), resumed = tempDir()
    defer { for d in [whole, resumed] { try? FileManager.default.removeItem(at: d) } }
    let w = try FeatureStoreWriter.openOrCreate(directory: whole, metadata: meta, shardRows: 8)
    try ingest(w, m, 0..<35, piece: 5)
    try w.close()
    // Stop mid-shard without closing: the open shard is lost, complete ones stay.
    do {
      let first = try FeatureStoreWriter.openOrCreate(directory: resumed, metadata: meta, shardRows: 8)
      try ingest(first, m, 0..<20, piece: 5)
      #expect(first.nextInputRow == 16)
    }
    // Leftovers of a crash: a temporary and an unlisted shard.
    try Data([1, 2]).write(to: resumed.appendingPathComponent("shard-000002.features.npy.tmp-1-ab"))
    try Data([3]).write(to: resumed.appendingPathComponent("shard-000002.ids.npy"))
    let again = try FeatureStoreWriter.openOrCreate(directory: resumed, metadata: meta, shardRows: 8)
    #expect(again.nextInputRow == 16)
    try ingest(again, m, again.nextInputRow..<35, piece: 5)
    try again.close()
    #expect(try files(resumed) == files(whole))
  }

  @Test func aChangedShardFailsItsChecksumNamingIt() throws {
    var rng = SeededRNG(seed: 6)
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let w = try FeatureStoreWriter.openOrCreate(directory: dir, metadata: meta, shardRows: 4)
    try ingest(w, Matrix.random(9, 5, &rng), 0..<9, piece: 9)
    try w.close()
    let shard = dir.appendingPathComponent("shard-000001.features.npy")
    var bytes = try Data(contentsOf: shard)
    bytes[bytes.count - 1] ^= 0x40
    try bytes.write(to: shard)
    #expect(throws: WinnowError.self) { _ = try FeatureStore(directory: dir) }
    do {
      _ = try FeatureStore(directory: dir)
    } catch let error as WinnowError {
      #expect(error.code == .format && error.message.contains("shard-000001.features.npy"))
      #expect(error.message.contains("checksum mismatch"))
    }
    _ = try FeatureStore(directory: dir, verifyChecksums: false)
  }

  @Test func otherMetadataIsRefusedAndHalfPrecisionRoundTrips() throws {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    var half = meta
    half.dtype = NPYDType.float16.rawValue
    let w = try FeatureStoreWriter.openOrCreate(directory: dir, metadata: half, shardRows: 4)
    let values: [Float] = (0..<30).map { Float($0) / 4 }
    try values.withUnsafeBufferPointer { try w.append(features: $0) }
    try w.close()
    #expect(throws: WinnowError.self) {
      _ = try FeatureStoreWriter.openOrCreate(directory: dir, metadata: meta, shardRows: 4)
    }
    let store = try FeatureStore(directory: dir)
    var out = [Float](repeating: 0, count: 30)
    try store.readRows(0..<6, into: &out)
    #expect(out == values)
    #expect(try store.ids() == (0..<6).map(Int64.init))
  }
}
