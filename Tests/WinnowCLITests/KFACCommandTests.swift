import Foundation
import Testing
import Winnow

/// K-FAC / EK-FAC features on the command line: `winnow store import
/// --preconditioner` records the curvature, `winnow score` scores them with
/// `dot`, refuses `influence` and mismatched preconditioners.
@Suite struct KFACCommandTests {
  /// Two linear layers (ranks for the factored projector: k_in, k_out).
  static let layers = [
    LinearLayerSpec(id: 1, inputDim: 5, outputDim: 4, inputRank: 2, outputRank: 3),
    LinearLayerSpec(id: 2, inputDim: 3, outputDim: 6, inputRank: 3, outputRank: 2),
  ]

  /// Random factors of `samples` samples of `tokens` tokens each.
  static func factors(samples: Int, tokens: Int, seed: UInt64) throws -> [(id: UInt64, inputs: Matrix, outputGradients: Matrix)] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
    func next() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 500
    }
    let rows = samples * tokens
    return try layers.map { layer in
      (
        layer.id,
        try Matrix(rows: rows, cols: layer.inputDim, storage: (0..<rows * layer.inputDim).map { _ in next() }),
        try Matrix(rows: rows, cols: layer.outputDim, storage: (0..<rows * layer.outputDim).map { _ in next() })
      )
    }
  }

  /// Saves `c.kfac` (fitted, with EK-FAC corrections) and `c0.kfac` (fitted,
  /// without) into the workspace; returns the fit with corrections.
  @discardableResult
  static func saveCurvatures(_ ws: Workspace) throws -> KroneckerCurvature {
    let fitSet = try factors(samples: 12, tokens: 3, seed: 1)
    let counts = [Int](repeating: 3, count: 12)
    var curvature = try KroneckerCurvature(layers: layers)
    try LayerFactors.withMatrices(fitSet) { try curvature.accumulate(tokenCounts: counts, layers: $0) }
    try curvature.fit()
    try curvature.save(to: ws.url.appendingPathComponent("c0.kfac"))
    try LayerFactors.withMatrices(fitSet) { try curvature.accumulateCorrections(tokenCounts: counts, layers: $0) }
    try curvature.save(to: ws.url.appendingPathComponent("c.kfac"))
    return curvature
  }

  /// The features of `method` for `samples` samples (seeded), as the
  /// library makes them: whitened factors through the factored projector,
  /// or eigenbasis features.
  static func features(
    _ method: String, _ curvature: KroneckerCurvature, samples: Int, seed: UInt64, damping: CurvatureDamping = .default
  ) throws -> Matrix {
    let batch = try factors(samples: samples, tokens: 2, seed: seed)
    let counts = [Int](repeating: 2, count: samples)
    switch method {
    case "kfac-whitened":
      let whitened = try LayerFactors.withMatrices(batch) {
        try curvature.whitener(damping: damping).whiten(rows: 2 * samples, layers: $0)
      }
      let projector = try FactoredProjector(layers: layers, seed: 7)
      return try LayerFactors.withMatrices(whitened) { try projector.project(tokenCounts: counts, layers: $0) }
    default:
      return try LayerFactors.withMatrices(batch) {
        try curvature.eigenbasisFeatures(
          tokenCounts: counts, layers: $0, method: method == "ekfac" ? .ekfac : .kfac, damping: damping)
      }
    }
  }

  /// Writes train (`t.npy`, 20 rows) and target (`v.npy`, 4 rows) features
  /// of `method`; returns them.
  @discardableResult
  static func writeFeatures(_ ws: Workspace, _ method: String, _ curvature: KroneckerCurvature) throws -> (Matrix, Matrix) {
    let t = try features(method, curvature, samples: 20, seed: 2)
    let v = try features(method, curvature, samples: 4, seed: 3)
    try NPYWriter.write(t.storage, shape: [t.rows, t.cols], to: ws.url.appendingPathComponent("t.npy"))
    try NPYWriter.write(v.storage, shape: [v.rows, v.cols], to: ws.url.appendingPathComponent("v.npy"))
    return (t, v)
  }

  static func importArgs(_ input: String, _ store: String, _ method: String, _ extra: [String] = []) -> [String] {
    ["store", "import", "--input", input, "--store", store, "--preconditioner", method, "--curvature", "c.kfac"] + extra
  }

  static func manifest(_ ws: Workspace, _ store: String) throws -> [String: Any] {
    let data = try ws.data("\(store)/manifest.json")
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
  }

  @Test(arguments: ["kfac-whitened", "kfac", "ekfac"])
  func importRecordsThePreconditionerAndTheCurvatureChecksums(_ method: String) throws {
    let ws = try Workspace()
    let curvature = try Self.saveCurvatures(ws)
    try Self.writeFeatures(ws, method, curvature)
    let run = try ws.winnow(Self.importArgs("t.npy", "st", method))
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("preconditioner: \(method), damping 0.1 × mean eigenvalue"), "\(run.stdout)")
    let metadata = try #require(try Self.manifest(ws, "st")["metadata"] as? [String: Any])
    let p = try #require(metadata["preconditioner"] as? [String: Any])
    #expect(p["method"] as? String == method)
    #expect(p["damping"] as? Double == 0.1 && p["relativeDamping"] as? Bool == true)
    #expect(p["curvature"] as? String == "c.kfac")
    #expect(p["curvatureSHA256"] as? String == (try Checksum.sha256(ofFile: ws.path("c.kfac"))))
    #expect((p["curvatureXXH3"] as? String)?.count == 32)
    #expect(p["tokens"] as? Int == 36 && p["samples"] as? Int == 12)
    #expect(p["correctionSamples"] as? Int == 12 && p["layers"] as? Int == 2)
    let store = try FeatureStore(directory: ws.url.appendingPathComponent("st"))
    #expect(store.metadata.preconditioner?.method.rawValue == method)

    let absolute = try ws.winnow(Self.importArgs("t.npy", "abs", method, ["--damping", "0.5", "--absolute-damping"]))
    #expect(absolute.status == 0, "\(absolute.stderr)")
    let q = try #require((try Self.manifest(ws, "abs")["metadata"] as? [String: Any])?["preconditioner"] as? [String: Any])
    #expect(q["damping"] as? Double == 0.5 && q["relativeDamping"] as? Bool == false)
    // Rerunning the same import is a resume of a complete store: unchanged.
    let before = try ws.data("st/manifest.json")
    #expect(try ws.winnow(Self.importArgs("t.npy", "st", method)).status == 0)
    #expect(try ws.data("st/manifest.json") == before)
  }

  @Test func aPlainImportRecordsNoPreconditioner() throws {
    let ws = try Workspace()
    try ws.python("np.save('x.npy', np.ones((3, 4), '<f4'))")
    #expect(try ws.winnow(["store", "import", "--input", "x.npy", "--store", "st"]).status == 0)
    let text = String(decoding: try ws.data("st/manifest.json"), as: UTF8.self)
    #expect(!text.contains("preconditioner"))
  }

  @Test func aMissingCorruptOrUnfitCurvatureFailsAndCreatesNoStore() throws {
    let ws = try Workspace()
    let curvature = try Self.saveCurvatures(ws)
    try Self.writeFeatures(ws, "kfac", curvature)
    var bytes = try ws.data("c.kfac")
    bytes[bytes.count - 3] ^= 0x40
    try bytes.write(to: ws.url.appendingPathComponent("bad.kfac"))
    try Data("not a curvature".utf8).write(to: ws.url.appendingPathComponent("text.kfac"))
    var partial = try KroneckerCurvature(layers: Self.layers)
    try LayerFactors.withMatrices(try Self.factors(samples: 2, tokens: 3, seed: 4)) {
      try partial.accumulate(tokenCounts: [3, 3], layers: $0)
    }
    try partial.save(to: ws.url.appendingPathComponent("unfit.kfac"))
    let cases: [(file: String, method: String, message: String)] = [
      ("none.kfac", "kfac", "none.kfac"),
      ("bad.kfac", "kfac", "checksum mismatch"),
      ("text.kfac", "kfac-whitened", "not a Winnow curvature file"),
      ("unfit.kfac", "kfac", "not fitted"),
      ("c0.kfac", "ekfac", "no EK-FAC corrections"),
    ]
    for (file, method, message) in cases {
      let run = try ws.winnow(
        ["store", "import", "--input", "t.npy", "--store", "st", "--preconditioner", method, "--curvature", file])
      expectFailure(run, mentioning: message)
      let left = try FileManager.default.contentsOfDirectory(atPath: ws.url.path).filter { $0.hasPrefix("st") }
      #expect(left.isEmpty, "\(file): \(left)")
    }
    // The same file without corrections is fine for kfac.
    #expect(try ws.winnow(["store", "import", "--input", "t.npy", "--store", "st", "--preconditioner", "kfac", "--curvature", "c0.kfac"]).status == 0)
  }

  @Test func curvatureOptionsNeedAPreconditionerAndAFile() throws {
    let ws = try Workspace()
    try ws.python("np.save('x.npy', np.ones((3, 4), '<f4'))")
    let base = ["store", "import", "--input", "x.npy", "--store", "st"]
    expectFailure(try ws.winnow(base + ["--curvature", "c.kfac"]), mentioning: "give it too")
    expectFailure(try ws.winnow(base + ["--preconditioner", "kfac"]), mentioning: "--curvature")
    expectFailure(try ws.winnow(base + ["--preconditioner", "kfac", "--curvature", "c", "--absolute-damping"]), mentioning: "--damping")
    expectFailure(try ws.winnow(base + ["--preconditioner", "kfac", "--curvature", "c", "--damping", "-1"]), mentioning: "--damping")
    expectFailure(try ws.winnow(base + ["--preconditioner", "shampoo", "--curvature", "c"]), mentioning: "shampoo")
  }

  /// End to end: features made with the library, imported, scored without
  /// --measure (dot), equal to the dot products computed here.
  @Test(arguments: ["kfac-whitened", "kfac", "ekfac"])
  func scoreDefaultsToDotAndGivesTheFeaturesDotProducts(_ method: String) throws {
    let ws = try Workspace()
    let curvature = try Self.saveCurvatures(ws)
    let (t, v) = try Self.writeFeatures(ws, method, curvature)
    #expect(try ws.winnow(Self.importArgs("t.npy", "train", method)).status == 0)
    #expect(try ws.winnow(Self.importArgs("v.npy", "target", method)).status == 0)
    let run = try ws.winnow(["score", "--train", "train", "--target", "target", "--output", "s.npy"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.contains("--measure dot on preconditioned features: \(method)"), "\(run.stderr)")
    let scores = try NPYArray(contentsOf: ws.url.appendingPathComponent("s.npy")).readFloats()
    #expect(scores.count == 20)
    var worst = 0.0, largest = 0.0
    for i in 0..<t.rows {
      var mean = 0.0
      for j in 0..<v.rows {
        for c in 0..<t.cols { mean += Double(t[i, c]) * Double(v[j, c]) / Double(v.rows) }
      }
      worst = max(worst, abs(Double(scores[i]) - mean))
      largest = max(largest, abs(mean))
    }
    #expect(largest > 0 && worst <= 1e-5 * largest, "max error \(worst), largest \(largest)")
    // Explicit dot gives the same bytes; cosine is accepted too.
    let dot = try ws.winnow(["score", "--train", "train", "--target", "target", "--measure", "dot", "--output", "d.npy"])
    #expect(dot.status == 0, "\(dot.stderr)")
    let (d, sBytes) = (try ws.data("d.npy"), try ws.data("s.npy"))
    #expect(d == sBytes)
    let cosine = try ws.winnow(["score", "--train", "train", "--target", "target", "--measure", "cosine", "--output", "c.npy"])
    #expect(cosine.status == 0, "\(cosine.stderr)")

    let select = try ws.winnow(
      ["select", "--scores", "s.npy", "--top", "5", "--ids", "train", "--output", "ids.npy", "--manifest", "sel.json"])
    #expect(select.status == 0, "\(select.stderr)")
    let recorded = try #require(try JSONSerialization.jsonObject(with: try ws.data("sel.json")) as? [String: Any])
    let ids = try #require((recorded["inputs"] as? [String: Any])?["ids"] as? [String: Any])
    let p = try #require(ids["preconditioner"] as? [String: Any])
    #expect(p["method"] as? String == method)
    #expect(p["curvatureSHA256"] as? String == (try Checksum.sha256(ofFile: ws.path("c.kfac"))))
    let replay = try ws.winnow(["replay", "sel.json", "--scratch", "again"])
    #expect(replay.status == 0 && replay.stdout.contains("replay identical"), "\(replay.stdout)\(replay.stderr)")
  }

  @Test func influenceOnPreconditionedFeaturesIsRefused() throws {
    let ws = try Workspace()
    let curvature = try Self.saveCurvatures(ws)
    try Self.writeFeatures(ws, "kfac-whitened", curvature)
    #expect(try ws.winnow(Self.importArgs("t.npy", "train", "kfac-whitened")).status == 0)
    for target in ["v.npy", "train"] {
      let run = try ws.winnow(["score", "--train", "train", "--target", target, "--measure", "influence", "--output", "s.npy"])
      expectFailure(run, mentioning: "precondition twice")
      #expect(!FileManager.default.fileExists(atPath: ws.path("s.npy")))
    }
    // A bare .npy target records nothing: scored, with dot.
    let bare = try ws.winnow(["score", "--train", "train", "--target", "v.npy", "--output", "s.npy"])
    #expect(bare.status == 0, "\(bare.stderr)")
  }

  @Test func differentPreconditionersAreRefusedUnlessMixedProjectionsAreAllowed() throws {
    let ws = try Workspace()
    let curvature = try Self.saveCurvatures(ws)
    try Self.writeFeatures(ws, "kfac", curvature)
    try FileManager.default.copyItem(atPath: ws.path("c0.kfac"), toPath: ws.path("other.kfac"))
    #expect(try ws.winnow(Self.importArgs("t.npy", "train", "kfac")).status == 0)
    let targets: [(String, [String])] = [
      ("plain", ["store", "import", "--input", "v.npy", "--store", "plain"]),
      ("damped", Self.importArgs("v.npy", "damped", "kfac", ["--damping", "0.2"])),
      ("absolute", Self.importArgs("v.npy", "absolute", "kfac", ["--damping", "0.1", "--absolute-damping"])),
      ("ekfac", Self.importArgs("v.npy", "ekfac", "ekfac")),
      ("other", ["store", "import", "--input", "v.npy", "--store", "other", "--preconditioner", "kfac", "--curvature", "other.kfac"]),
    ]
    for (store, args) in targets {
      let imported = try ws.winnow(args)
      #expect(imported.status == 0, "\(imported.stderr)")
      let run = try ws.winnow(["score", "--train", "train", "--target", store, "--output", "s.npy"])
      expectFailure(run, mentioning: "--target \(store) holds")
      #expect(run.stderr.contains("--allow-mixed-projections"), "\(run.stderr)")
      #expect(!FileManager.default.fileExists(atPath: ws.path("s.npy")))
      let mixed = try ws.winnow(
        ["score", "--train", "train", "--target", store, "--allow-mixed-projections", "--output", "m-\(store).npy"])
      #expect(mixed.status == 0, "\(store): \(mixed.stderr)")
    }
    // The same curvature file under another name is the same preconditioner.
    try FileManager.default.copyItem(atPath: ws.path("c.kfac"), toPath: ws.path("copy.kfac"))
    let copy = try ws.winnow(
      ["store", "import", "--input", "v.npy", "--store", "copy", "--preconditioner", "kfac", "--curvature", "copy.kfac"])
    #expect(copy.status == 0, "\(copy.stderr)")
    let same = try ws.winnow(["score", "--train", "train", "--target", "copy", "--output", "s.npy"])
    #expect(same.status == 0, "\(same.stderr)")
  }

  @Test func aDamagedPreconditionerInAManifestIsRefusedOnLoad() throws {
    let ws = try Workspace()
    let curvature = try Self.saveCurvatures(ws)
    try Self.writeFeatures(ws, "kfac", curvature)
    #expect(try ws.winnow(Self.importArgs("t.npy", "train", "kfac")).status == 0)
    let sha = try Checksum.sha256(ofFile: ws.path("c.kfac"))
    let text = String(decoding: try ws.data("train/manifest.json"), as: UTF8.self)
    try Data(text.replacingOccurrences(of: sha, with: "xyz").utf8).write(to: ws.url.appendingPathComponent("train/manifest.json"))
    let run = try ws.winnow(["score", "--train", "train", "--target", "v.npy", "--output", "s.npy"])
    expectFailure(run, mentioning: "metadata.preconditioner.curvatureSHA256")
  }
}
