import Foundation
import Testing
import Winnow

@Suite struct ScoreSelectCommandTests {
  /// Two checkpoints (k = 16, 12), 400 candidates, 7 targets in 3 unequal
  /// groups; `ref_<measure>.npy` holds NumPy's float64 scores.
  func makePool(_ ws: Workspace) throws {
    try ws.python(
      """
      r = np.random.default_rng(1)
      T = [r.standard_normal((400, k)).astype('<f4') for k in (16, 12)]
      V = [r.standard_normal((7, k)).astype('<f4') for k in (16, 12)]
      g = np.array([4, 4, 9, 9, 9, 2, 4]); w = np.array([1.0, 3.0]); w /= w.sum()
      for c in range(2): np.save(f't{c}.npy', T[c]); np.save(f'v{c}.npy', V[c])
      np.save('g.npy', g)
      for m in ('cosine', 'dot', 'influence'):
          S = 0
          for c in range(2):
              A, B = T[c].astype(np.float64), V[c].astype(np.float64)
              if m == 'cosine':
                  A = A / np.linalg.norm(A, axis=1, keepdims=True); B = B / np.linalg.norm(B, axis=1, keepdims=True)
              if m == 'influence':
                  S = S + w[c] * A @ np.linalg.solve(A.T @ A + 0.25 * np.eye(A.shape[1]), B.T)
              else:
                  S = S + w[c] * A @ B.T
          np.save(f'ref_{m}.npy', np.max([S[:, g == l].mean(1) for l in np.unique(g)], axis=0))
      """)
  }

  func scoreArguments(_ measure: String, output: String) -> [String] {
    [
      "score", "--train", "t0.npy", "--train", "t1.npy", "--target", "v0.npy", "--target", "v1.npy",
      "--checkpoint-weight", "1", "--checkpoint-weight", "3", "--target-groups", "g.npy",
      "--measure", measure, "--damping", "0.25", "--output", output,
    ]
  }

  @Test(arguments: ["cosine", "dot", "influence"])
  func scoresAndSelectionMatchNumPy(_ measure: String) throws {
    let ws = try Workspace()
    try makePool(ws)
    let run = try ws.winnow(scoreArguments(measure, output: "s.npy"))
    #expect(run.status == 0, "\(run.stderr)")
    let check = try ws.python(
      """
      s, ref = np.load('s.npy'), np.load('ref_\(measure).npy')
      assert s.dtype == np.dtype('<f4') and s.shape == (400,)
      print(np.abs(s - ref).max() / np.abs(ref).max())
      """)
    #expect((Double(check.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1) <= 1e-5, "rel err \(check)")
    let select = try ws.winnow(["select", "--scores", "s.npy", "--fraction", "0.05", "--output", "ids.npy", "--listing", "sel.csv"])
    #expect(select.status == 0, "\(select.stderr)")
    let same = try ws.python(
      """
      s = np.load('s.npy'); ids = np.load('ids.npy'); assert ids.dtype == np.dtype('<i8')
      want = np.lexsort((np.arange(400), -s.astype(np.float64)))[:20]
      rows = open('sel.csv').read().splitlines()
      assert rows[0] == 'rank,id,score' and len(rows) == 21
      print(list(ids) == list(want) and rows[1].split(',')[1] == str(want[0]))
      """)
    #expect(same.contains("True"))
  }

