import Foundation
import Testing
import Winnow

/// `winnow score` verifies a store's shards while it reads them for scoring.
@Suite struct StoreVerifyCommandTests {
  /// One byte of shard 1 flipped at the first data byte, the middle or the
  /// last byte: the command fails naming the shard, and no output (nor a
  /// temporary) appears, for every measure, block size and pass count.
  @Test func aFlippedByteFailsScoringNamingTheShardAndWritesNothing() throws {
    let ws = try Workspace()
    try ws.python(
      """
      r = np.random.default_rng(8)
      np.save('x.npy', r.standard_normal((600, 16)).astype('<f4')); np.save('v.npy', r.standard_normal((4, 16)).astype('<f4'))
      """)
    let imported = try ws.winnow(["store", "import", "--input", "x.npy", "--store", "st", "--shard-rows", "256"])
    #expect(imported.status == 0, "\(imported.stderr)")
    let shard = "st/shard-000001.features.npy"
    let clean = try ws.data(shard)
    let manifest = try String(contentsOf: ws.url.appendingPathComponent("st/manifest.json"), encoding: .utf8)
    #expect(manifest.contains(try Checksum.sha256(ofFile: ws.path(shard))))  // hashed while written
    let good = try ws.winnow(["score", "--train", "st", "--target", "v.npy", "--output", "good.npy"])
    #expect(good.status == 0, "\(good.stderr)")

    let dataStart = 10 + Int(clean[8]) + Int(clean[9]) << 8  // .npy 1.0: magic, version, header length
    for at in [dataStart, (dataStart + clean.count) / 2, clean.count - 1] {
      var bytes = clean
      bytes[at] ^= 0x10
      try bytes.write(to: ws.url.appendingPathComponent(shard))
      for extra in [[], ["--memory-cap", "8K"], ["--measure", "influence"]] {
        let run = try ws.winnow(["score", "--train", "st", "--target", "v.npy", "--output", "out.npy"] + extra)
        expectFailure(run, mentioning: "shard-000001.features.npy: checksum mismatch")
        let left = try FileManager.default.contentsOfDirectory(atPath: ws.url.path).filter { $0.hasPrefix("out") }
        #expect(left.isEmpty, "byte \(at), \(extra): \(left)")
      }
      let unchecked = try ws.winnow(["score", "--train", "st", "--target", "v.npy", "--output", "nv.npy", "--no-verify"])
      #expect(unchecked.status == 0, "\(unchecked.stderr)")
    }
  }
}
