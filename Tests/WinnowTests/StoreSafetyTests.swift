import Foundation
import Testing

@testable import Winnow

/// Runs `body` on its own thread and fails (instead of hanging the suite)
/// when it does not return within `seconds`; `unblock` then runs to free it.
func withinSeconds<T: Sendable>(
  _ seconds: Double, unblock: @escaping @Sendable () -> Void = {},
  _ body: @escaping @Sendable () -> T
) -> T? {
  let done = DispatchSemaphore(value: 0)
  nonisolated(unsafe) var result: T?
  Thread.detachNewThread {
    result = body()
    done.signal()
  }
  guard done.wait(timeout: .now() + seconds) == .success else {
    unblock()
    _ = done.wait(timeout: .now() + 5)
    return nil
  }
  return result
}

/// Special files, symbolic links and hostile manifests in and around stores:
/// each a clear error naming the file or field, never a hang or a trap.
@Suite struct StoreSafetyTests {
  let meta = FeatureStoreMetadata(projector: "rademacher", seed: 1, k: 3, inputDim: 10)

  /// A two-shard store of 8 rows in a fresh folder.
  func makeStore() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-safety-\(UUID().uuidString)")
    let w = try FeatureStoreWriter.openOrCreate(directory: dir, metadata: meta, shardRows: 4)
    let values = (0..<24).map(Float.init)
    try values.withUnsafeBufferPointer { try w.append(features: $0) }
    try w.close()
    return dir
  }

  func message(_ body: () throws -> Void) -> String? {
    do { try body() } catch let e as WinnowError { return e.message } catch { return "\(error)" }
    return nil
  }

  @Test func aFIFOIsRefusedWithoutBlocking() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-fifo-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let fifo = dir.appendingPathComponent("train.npy").path
    #expect(mkfifo(fifo, 0o600) == 0)
    let opened = withinSeconds(10, unblock: { let fd = open(fifo, O_WRONLY | O_NONBLOCK); if fd >= 0 { close(fd) } }) {
      () -> String in
      do {
        _ = try NPYArray(contentsOf: URL(fileURLWithPath: fifo))
        return "opened"
      } catch let e as WinnowError { return e.message } catch { return "\(error)" }
    }
    #expect(opened != nil, "opening a FIFO blocked")
    #expect(opened?.contains("not a regular file (a FIFO)") == true, "\(opened ?? "")")
    #expect((try? Checksum.sha256(ofFile: fifo)) == nil)
  }

  @Test func aShardSymlinkedToDevZeroIsRefusedNamingTheShard() throws {
    let dir = try makeStore()
    defer { try? FileManager.default.removeItem(at: dir) }
    let shard = dir.appendingPathComponent("shard-000001.features.npy").path
    try FileManager.default.removeItem(atPath: shard)
    try FileManager.default.createSymbolicLink(atPath: shard, withDestinationPath: "/dev/zero")
    let text = withinSeconds(20) { () -> String in
      do { _ = try FeatureStore(directory: dir); return "opened" } catch { return "\(error)" }
    }
    #expect(text != nil, "checksum verification read /dev/zero forever")
    #expect(text?.contains("shard-000001.features.npy") == true && text?.contains("outside") == true, "\(text ?? "")")
    #expect(throws: WinnowError.self) { try FeatureStoreWriter.openOrCreate(directory: dir, metadata: meta, shardRows: 4) }
  }

  @Test func aShardSymlinkLeavingTheStoreIsRefusedAndOneInsideIsFollowed() throws {
    let dir = try makeStore()
    defer { try? FileManager.default.removeItem(at: dir) }
    let shard = dir.appendingPathComponent("shard-000000.ids.npy")
    // Inside the store: resolved and read like the file itself.
    let moved = dir.appendingPathComponent("ids-copy.npy")
    try FileManager.default.moveItem(at: shard, to: moved)
    try FileManager.default.createSymbolicLink(atPath: shard.path, withDestinationPath: "ids-copy.npy")
    #expect(try FeatureStore(directory: dir).ids() == (0..<8).map(Int64.init))
    // Outside the store: refused, naming the shard, even with the right bytes.
    let outside = dir.deletingLastPathComponent().appendingPathComponent("outside-\(UUID().uuidString).npy")
    try FileManager.default.moveItem(at: moved, to: outside)
    defer { try? FileManager.default.removeItem(at: outside) }
    try FileManager.default.removeItem(at: shard)
    try FileManager.default.createSymbolicLink(atPath: shard.path, withDestinationPath: outside.path)
    let text = message { _ = try FeatureStore(directory: dir, verifyChecksums: false) }
    #expect(text?.contains("shard shard-000000.features.npy ids") == true && text?.contains("outside the folder") == true,
            "\(text ?? "")")
  }

  /// Rewrites one field of the last shard in the manifest's JSON.
  func editLastShard(_ dir: URL, _ key: String, _ value: String) throws {
    let url = dir.appendingPathComponent("manifest.json")
    var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    var shards = json["shards"] as! [[String: Any]]
    shards[shards.count - 1][key] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
    json["shards"] = shards
    try JSONSerialization.data(withJSONObject: json).write(to: url)
  }

  @Test(arguments: [
    ("inputStart", "9223372036854775807", "shards[1].inputStart"),
    ("inputStart", "-16", "shards[1].inputStart"),
    ("rows", "9223372036854775807", "shards[1].rows"),
    ("rows", "0", "shards[1].rows"),
    ("features", "\"../x.npy\"", "shards[1].features"),
    ("ids", "\"shard-000000.ids.npy\"", "listed twice"),
    ("idsSHA256", "\"abc\"", "shards[1].idsSHA256"),
  ])
  func aHostileManifestFieldIsAnErrorNamingIt(key: String, value: String, field: String) throws {
    let dir = try makeStore()
    defer { try? FileManager.default.removeItem(at: dir) }
    try editLastShard(dir, key, value)
    for open in [{ _ = try FeatureStore(directory: dir) },
                 { _ = try FeatureStoreWriter.openOrCreate(directory: dir, metadata: meta, shardRows: 4) }] {
      let text = message(open)
      #expect(text?.contains("manifest.json") == true && text?.contains(field) == true, "\(text ?? "")")
    }
  }

  @Test func aResumeRunningPastTheInputNamesTheManifest() throws {
    let dir = try makeStore()
    defer { try? FileManager.default.removeItem(at: dir) }
    let w = try FeatureStoreWriter.openOrCreate(directory: dir, metadata: meta, shardRows: 4)
    #expect(w.nextInputRow == 8)
    try w.checkResume(inputRows: 8)
    let text = message { try w.checkResume(inputRows: 6) }
    #expect(text?.contains("manifest.json: shards[1].inputStart + shards[1].rows = 8") == true, "\(text ?? "")")
  }
}
