import Foundation
import Testing

/// `winnow replay` on manifests of `winnow select` (a Ray run's manifest is
/// replayed in bindings/python/tests/test_ray_replay.py).
@Suite struct ReplayCommandTests {
  /// 300 scores with ties, ids 1000…1299 in a feature store (so the ids
  /// input is a store's manifest), and a selection with listing + manifest.
  func select(_ ws: Workspace, rule: [String]) throws {
    try ws.python(
      """
      r = np.random.default_rng(2)
      s = r.standard_normal(300).astype('<f4'); s[40:60] = s[0]  # ties across the cut
      np.save('s.npy', s); np.save('ids.npy', np.arange(1000, 1300))
      np.save('f.npy', r.standard_normal((300, 4)).astype('<f4'))
      """)
    let store = try ws.winnow(["store", "import", "--input", "f.npy", "--store", "st", "--ids", "ids.npy"])
    #expect(store.status == 0, "\(store.stderr)")
    let run = try ws.winnow(
      ["select", "--scores", "s.npy", "--ids", "st", "--output", "sel.npy", "--listing", "sel.csv",
       "--manifest", "m.json"] + rule)
    #expect(run.status == 0, "\(run.stderr)")
  }

  @Test(arguments: [["--fraction", "0.1"], ["--top", "45"], ["--threshold", "0.25"]])
  func replayOfASelectionIsIdentical(_ rule: [String]) throws {
    let ws = try Workspace()
    try select(ws, rule: rule)
    let replay = try ws.winnow(["replay", "m.json", "--scratch", "again"])
    #expect(replay.status == 0, "\(replay.stdout) \(replay.stderr)")
    #expect(replay.stdout.contains("ids: identical") && replay.stdout.contains("listing: identical"))
    #expect(try ws.data("again/ids.npy") == ws.data("sel.npy"))
    #expect(try ws.data("again/listing.csv") == ws.data("sel.csv"))
  }

  @Test func changedInputIsNamedAndTheFirstDifferenceReported() throws {
    let ws = try Workspace()
    try select(ws, rule: ["--top", "10"])
    // Row 123 becomes the best score: the replayed ids differ from row 0 on.
    let first = try ws.python(
      """
      s = np.load('s.npy'); s[123] = 100; np.save('s.npy', s)
      print(np.load('sel.npy')[0])
      """).trimmingCharacters(in: .whitespacesAndNewlines)
    let replay = try ws.winnow(["replay", "m.json", "--scratch", "again"])
    #expect(replay.status == 1, "\(replay.stdout) \(replay.stderr)")
    #expect(replay.stdout.contains("input scores changed: s.npy has SHA-256"), "\(replay.stdout)")
    #expect(replay.stdout.contains("ids: differs from sel.npy at byte 128 (row 0 of the ids: recorded \(first), replayed 1123)"),
            "\(replay.stdout)")
    #expect(replay.stdout.contains("(line 2: recorded '1,\(first),") && replay.stdout.contains("replayed '1,1123,100.0'"),
            "\(replay.stdout)")
  }

  @Test func changedOutputIsFoundAtItsRow() throws {
    let ws = try Workspace()
    try select(ws, rule: ["--top", "10"])
    // Row 6 of the recorded ids is changed; the inputs are not.
    try ws.python("i = np.load('sel.npy'); i[6] = -1; np.save('sel.npy', i)")
    let replay = try ws.winnow(["replay", "m.json"])
    #expect(replay.status == 1)
    #expect(!replay.stdout.contains("input"), "\(replay.stdout)")
    #expect(replay.stdout.contains("ids: differs from sel.npy at byte \(128 + 6 * 8) (row 6 of the ids: recorded -1"),
            "\(replay.stdout)")
    #expect(replay.stdout.contains("listing: identical"))
  }

  @Test func missingInputOrForeignManifestIsAClearError() throws {
    let ws = try Workspace()
    try select(ws, rule: ["--top", "10"])
    try FileManager.default.removeItem(atPath: ws.path("s.npy"))
    expectFailure(try ws.winnow(["replay", "m.json"]), mentioning: "s.npy")
    try Data(#"{"tool": "something else"}"#.utf8).write(to: URL(fileURLWithPath: ws.path("x.json")))
    expectFailure(try ws.winnow(["replay", "x.json"]), mentioning: "winnow select")
    expectFailure(try ws.winnow(["replay", "nothing.json"]), mentioning: "nothing.json")
  }
}
