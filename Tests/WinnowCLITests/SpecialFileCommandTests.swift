import Foundation
import Testing

/// Inputs that are not regular files fail at once with a clear error; each
/// run goes through `timeout`, so a regression fails instead of hanging.
@Suite struct SpecialFileCommandTests {
  @Test func scoreWithATrainFIFOFailsInsteadOfHanging() throws {
    let ws = try Workspace()
    try ws.python("np.save('t.npy', np.ones((2, 4), '<f4'))")
    #expect(mkfifo(ws.path("train.npy"), 0o600) == 0)
    let run = try ws.spawn(
      "/usr/bin/timeout", ["30", CLI.executable.path, "score", "--train", "train.npy", "--target", "t.npy",
                           "--output", "s.npy"])
    #expect(run.status != 124, "score blocked on the FIFO")
    expectFailure(run, mentioning: "train.npy: not a regular file (a FIFO)")
  }

  @Test func scoringAStoreWithAShardLinkedToDevZeroFailsNamingTheShard() throws {
    let ws = try Workspace()
    try ws.python("np.save('x.npy', np.ones((6, 4), '<f4')); np.save('t.npy', np.ones((2, 4), '<f4'))")
    #expect(try ws.winnow(["store", "import", "--input", "x.npy", "--store", "s", "--shard-rows", "4"]).status == 0)
    try FileManager.default.removeItem(atPath: ws.path("s/shard-000001.features.npy"))
    try FileManager.default.createSymbolicLink(atPath: ws.path("s/shard-000001.features.npy"), withDestinationPath: "/dev/zero")
    let run = try ws.spawn(
      "/usr/bin/timeout", ["30", CLI.executable.path, "score", "--train", "s", "--target", "t.npy", "--output", "o.npy"])
    #expect(run.status != 124, "checksum verification read /dev/zero forever")
    expectFailure(run, mentioning: "shard-000001.features.npy")
  }
}
