import Foundation
import Testing
import Winnow

/// Writes TRAK's save layout exactly as its `MmapSaver` does: NPY-headed
/// memory maps made by `numpy.lib.format.open_memmap`, plus metadata.json.
private func writeTRAK(_ ws: Workspace, rows: Int = 300, k: Int = 32, models: [Int] = [0], dtype: String = "float16") throws {
  try ws.python(
    """
    import json, os
    from numpy.lib.format import open_memmap
    N, k = \(rows), \(k)
    os.makedirs('trak_results/scores', exist_ok=True)
    json.dump({'JL dimension': k, 'JL matrix type': 'rademacher', 'train set size': N}, open('trak_results/metadata.json', 'w'))
    json.dump({'exp': {'num_targets': 5, 'scores_path': 'trak_results/scores/exp.mmap', 'scores_finalized': 0}},
              open('trak_results/experiments.json', 'w'))
    for m in \(models):
        os.makedirs(f'trak_results/{m}', exist_ok=True)
        r = np.random.default_rng(m)
        for name, n in (('grads', N), ('features', N), ('exp_grads', 5)):
            a = open_memmap(f'trak_results/{m}/{name}.mmap', mode='w+', dtype=np.\(dtype), shape=(n, k))
            a[:] = r.standard_normal((n, k)); a.flush(); del a
        f = open_memmap(f'trak_results/{m}/_is_featurized.mmap', mode='w+', dtype=np.int32, shape=(N, 1))
        f[:] = 1; f.flush(); del f
    """)
}

/// Writes a Bergson index as its `create_index` does: `gradients.bin`
/// truncated to size then filled through `np.memmap`, and `info.json`.
/// bfloat16 rows are written as the top halves of float32 values that
/// bfloat16 represents exactly (what `ml_dtypes.bfloat16` stores).
private func writeBergson(_ ws: Workspace, dir: String, dtype: String, rows: Int = 250) throws {
  try ws.python(
    """
    import json, os
    os.makedirs('\(dir)', exist_ok=True)
    sizes = {'layers.0.mlp': 20, 'layers.1.attn': 12}
    N, k = \(rows), sum(sizes.values())
    json.dump({'attribute_tokens': False, 'num_items': N, 'num_grads': N, 'grad_sizes': sizes,
               'base_dtype': '\(dtype)'}, open('\(dir)/info.json', 'w'), indent=2)
    with open('\(dir)/gradients.bin', 'wb') as f: f.truncate(N * k * (4 if '\(dtype)' == 'float32' else 2))
    x = np.random.default_rng(7).standard_normal((N, k)).astype(np.float32)
    if '\(dtype)' == 'bfloat16':
        bits = (x.view(np.uint32) >> 16).astype(np.uint16)
        m = np.memmap('\(dir)/gradients.bin', dtype=np.uint16, mode='r+', shape=(N, k)); m[:] = bits
        x = (bits.astype(np.uint32) << 16).view(np.float32)
    else:
        m = np.memmap('\(dir)/gradients.bin', dtype=np.\(dtype), mode='r+', shape=(N, k)); m[:] = x
        x = m.astype(np.float32)
    m.flush(); np.save('\(dir)-expected.npy', x)
    """)
}

/// NumPy reads a store back: its shards in manifest order, and its metadata.
private let readStore = """
  import json, sys
  def store(d):
      m = json.load(open(d + '/manifest.json'))
      return np.concatenate([np.load(d + '/' + s['features']) for s in m['shards']]), m['metadata']

  """

@Suite struct ImportCommandTests {
  @Test func trakFloat16GradsOfOneModelOfSeveralImportExactlyWithTheirProjection() throws {
    let ws = try Workspace()
    try writeTRAK(ws, models: [0, 1])
    let ambiguous = try ws.winnow(["store", "import", "--from", "trak", "--input", "trak_results", "--store", "st"])
    expectFailure(ambiguous, mentioning: "--model-id")
    let run = try ws.winnow(
      ["store", "import", "--from", "trak", "--input", "trak_results", "--model-id", "1", "--store", "st",
       "--shard-rows", "64", "--checkpoint", "m1", "--weight", "0.5"])
    #expect(run.status == 0, "\(run.stderr)")
    let check = try ws.python(
      readStore + """
        x, meta = store('st')
        ref = np.load('trak_results/1/grads.mmap', mmap_mode='r').astype(np.float32)
        s = meta['source']
        print(np.array_equal(x, ref), s['tool'], s['projector'], s['k'], s['modelID'], meta['checkpoint'], meta['weight'])
        """)
    #expect(check.trimmingCharacters(in: .whitespacesAndNewlines) == "True trak rademacher 32 1 m1 0.5")
    #expect(try FeatureStore(directory: ws.url.appendingPathComponent("st")).shards.count == 5)
  }

