import Foundation
import Testing

@testable import Winnow

/// Checksums computed while a store is written and verified while it is read.
@Suite struct StoreChecksumTests {
  let meta = FeatureStoreMetadata(projector: "rademacher", seed: 7, k: 6, inputDim: 100)

  func tempDir() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("winnow-sum-\(UUID().uuidString)")
  }

  /// A store of `rows × 6` features in shards of `shardRows`.
  func makeStore(
    _ dir: URL, rows: Int, shardRows: Int, expected: Int?, dtype: NPYDType = .float32
  ) throws -> Matrix {
    var rng = SeededRNG(seed: 11)
    let m = Matrix.random(rows, 6, &rng)
    var meta = meta
    meta.dtype = dtype.rawValue
    let w = try FeatureStoreWriter.openOrCreate(
      directory: dir, metadata: meta, shardRows: shardRows, expectedInputRows: expected)
    for start in stride(from: 0, to: rows, by: 7) {
      let end = min(start + 7, rows)
      try m.storage[(start * 6)..<(end * 6)].withUnsafeBufferPointer { try w.append(features: $0) }
    }
    try w.close()
    return m
  }

  /// Reads every row of `store` block by block, as scoring does.
  func scan(_ store: FeatureStore, block: Int) throws {
    var out = [Float](repeating: 0, count: block * store.dim)
    for start in stride(from: 0, to: store.rowCount, by: block) {
      let rows = start..<min(start + block, store.rowCount)
      try store.readRows(rows, into: &out)
    }
  }

  @Test func checksumsComputedWhileWritingEqualTheFilesHashes() throws {
    for expected in [50, nil] {  // without the hint, the short last shard is read back
      let dir = tempDir()
      defer { try? FileManager.default.removeItem(at: dir) }
      _ = try makeStore(dir, rows: 50, shardRows: 16, expected: expected)
      let manifest = try FeatureStoreManifest.load(from: dir)
      #expect(manifest.shards.map(\.rows) == [16, 16, 16, 2])
      for shard in manifest.shards {
        #expect(try SHA256.hex(ofFile: dir.appendingPathComponent(shard.features).path) == shard.featuresSHA256)
        #expect(try SHA256.hex(ofFile: dir.appendingPathComponent(shard.ids).path) == shard.idsSHA256)
      }
    }
  }

  @Test func aWriterHashesOnlyWhenTheHeaderItWroteFirstIsFinal() throws {
    let dir = tempDir()
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let values = (0..<30).map { Float($0) / 4 }
    for (expected, streamed) in [(10, true), (9, false), (nil, false)] as [(Int?, Bool)] {
      let url = dir.appendingPathComponent("a-\(expected ?? 0).npy")
      let w = try NPYWriter(url: url, dtype: .float32, rowShape: [3], expectedRows: expected)
      try values.withUnsafeBufferPointer { try w.append(floats: $0) }
      try w.finalize()
      #expect((w.checksum != nil) == streamed)
      #expect(try w.checksumOrRead() == SHA256.hex(ofFile: url.path))
      #expect(try NPYArray(contentsOf: url).shape == [10, 3])
    }
    let ids = dir.appendingPathComponent("ids.npy")
    #expect(try NPYWriter.write([4, 5, 6] as [Int64], to: ids) == SHA256.hex(ofFile: ids.path))
  }

  /// The fixture was written by `winnow store import` before checksums came
  /// from libcrypto (12 × 4, shards of 5): its manifest's SHA-256s verify,
  /// and today's writer makes the same bytes from the same input.
  @Test func aStoreWrittenBeforeTheChangeVerifiesAndIsRewrittenIdentically() throws {
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../Fixtures/store-v1").standardized
    _ = try FeatureStore(directory: fixture, verification: .whenOpened)
    let store = try FeatureStore(directory: fixture, verification: .whileReading)
    #expect(!store.isVerified)
    var rows = [Float](repeating: 0, count: 12 * 4)
    try store.readRows(0..<12, into: &rows)
    #expect(store.isVerified)
    #expect(rows == (0..<48).map { (Float($0) - 20) / 8 })
    #expect(try store.ids() == (0..<12).map { Int64($0 * 3 + 1) })

    let dir = tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let w = try FeatureStoreWriter.openOrCreate(
      directory: dir, metadata: store.metadata, shardRows: 5, expectedInputRows: 12)
    try rows.withUnsafeBufferPointer { try w.append(features: $0, ids: (0..<12).map { Int64($0 * 3 + 1) }) }
    try w.close()
    for name in try FileManager.default.contentsOfDirectory(atPath: fixture.path) where name != "manifest.json" {
      #expect(
        try Data(contentsOf: dir.appendingPathComponent(name)) == Data(contentsOf: fixture.appendingPathComponent(name)),
        "\(name)")
    }
    // The manifest now records XXH3-128 beside each SHA-256; without them it is the old one.
    var rewritten = try FeatureStoreManifest.load(from: dir)
    for (i, shard) in rewritten.shards.enumerated() {
      #expect(shard.featuresXXH3 == (try XXH3Vectors.file(dir.appendingPathComponent(shard.features))))
      #expect(shard.idsXXH3 == (try XXH3Vectors.file(dir.appendingPathComponent(shard.ids))))
      rewritten.shards[i].featuresXXH3 = nil
      rewritten.shards[i].idsXXH3 = nil
    }
    #expect(try rewritten.encoded() == Data(contentsOf: fixture.appendingPathComponent("manifest.json")))
  }

  @Test func xxh3MatchesTheReferenceDigestsAndAStoreRecordsThem() throws {
    // From `xxhsum -H2` (xxHash 0.8.1): "", "abc", and 1 MiB of (7i + 3) mod 251.
    #expect(try XXH3Vectors.digest([]) == "99aa06d3014798d86001c324468d497f")
    #expect(try XXH3Vectors.digest(Array("abc".utf8)) == "06b05ab6733a618578af5f94892f3950")
    let mib = (0..<(1 << 20)).map { UInt8((($0 * 7) + 3) % 251) }
    #expect(try XXH3Vectors.digest(mib) == "cfec29601eac8b6ebae1ccc48e28c9f0")
    // In pieces of any size, the same digest.
    let h = try XXH3()
    var at = 0
    for piece in [1, 63, 64, 65, 1000, 250_000] {
      mib[at..<(at + piece)].withUnsafeBytes { h.update($0) }
      at += piece
    }
    mib[at...].withUnsafeBytes { h.update($0) }
    #expect(try h.finalizeHex() == "cfec29601eac8b6ebae1ccc48e28c9f0")

    let dir = tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try makeStore(dir, rows: 50, shardRows: 16, expected: nil)  // the short shard is read back
    for shard in try FeatureStoreManifest.load(from: dir).shards {
      #expect(shard.featuresXXH3 == (try XXH3Vectors.file(dir.appendingPathComponent(shard.features))))
      #expect(shard.idsXXH3 == (try XXH3Vectors.file(dir.appendingPathComponent(shard.ids))))
    }
  }

  @Test func aMismatchNamesTheAlgorithmTheManifestRecorded() throws {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    _ = try makeStore(dir, rows: 20, shardRows: 16, expected: 20)
    let shard = dir.appendingPathComponent("shard-000000.features.npy")
    var bytes = try Data(contentsOf: shard)
    bytes[bytes.count - 1] ^= 0x04
    try bytes.write(to: shard)
    let fast = #expect(throws: WinnowError.self) { _ = try FeatureStore(directory: dir, verification: .whenOpened) }
    #expect(fast?.message.contains("records XXH3-128") == true)
    // Without the XXH3 fields (a store written before them), SHA-256 decides.
    var manifest = try FeatureStoreManifest.load(from: dir)
    for i in manifest.shards.indices { (manifest.shards[i].featuresXXH3, manifest.shards[i].idsXXH3) = (nil, nil) }
    try manifest.save(to: dir)
    let store = try FeatureStore(directory: dir, verification: .whileReading)
    let slow = #expect(throws: WinnowError.self) { try scan(store, block: 16) }
    #expect(slow?.message.contains("records SHA-256") == true)
    // A malformed XXH3 field is a format error naming it.
    let text = try String(contentsOf: dir.appendingPathComponent("manifest.json"), encoding: .utf8)
      .replacingOccurrences(of: "\"idsSHA256\"", with: "\"idsXXH3\" : \"XYZ\",\n      \"idsSHA256\"")
    try text.write(to: dir.appendingPathComponent("manifest.json"), atomically: true, encoding: .utf8)
    let bad = #expect(throws: WinnowError.self) { _ = try FeatureStore(directory: dir, verification: .none) }
    #expect(bad?.message.contains("idsXXH3") == true)
  }

  @Test(arguments: ["start", "middle", "end"], [NPYDType.float32, .float16])
  func aFlippedByteFailsTheReadThatFinishesItsShardNamingIt(_ place: String, _ dtype: NPYDType) throws {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let m = try makeStore(dir, rows: 40, shardRows: 16, expected: 40, dtype: dtype)
    let shard = dir.appendingPathComponent("shard-000001.features.npy")
    let dataStart = try NPYArray(contentsOf: shard).dataOffset
    var bytes = try Data(contentsOf: shard)
    let at = ["start": dataStart, "middle": (dataStart + bytes.count) / 2, "end": bytes.count - 1][place]!
    bytes[at] ^= 0x01
    try bytes.write(to: shard)

    func expectMismatch(_ body: () throws -> Void) {
      #expect {
        try body()
      } throws: {
        let e = $0 as? WinnowError
        return e?.code == .format && e?.message.contains("shard-000001.features.npy: checksum mismatch") == true
      }
    }
    expectMismatch { _ = try FeatureStore(directory: dir, verification: .whenOpened) }
    for block in [5, 16, 40] {  // blocks inside shards, whole shards, across shards
      let store = try FeatureStore(directory: dir, verification: .whileReading)
      expectMismatch { try scan(store, block: block) }
      expectMismatch { try store.finishVerification() }  // the verdict stays
    }
    // Rows before the shard read fine; the unread rest is hashed on demand.
    let fresh = try FeatureStore(directory: dir, verification: .whileReading)
    var first = [Float](repeating: 0, count: 16 * 6)
    try fresh.readRows(0..<16, into: &first)
    if dtype == .float32 { #expect(first == Array(m.storage[0..<(16 * 6)])) }
    expectMismatch { try fresh.finishVerification() }
    var all = [Float](repeating: 0, count: 40 * 6)
    try FeatureStore(directory: dir, verification: .none).readRows(0..<40, into: &all)
  }

  @Test func aScorerScanVerifiesEveryShardWithoutAnotherRead() throws {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    let m = try makeStore(dir, rows: 40, shardRows: 16, expected: 40)
    var rng = SeededRNG(seed: 12)
    let target = Matrix.random(3, 6, &rng)
    let store = try FeatureStore(directory: dir, verification: .whileReading)
    let a = try Scorer(memoryCap: 2000).score([ScoringCheckpoint(train: store, target: target)])
    #expect(store.isVerified)
    try store.finishVerification()
    let b = try Scorer(memoryCap: 2000).score([ScoringCheckpoint(train: m, target: target)])
    #expect(a.scores == b.scores)  // the same rows through the same computation
  }
}

/// XXH3-128 digests through the library's door, for the tests above.
enum XXH3Vectors {
  static func digest(_ bytes: [UInt8]) throws -> String {
    let h = try XXH3()
    bytes.withUnsafeBytes { h.update($0) }
    return try h.finalizeHex()
  }

  static func file(_ url: URL) throws -> String { try ChecksumAlgorithm.xxh3.hex(ofFile: url.path) }
}