  @Test func outputsAreByteIdenticalAcrossRunsAndBLASThreads() throws {
    let ws = try Workspace()
    try makePool(ws)
    var outputs = [[Data]]()
    for threads in ["1", "2", "2"] {
      let env = ["OPENBLAS_NUM_THREADS": threads]
      for measure in ["cosine", "influence"] {
        #expect(try ws.winnow(scoreArguments(measure, output: "s-\(measure).npy"), environment: env).status == 0)
      }
      let select = try ws.winnow(
        ["select", "--scores", "s-influence.npy", "--top", "37", "--output", "ids.npy",
         "--listing", "sel.csv", "--manifest", "sel.json"], environment: env)
      #expect(select.status == 0, "\(select.stderr)")
      outputs.append(try ["s-cosine.npy", "s-influence.npy", "ids.npy", "sel.csv", "sel.json"].map(ws.data))
    }
    #expect(outputs[0] == outputs[1] && outputs[1] == outputs[2])
    let manifest = String(decoding: try ws.data("sel.json"), as: UTF8.self)
    #expect(manifest.contains(try Checksum.sha256(ofFile: ws.path("s-influence.npy"))))
    // The outputs' checksums, computed while they were written, match the files.
    #expect(manifest.contains(try Checksum.sha256(ofFile: ws.path("ids.npy"))))
    #expect(manifest.contains(try Checksum.sha256(ofFile: ws.path("sel.csv"))))
    #expect(manifest.contains("\"winnowVersion\" : \"\(Runtime.version)\""))
  }

  @Test func nonFiniteRowsFailOrAreSkippedAndReported() throws {
    let ws = try Workspace()
    try ws.python(
      """
      t = np.ones((50, 4), '<f4'); t[:, 0] = np.arange(50); t[7, 2] = np.nan; t[9, 1] = np.inf
      np.save('t.npy', t); np.save('v.npy', np.ones((2, 4), '<f4'))
      """)
    let base = ["score", "--train", "t.npy", "--target", "v.npy", "--measure", "dot", "--output", "s.npy"]
    expectFailure(try ws.winnow(base), mentioning: "row 7")
    let skipped = try ws.winnow(base + ["--skip-nonfinite"])
    #expect(skipped.status == 0 && skipped.stderr.contains("skipped 2 train rows"), "\(skipped.stderr)")
    let select = try ws.winnow(["select", "--scores", "s.npy", "--top", "48", "--output", "ids.npy"])
    #expect(select.status == 0)
    expectFailure(try ws.winnow(["select", "--scores", "s.npy", "--top", "49", "--output", "ids.npy"]), mentioning: "outside")
    let ids = try ws.python("print(sorted(np.load('ids.npy').tolist()) == [i for i in range(50) if i not in (7, 9)])")
    #expect(ids.contains("True"))
  }

  @Test func badInputsAreClearErrors() throws {
    let ws = try Workspace()
    try ws.python(
      """
      np.save('t.npy', np.ones((10, 4), '<f4')); np.save('v5.npy', np.ones((2, 5), '<f4'))
      np.save('v.npy', np.ones((2, 4), '<f4')); np.save('empty.npy', np.ones((0, 4), '<f4'))
      np.save('s.npy', np.arange(10, dtype='<f4'))
      open('corrupt.npy', 'wb').write(open('t.npy', 'rb').read()[:-7])
      """)
    let score = { (train: String, target: String) in
      try ws.winnow(["score", "--train", train, "--target", target, "--output", "out.npy"])
    }
    expectFailure(try score("t.npy", "v5.npy"), mentioning: "k = 4")
    expectFailure(try score("empty.npy", "v.npy"), mentioning: "empty")
    expectFailure(try score("missing.npy", "v.npy"), mentioning: "missing.npy")
    expectFailure(try score("corrupt.npy", "v.npy"), mentioning: "corrupt.npy")
    let select = { (rule: [String]) in try ws.winnow(["select", "--scores", "s.npy", "--output", "i.npy"] + rule) }
    expectFailure(try select(["--fraction", "0"]), mentioning: "fraction")
    expectFailure(try select(["--fraction", "1.01"]), mentioning: "fraction")
    expectFailure(try select(["--top", "11"]), mentioning: "outside")
    #expect(try select(["--top", "10"]).status == 0)
    expectFailure(
      try ws.winnow(["score", "--train", "t.npy", "--target", "v.npy", "--measure", "influence", "--damping", "0", "--output", "o.npy"]),
      mentioning: "damping")
  }
}
