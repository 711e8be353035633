import Foundation
import Testing
import Winnow

@Suite struct StoreCommandTests {
  @Test func killDuringIngestThenResumeGivesTheUninterruptedStore() throws {
    let ws = try Workspace()
    try ws.python("np.save('x.npy', np.random.default_rng(3).standard_normal((3000, 8)).astype('<f4'))")
    let args = ["store", "import", "--input", "x.npy", "--shard-rows", "100"]
    #expect(try ws.winnow(args + ["--store", "whole"]).status == 0)

    // Start a slowed-down ingest and SIGKILL it once a few shards are listed.
    let reason = try killAfterShards(
      ws, args + ["--store", "cut"], store: "cut", shards: 3, environment: ["WINNOW_TEST_PAUSE_AFTER_SHARD_MS": "30"])
    #expect(reason == .uncaughtSignal, "the ingest finished before it could be killed")
    let partial = try FeatureStore(directory: ws.url.appendingPathComponent("cut"))
    #expect(partial.shards.count >= 3 && partial.shards.count < 30)

    let resumed = try ws.winnow(args + ["--store", "cut"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let names = try FileManager.default.contentsOfDirectory(atPath: ws.path("whole")).sorted()
    #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path("cut")).sorted() == names)
    for name in names { #expect(try ws.data("whole/\(name)") == ws.data("cut/\(name)"), "\(name)") }
  }

  @Test func aStoreScoresLikeItsFileAndAChangedShardIsRefused() throws {
    let ws = try Workspace()
    try ws.python(
      """
      r = np.random.default_rng(4)
      np.save('x.npy', r.standard_normal((500, 8)).astype('<f4')); np.save('v.npy', r.standard_normal((3, 8)).astype('<f4'))
      np.save('ids.npy', np.arange(500, dtype='<i8') * 10 + 7)
      """)
    #expect(try ws.winnow(["store", "import", "--input", "x.npy", "--ids", "ids.npy", "--store", "st", "--shard-rows", "128"]).status == 0)
    let fromStore = try ws.winnow(["score", "--train", "st", "--target", "v.npy", "--output", "a.npy", "--memory-cap", "20K"])
    #expect(fromStore.status == 0, "\(fromStore.stderr)")
    #expect(try ws.winnow(["score", "--train", "x.npy", "--target", "v.npy", "--output", "b.npy"]).status == 0)
    let check = try ws.python("print(np.abs(np.load('a.npy') - np.load('b.npy')).max())")
    #expect((Double(check.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1) <= 1e-6)
    let select = try ws.winnow(["select", "--scores", "a.npy", "--top", "3", "--ids", "st", "--output", "sel.npy"])
    #expect(select.status == 0, "\(select.stderr)")
    #expect(try ws.python("print(all(np.load('sel.npy') % 10 == 7))").contains("True"))

    try ws.python(
      """
      b = bytearray(open('st/shard-000002.features.npy', 'rb').read()); b[-1] ^= 1
      open('st/shard-000002.features.npy', 'wb').write(b)
      """)
    expectFailure(
      try ws.winnow(["score", "--train", "st", "--target", "v.npy", "--output", "c.npy"]),
      mentioning: "shard-000002.features.npy: checksum mismatch")
  }

  @Test func scoringAStoreFourTimesTheCapStaysWithinTheCap() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else { return }
    let ws = try Workspace()
    // 16384 × 512 f32 = 32 MiB of features against an 8 MiB cap.
    try ws.python(
      """
      r = np.random.default_rng(5)
      np.save('x.npy', r.standard_normal((16384, 512)).astype('<f4')); np.save('small.npy', np.ones((64, 512), '<f4'))
      np.save('v.npy', r.standard_normal((4, 512)).astype('<f4'))
      """)
    for (input, store) in [("x.npy", "big"), ("small.npy", "small")] {
      #expect(try ws.winnow(["store", "import", "--input", input, "--store", store, "--shard-rows", "4096"]).status == 0)
    }
    func peakKiB(_ store: String) throws -> Int {
      let run = try ws.spawn(
        "/usr/bin/time",
        ["-f", "peak=%M", CLI.executable.path, "score", "--train", store, "--target", "v.npy",
         "--output", "\(store).npy", "--memory-cap", "8M", "--no-verify"])
      #expect(run.status == 0, "\(run.stderr)")
      let line = run.stderr.split(separator: "\n").last { $0.hasPrefix("peak=") } ?? ""
      return Int(line.dropFirst(5)) ?? .max
    }
    let baseline = try peakKiB("small"), big = try peakKiB("big")
    // Stated constant: the cap plus 4 MiB (scores, allocator slack) above the
    // resident size of the same command on a tiny store.
    #expect(big - baseline < 8 * 1024 + 4 * 1024, "peak \(big) KiB vs baseline \(baseline) KiB")
    print("RSS: baseline \(baseline) KiB, 32 MiB store with an 8 MiB cap \(big) KiB")
  }

  /// `winnow project --store` killed with SIGKILL after a random number of
  /// shards, then resumed with another memory budget (so other row blocks,
  /// starting elsewhere): every file is the bytes of an uninterrupted run.
  @Test func killingAProjectionAtRandomPointsThenResumingGivesTheSameBytes() throws {
    let ws = try Workspace()
    try ws.python("np.save('g.npy', np.random.default_rng(8).standard_normal((600, 1500)).astype('<f4'))")
    let args = ["project", "--input", "g.npy", "--dim", "200", "--seed", "4", "--shard-rows", "40"]
    #expect(try ws.winnow(args + ["--store", "whole", "--memory-budget", "2G"]).status == 0)
    let names = try FileManager.default.contentsOfDirectory(atPath: ws.path("whole")).sorted()
    var rng = SystemRandomNumberGenerator()
    var killed = 0
    for trial in 0..<4 {
      let cut = "cut\(trial)", shards = Int.random(in: 1...12, using: &rng)
      // A 1M budget: P (1.2 MB) in panels, row blocks of ~40 rows.
      let reason = try killAfterShards(
        ws, args + ["--store", cut, "--memory-budget", "1M"], store: cut, shards: shards,
        environment: ["WINNOW_TEST_PAUSE_AFTER_BLOCK_MS": "\(Int.random(in: 5...40, using: &rng))"])
      if reason == .uncaughtSignal { killed += 1 }
      let resumed = try ws.winnow(args + ["--store", cut, "--memory-budget", trial % 2 == 0 ? "2G" : "3M"],
                                  environment: ["OPENBLAS_NUM_THREADS": trial % 2 == 0 ? "1" : "2"])
      #expect(resumed.status == 0, "\(resumed.stderr)")
      #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path(cut)).sorted() == names)
      for name in names { #expect(try ws.data("whole/\(name)") == ws.data("\(cut)/\(name)"), "trial \(trial): \(name)") }
    }
    #expect(killed >= 3, "only \(killed) of 4 runs were killed before finishing")
  }

  /// Starts `winnow arguments`, waits until `store`'s manifest lists
  /// `shards` shards (at most 30 s), SIGKILLs it and returns how it ended.
  /// `environment` (added to this process's) sets the test hooks that slow
  /// it down.
  func killAfterShards(
    _ ws: Workspace, _ arguments: [String], store: String, shards: Int, environment: [String: String]
  ) throws -> Process.TerminationReason {
    let process = Process()
    process.executableURL = CLI.executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.currentDirectoryURL = ws.url
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let manifest = ws.url.appendingPathComponent("\(store)/manifest.json")
    var listed = 0
    let deadline = Date().addingTimeInterval(30)
    while listed < shards, process.isRunning, Date() < deadline {
      usleep(2_000)
      listed = ((try? String(contentsOf: manifest, encoding: .utf8))?.components(separatedBy: "inputStart").count ?? 1) - 1
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return process.terminationReason
  }

  @Test func aManifestRunningPastOrOverflowingTheInputIsAnErrorNamingTheField() throws {
    let ws = try Workspace()
    try ws.python("""
      np.save('x.npy', np.ones((30, 4), '<f4'))
      np.save('short.npy', np.ones((10, 4), '<f4'))
      """)
    let args = ["store", "import", "--shard-rows", "8", "--store", "s"]
    #expect(try ws.winnow(args + ["--input", "x.npy"]).status == 0)
    expectFailure(try ws.winnow(args + ["--input", "short.npy"]), mentioning: "shards[3].inputStart + shards[3].rows = 30")
    let url = ws.url.appendingPathComponent("s/manifest.json")
    for bad in ["9223372036854775807", "-16"] {
      let text = try String(contentsOf: url, encoding: .utf8)
        .replacingOccurrences(of: "\"inputStart\" : 24", with: "\"inputStart\" : \(bad)")
      try text.write(to: url, atomically: true, encoding: .utf8)
      let run = try ws.winnow(args + ["--input", "x.npy"])
      expectFailure(run, mentioning: "manifest.json: shards[3].inputStart = \(bad)")
      #expect(run.status == 1, "status \(run.status): \(run.stderr)")
      try text.replacingOccurrences(of: "\"inputStart\" : \(bad)", with: "\"inputStart\" : 24")
        .write(to: url, atomically: true, encoding: .utf8)
    }
  }
}

