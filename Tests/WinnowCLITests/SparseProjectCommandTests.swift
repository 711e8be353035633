import Foundation
import Testing

/// An independent NumPy implementation of the sparse JL map (DESIGN §2.8):
/// coordinate i's t-th nonzero from word(i, t) of the counter RNG, keyed in
/// its own domain; bucket in block t of k/s outputs, sign from bit 0.
let numpySparseJL = #"""
import sys, numpy as np
M = np.uint64
def mix64(z):
    z = (z ^ (z >> M(30))) * M(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> M(27))) * M(0x94D049BB133111EB)
    return z ^ (z >> M(31))
def sjlt(seed, d, k, s):
    with np.errstate(over="ignore"):
        key = mix64(np.array([seed], dtype=np.uint64) ^ M(0xBB67AE8584CAA73B))
        rk = mix64(key + (np.arange(d, dtype=np.uint64) + M(1)) * M(0xD1B54A32D192ED03))
        p = np.zeros((d, k))
        for t in range(s):
            w = mix64(rk + M(t + 1) * M(0x9E3779B97F4A7C15))
            lo, width = t * k // s, (t + 1) * k // s - t * k // s
            h = lo + (((w >> M(32)) * M(width)) >> M(32)).astype(np.int64)
            p[np.arange(d), h] = np.where(w & M(1), -1.0, 1.0) / np.sqrt(s)
    return p

"""#

@Suite struct SparseProjectCommandTests {
  @Test(arguments: [1, 3])
  func sparseProjectionMatchesAnIndependentNumPyReference(nnz: Int) throws {
    let dir = try Workspace()
    let (g, f) = (dir.path("g.npy"), dir.path("f.npy"))
    try Python.run("import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(1).standard_normal((37, 700)).astype('<f4'))", [g])
    let run = try CLI.run(["project", "--input", g, "--output", f, "--dim", "100", "--seed", "42",
                           "--kind", "sjlt", "--nnz", "\(nnz)"])
    #expect(run.status == 0, "\(run.stderr)")
    let check = try Python.run(numpySparseJL + #"""
g = np.load(sys.argv[1]).astype(np.float64); f = np.load(sys.argv[2])
assert f.dtype == np.float32 and f.shape == (37, 100), (f.dtype, f.shape)
ref = g @ sjlt(42, 700, 100, int(sys.argv[3]))
err = np.abs(f - ref).max() / np.abs(ref).max()
assert err < 1e-5, err
"""#, [g, f, "\(nnz)"])
    #expect(check.status == 0, "\(check.output)")
  }

  /// The manifest records the map; scoring a train store against a target
  /// store of another map fails (naming both) and writes nothing.
  @Test func storesRecordTheMapAndScoringRefusesAnotherMap() throws {
    let dir = try Workspace()
    try Python.run(#"""
import numpy as np, sys
rng = np.random.default_rng(3)
np.save(sys.argv[1] + '/train.npy', rng.standard_normal((50, 400)).astype('<f4'))
np.save(sys.argv[1] + '/target.npy', rng.standard_normal((4, 400)).astype('<f4'))
"""#, [dir.url.path])
    func project(_ input: String, _ store: String, _ extra: [String]) throws {
      let r = try CLI.run(["project", "--input", dir.path(input), "--store", dir.path(store),
                           "--dim", "32", "--seed", "5"] + extra)
      #expect(r.status == 0, "\(r.stderr)")
    }
    try project("train.npy", "train", ["--kind", "sjlt", "--nnz", "2"])
    try project("target.npy", "target", ["--kind", "sjlt", "--nnz", "2"])
    try project("target.npy", "target-dense", [])
    try project("target.npy", "target-nnz4", ["--kind", "sjlt", "--nnz", "4"])
    let manifest = try Python.run(#"""
import json, sys
m = json.load(open(sys.argv[1] + '/train/manifest.json'))['metadata']
assert (m['projector'], m['nnz'], m['seed'], m['k'], m['inputDim']) == ('sjlt', 2, 5, 32, 400), m
d = json.load(open(sys.argv[1] + '/target-dense/manifest.json'))['metadata']
assert 'nnz' not in d and d['projector'] == 'rademacher', d
"""#, [dir.url.path])
    #expect(manifest.status == 0, "\(manifest.output)")
    let same = try CLI.run(["score", "--train", dir.path("train"), "--target", dir.path("target"),
                            "--output", dir.path("s.npy")])
    #expect(same.status == 0, "\(same.stderr)")
    for other in ["target-dense", "target-nnz4"] {
      let out = dir.path("\(other).npy")
      let r = try CLI.run(["score", "--train", dir.path("train"), "--target", dir.path(other),
                           "--output", out])
      #expect(r.status != 0)
      #expect(r.stderr.contains("map") && r.stderr.contains(other), "\(r.stderr)")
      #expect(!FileManager.default.fileExists(atPath: out))
    }
  }

  @Test func badNonzeroCountsAreRefused() throws {
    let dir = try Workspace()
    let g = dir.path("g.npy")
    try Python.run("import numpy as np, sys; np.save(sys.argv[1], np.ones((2, 10), '<f4'))", [g])
    for (args, message) in [(["--nnz", "2"], "--kind sjlt"), (["--kind", "sjlt", "--nnz", "0"], "--nnz"),
                            (["--kind", "sjlt", "--nnz", "9"], "--nnz")] {
      let r = try CLI.run(["project", "--input", g, "--output", dir.path("f.npy"), "--dim", "8"] + args)
      #expect(r.status != 0 && r.stderr.contains(message), "\(args): \(r.stderr)")
    }
  }
}