  @Test func trakUnfeaturizedMismatchedTruncatedOrMiscountedMapsAreRefusedNamingTheFileAndLeaveNoStore() throws {
    let ws = try Workspace()
    try writeTRAK(ws)
    try ws.python("m = np.load('trak_results/0/_is_featurized.mmap', mmap_mode='r+'); m[7] = 0; m.flush()")
    var run = try ws.winnow(["store", "import", "--from", "trak", "--input", "trak_results", "--store", "a"])
    expectFailure(run, mentioning: "_is_featurized.mmap")
    try ws.python("m = np.load('trak_results/0/_is_featurized.mmap', mmap_mode='r+'); m[7] = 1; m.flush()")
    try ws.python(
      "import json; m = json.load(open('trak_results/metadata.json')); m['JL dimension'] = 64; "
        + "json.dump(m, open('trak_results/metadata.json', 'w'))")
    run = try ws.winnow(["store", "import", "--from", "trak", "--input", "trak_results", "--store", "a"])
    expectFailure(run, mentioning: "grads.mmap")
    try ws.python(
      "import json; m = json.load(open('trak_results/metadata.json')); m['JL dimension'] = 32; "
        + "json.dump(m, open('trak_results/metadata.json', 'w'))\n"
        + "import os; os.truncate('trak_results/0/grads.mmap', os.path.getsize('trak_results/0/grads.mmap') - 100)")
    run = try ws.winnow(["store", "import", "--from", "trak", "--input", "trak_results", "--store", "a"])
    expectFailure(run, mentioning: "grads.mmap")
    try ws.python(
      "import json; e = json.load(open('trak_results/experiments.json')); e['exp']['num_targets'] = 6; "
        + "json.dump(e, open('trak_results/experiments.json', 'w'))")
    run = try ws.winnow(["store", "import", "--from", "trak", "--input", "trak_results", "--array", "exp_grads", "--store", "a"])
    expectFailure(run, mentioning: "exp_grads.mmap")
    for name in ["a", "a.importing"] { #expect(!FileManager.default.fileExists(atPath: ws.path(name)), "\(name)") }
  }

  @Test(arguments: ["float16", "float32", "bfloat16"])
  func bergsonIndexImportsExactlyInEachBaseDType(_ dtype: String) throws {
    let ws = try Workspace()
    try writeBergson(ws, dir: "idx", dtype: dtype)
    try Data("projection_dim: 0\nprojection_type: rademacher\n".utf8).write(to: ws.url.appendingPathComponent("idx/processor_config.yaml"))
    let run = try ws.winnow(["store", "import", "--from", "bergson", "--input", "idx", "--store", "st", "--shard-rows", "100"])
    #expect(run.status == 0, "\(run.stderr)")
    let check = try ws.python(
      readStore + """
        x, meta = store('st')
        print(np.array_equal(x, np.load('idx-expected.npy')), meta['source']['tool'], meta['source']['projector'], x.shape)
        """)
    #expect(check.trimmingCharacters(in: .whitespacesAndNewlines) == "True bergson rademacher (250, 32)")
  }

  @Test func bergsonTruncatedOrInconsistentIndexesAreRefusedNamingTheFile() throws {
    let ws = try Workspace()
    try writeBergson(ws, dir: "idx", dtype: "float16")
    try ws.python("import os; os.truncate('idx/gradients.bin', 250 * 32 * 2 - 2)")
    expectFailure(try ws.winnow(["store", "import", "--from", "bergson", "--input", "idx", "--store", "a"]), mentioning: "gradients.bin")
    try ws.python("import os; os.truncate('idx/gradients.bin', 250 * 32 * 2 + 64)")
    expectFailure(try ws.winnow(["store", "import", "--from", "bergson", "--input", "idx", "--store", "a"]), mentioning: "gradients.bin")
    try ws.python(
      "import json; i = json.load(open('idx/info.json')); i['base_dtype'] = 'int8'; json.dump(i, open('idx/info.json', 'w'))")
    expectFailure(try ws.winnow(["store", "import", "--from", "bergson", "--input", "idx", "--store", "a"]), mentioning: "info.json")
    try Data("{\"num_grads\": 3".utf8).write(to: ws.url.appendingPathComponent("idx/info.json"))
    expectFailure(try ws.winnow(["store", "import", "--from", "bergson", "--input", "idx", "--store", "a"]), mentioning: "info.json")
    for name in ["a", "a.importing"] { #expect(!FileManager.default.fileExists(atPath: ws.path(name)), "\(name)") }
  }

  @Test func aTRAKPoolIsScoredAgainstTRAKTargetsButNotWinnowProjectedOnesUnlessForced() throws {
    let ws = try Workspace()
    try writeTRAK(ws)
    for (array, store) in [("grads", "pool"), ("exp_grads", "trak-targets")] {
      let run = try ws.winnow(["store", "import", "--from", "trak", "--input", "trak_results", "--array", array, "--store", store])
      #expect(run.status == 0, "\(run.stderr)")
    }
    try ws.python("np.save('g.npy', np.random.default_rng(9).standard_normal((4, 100)).astype('<f4'))")
    #expect(try ws.winnow(["project", "--input", "g.npy", "--dim", "32", "--store", "ours"]).status == 0)

    let same = try ws.winnow(["score", "--train", "pool", "--target", "trak-targets", "--output", "s.npy", "--measure", "dot"])
    #expect(same.status == 0, "\(same.stderr)")
    let error = try ws.python(
      """
      g = np.load('trak_results/0/grads.mmap', mmap_mode='r').astype(np.float64)
      t = np.load('trak_results/0/exp_grads.mmap', mmap_mode='r').astype(np.float64)
      ref = (g @ t.T).mean(1); s = np.load('s.npy')
      print(np.max(np.abs(s - ref)) / np.max(np.abs(ref)))
      """)
    // fp32 dot products of length 32 against an fp64 reference: a few ulps.
    #expect((Double(error.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1) < 1e-5)

    let mixed = try ws.winnow(["score", "--train", "pool", "--target", "ours", "--output", "m.npy"])
    expectFailure(mixed, mentioning: "--allow-mixed-projections")
    #expect(mixed.stderr.contains("make the targets with trak"))
    #expect(!FileManager.default.fileExists(atPath: ws.path("m.npy")))
    let forced = try ws.winnow(["score", "--train", "pool", "--target", "ours", "--output", "m.npy", "--allow-mixed-projections"])
    #expect(forced.status == 0, "\(forced.stderr)")
  }

  @Test func anInterruptedToolImportIsInvisibleThenResumesToTheUninterruptedStore() throws {
    let ws = try Workspace()
    try writeBergson(ws, dir: "idx", dtype: "float16", rows: 3000)
    let args = ["store", "import", "--from", "bergson", "--input", ws.path("idx"), "--shard-rows", "100"]
    #expect(try ws.winnow(args + ["--store", "whole"]).status == 0)

    let process = Process()
    process.executableURL = CLI.executable
    process.arguments = args + ["--store", "cut"]
    process.environment = ProcessInfo.processInfo.environment.merging(["WINNOW_TEST_PAUSE_AFTER_SHARD_MS": "30"]) { $1 }
    process.currentDirectoryURL = ws.url
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let staged = ws.url.appendingPathComponent("cut.importing/manifest.json")
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline, ((try? String(contentsOf: staged, encoding: .utf8)) ?? "").components(separatedBy: "inputStart").count < 4 {
      usleep(5_000)
    }
    #expect(process.isRunning, "the import finished before it could be killed")
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(!FeatureStore.isStore(ws.url.appendingPathComponent("cut")))

    let resumed = try ws.winnow(args + ["--store", "cut"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(!FileManager.default.fileExists(atPath: ws.path("cut.importing")))
    let names = try FileManager.default.contentsOfDirectory(atPath: ws.path("whole")).sorted()
    #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path("cut")).sorted() == names)
    for name in names { #expect(try ws.data("whole/\(name)") == ws.data("cut/\(name)"), "\(name)") }
    // A rerun after completion is a no-op; a different import into it is refused.
    #expect(try ws.winnow(args + ["--store", "cut"]).status == 0)
    expectFailure(try ws.winnow(args + ["--store", "cut", "--weight", "2"]), mentioning: "different store")
  }
}
