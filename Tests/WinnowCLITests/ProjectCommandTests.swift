import Foundation
import Testing

/// An independent NumPy implementation of the counter-keyed Rademacher matrix
/// (DESIGN §2.1) and of `F = G·P/√k`, to check `winnow project` against.
let numpyProjection = #"""
import sys, numpy as np
M = np.uint64
def mix64(z):
    z = (z ^ (z >> M(30))) * M(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> M(27))) * M(0x94D049BB133111EB)
    return z ^ (z >> M(31))
def rademacher(seed, d, k):
    with np.errstate(over="ignore"):
        rows = np.arange(d, dtype=np.uint64)
        rk = mix64(mix64(np.array([seed], dtype=np.uint64)) + (rows + M(1)) * M(0xD1B54A32D192ED03))
        blocks = np.arange((k + 63) // 64, dtype=np.uint64)
        w = mix64(rk[:, None] + (blocks[None, :] + M(1)) * M(0x9E3779B97F4A7C15))
    cols = np.arange(k)
    bits = (w[:, cols // 64] >> (cols % 64).astype(np.uint64)) & M(1)
    return np.where(bits == 1, 1.0, -1.0)

"""#

@Suite struct ProjectCommandTests {
  @Test func projectionMatchesAnIndependentNumPyReference() throws {
    let dir = try Workspace()
    let (g, f) = (dir.path("g.npy"), dir.path("f.npy"))
    try Python.run("import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(1).standard_normal((37, 700)).astype('<f4'))", [g])
    let run = try CLI.run(["project", "--input", g, "--output", f, "--dim", "100", "--seed", "42",
                           "--memory-budget", "1M"])
    #expect(run.status == 0, "\(run.stderr)")
    let check = try Python.run(numpyProjection + #"""
g = np.load(sys.argv[1]).astype(np.float64); f = np.load(sys.argv[2])
assert f.dtype == np.float32 and f.shape == (37, 100), (f.dtype, f.shape)
ref = g @ rademacher(42, 700, 100) / np.sqrt(100)
err = np.abs(f - ref).max() / np.abs(ref).max()
assert err < 1e-5, err
"""#, [g, f])
    #expect(check.status == 0, "\(check.output)")
  }

  @Test func columnPiecesProjectLikeTheWholeAndHalfInputIsAccepted() throws {
    let dir = try Workspace()
    try Python.run(#"""
import numpy as np, sys
g = np.random.default_rng(2).standard_normal((20, 300)).astype('<f2')
np.save(sys.argv[1] + '/whole.npy', g)
np.save(sys.argv[1] + '/a.npy', np.ascontiguousarray(g[:, :120]))
np.save(sys.argv[1] + '/b.npy', np.ascontiguousarray(g[:, 120:]))
"""#, [dir.url.path])
    let whole = try CLI.run(["project", "--input", dir.path("whole.npy"), "--output", dir.path("w.npy"), "--dim", "64"])
    let pieces = try CLI.run(["project", "--input", dir.path("a.npy"), "--input", dir.path("b.npy"),
                              "--output", dir.path("p.npy"), "--dim", "64", "--input-dim", "300", "--dtype", "f16"])
    #expect(whole.status == 0 && pieces.status == 0, "\(whole.stderr) \(pieces.stderr)")
    let check = try Python.run("""
import numpy as np, sys
w = np.load(sys.argv[1]); p = np.load(sys.argv[2])
assert p.dtype == np.float16, p.dtype
assert np.abs(w - p.astype(np.float32)).max() <= 2e-3 * np.abs(w).max()
""", [dir.path("w.npy"), dir.path("p.npy")])
    #expect(check.status == 0, "\(check.output)")
  }

  /// The input (64 MiB) is 4× the budget; peak memory stays near the budget.
  @Test func aFileLargerThanTheBudgetStreamsWithBoundedMemory() throws {
    let dir = try Workspace()
    let (g, f) = (dir.path("g.npy"), dir.path("f.npy"))
    try Python.run("import numpy as np, sys; np.save(sys.argv[1], np.ones((1024, 16384), '<f4'))", [g])
    let budget = 16 << 20
    let run = try CLI.run(["project", "--input", g, "--output", f, "--dim", "512",
                           "--memory-budget", "\(budget)", "--stats"])
    #expect(run.status == 0, "\(run.stderr)")
    let peak = try #require(peakBytes(run.stderr))
    // Fixed costs beside the budget: the Swift runtime, OpenBLAS's own
    // per-thread buffers and the writer's buffer (about 60 MiB here).
    let allowance = 96 << 20
    #expect(peak < budget + allowance, "peak RSS \(peak >> 20) MiB: \(run.stderr)")
  }

  @Test func badArgumentsFailWithClearMessages() throws {
    let dir = try Workspace()
    let g = dir.path("g.npy")
    try Python.run("import numpy as np, sys; np.save(sys.argv[1], np.ones((4, 8), '<f4')); np.save(sys.argv[2], np.ones((5, 8), '<f4'))",
                   [g, dir.path("h.npy")])
    let cases: [([String], String)] = [
      (["--input", g, "--output", dir.path("f.npy"), "--dim", "0"], "--dim"),
      (["--input", dir.path("missing.npy"), "--output", dir.path("f.npy"), "--dim", "4"], "missing.npy"),
      (["--input", g, "--output", dir.path("no/such/folder/f.npy"), "--dim", "4"], "folder"),
      (["--input", g, "--input", dir.path("h.npy"), "--output", dir.path("f.npy"), "--dim", "4"], "rows"),
      (["--input", g, "--output", dir.path("f.npy"), "--dim", "4", "--input-dim", "9"], "D = 8"),
    ]
    for (args, needle) in cases {
      let run = try CLI.run(["project"] + args)
      #expect(run.status != 0, "\(args)")
      #expect(run.stderr.contains(needle), "\(args): \(run.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: dir.path("f.npy")))
  }
}

/// Parses the `peak RSS: N bytes` line that `--stats` prints.
func peakBytes(_ stderr: String) -> Int? {
  for line in stderr.split(separator: "\n") where line.contains("peak RSS:") {
    let digits = line.split(separator: " ").compactMap { Int($0) }
    return digits.first
  }
  return nil
}

@Suite struct ProjectIntoStoreTests {
  @Test func adamFeaturesIntoAStoreMatchNumPyAndResumeWithoutDuplication() throws {
    let dir = try Workspace()
    try Python.run(#"""
import numpy as np, sys
r = np.random.default_rng(5)
np.save(sys.argv[1] + '/g.npy', r.standard_normal((50, 200)).astype('<f4'))
np.save(sys.argv[1] + '/m.npy', (0.1 * r.standard_normal(200)).astype('<f4'))
np.save(sys.argv[1] + '/v.npy', (0.01 * r.random(200)).astype('<f4'))
np.save(sys.argv[1] + '/ids.npy', np.arange(1000, 1050, dtype='<i8'))
"""#, [dir.url.path])
    let args = ["project", "--input", dir.path("g.npy"), "--store", dir.path("store"), "--dim", "64",
                "--seed", "3", "--ids", dir.path("ids.npy"), "--shard-rows", "16",
                "--adam-m", dir.path("m.npy"), "--adam-v", dir.path("v.npy"), "--memory-budget", "1M"]
    let first = try CLI.run(args)
    #expect(first.status == 0, "\(first.stderr)")
    // Rerunning the finished command adds nothing (resume is idempotent).
    let again = try CLI.run(args)
    #expect(again.status == 0, "\(again.stderr)")
    let check = try Python.run(numpyProjection + #"""
import json, glob, os
d = sys.argv[1]
g = np.load(d + '/g.npy').astype(np.float64); m = np.load(d + '/m.npy'); v = np.load(d + '/v.npy')
m2 = 0.9 * m + 0.1 * g; v2 = 0.999 * v + 0.001 * g * g
ref = (m2 / np.sqrt(v2 + 1e-8)) @ rademacher(3, 200, 64) / 8
man = json.load(open(d + '/store/manifest.json'))
feats = np.concatenate([np.load(d + '/store/' + s['features']) for s in man['shards']])
ids = np.concatenate([np.load(d + '/store/' + s['ids']) for s in man['shards']])
assert feats.shape == (50, 64), feats.shape
assert (ids == np.arange(1000, 1050)).all(), ids
assert man['metadata']['projector'] == 'rademacher/adam', man['metadata']
err = np.abs(feats - ref).max() / np.abs(ref).max()
assert err < 1e-5, err
"""#, [dir.url.path])
    #expect(check.status == 0, "\(check.output)")
  }

  @Test func outputAndStoreAreMutuallyExclusive() throws {
    let run = try CLI.run(["project", "--input", "x.npy", "--dim", "4"])
    #expect(run.status != 0)
    #expect(run.stderr.contains("exactly one of --output"))
  }
}

/// `winnow project` gives the same bytes whatever its memory budget (P
/// cached or generated in panels, rows in blocks of 1 to all) and thread count.
@Suite struct ProjectBytesCommandTests {
  @Test func veryDifferentMemoryBudgetsAndThreadCountsGiveTheSameBytes() throws {
    let ws = try Workspace()
    try ws.python("np.save('g.npy', np.random.default_rng(5).standard_normal((300, 3000)).astype('<f4'))")
    let args = ["project", "--input", "g.npy", "--dim", "256", "--seed", "3"]
    var outputs = [Data]()
    for (budget, threads) in [("2G", "1"), ("1M", "2"), ("2G", "2"), ("1M", "1")] {
      let run = try ws.winnow(args + ["--memory-budget", budget, "--output", "f\(outputs.count).npy"],
                              environment: ["OPENBLAS_NUM_THREADS": threads])
      #expect(run.status == 0, "\(run.stderr)")
      outputs.append(try ws.data("f\(outputs.count).npy"))
    }
    for o in outputs.dropFirst() { #expect(o == outputs[0]) }
  }
}

