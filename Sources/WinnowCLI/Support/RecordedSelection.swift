import ArgumentParser
import Foundation
import Winnow

/// A selection manifest of `winnow select` or `winnow.ray`, read for
/// `winnow replay`: its inputs with their checksums, its rule, and the
/// paths of its outputs.
struct RecordedSelection {
  enum Tool: String { case select = "winnow select", ray = "winnow.ray score-select" }

  let path: String
  let tool: Tool
  let object: [String: Any]

  init(manifestPath: String) throws {
    path = manifestPath
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
    } catch {
      throw WinnowError(.io, "\(manifestPath): cannot read the manifest")
    }
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
      throw WinnowError(.format, "\(manifestPath): not a JSON object")
    }
    guard let name = object["tool"] as? String, let tool = Tool(rawValue: name) else {
      throw WinnowError(
        .unsupported,
        "\(manifestPath): 'tool' is \(object["tool"].map { "\($0)" } ?? "missing"); "
          + "replay reads manifests of `winnow select` and `winnow.ray score-select`")
    }
    (self.tool, self.object) = (tool, object)
  }

  // MARK: - Inputs

  /// Checks every recorded input against its SHA-256 and returns one line
  /// per changed input, naming it (empty when all are unchanged).
  ///
  /// - Throws: `.io` for an input that is missing or unreadable.
  func checkInputs() throws -> [String] {
    var changes: [String] = []
    let inputs = try dictionary(object, "inputs")
    for (name, input) in [("scores", inputs["scores"]), ("ids", inputs["ids"]), ("targetGroups", inputs["targetGroups"])] {
      guard let input = input as? [String: Any], input["path"] is String else { continue }
      changes += try check(name, try string(input, "path"), sha256: try string(input, "sha256"), store: name == "ids")
    }
    for (c, target) in ((inputs["targets"] as? [[String: Any]]) ?? []).enumerated() {
      changes += try check("targets[\(c)]", try string(target, "path"), sha256: try string(target, "sha256"))
    }
    for (c, store) in ((inputs["train"] as? [[String: Any]]) ?? []).enumerated() {
      let directory = try resolve(try string(store, "path"))
      changes += try check("train[\(c)]", directory, sha256: try string(store, "manifestSHA256"), store: true)
      for shard in (store["shards"] as? [[String: Any]]) ?? [] {
        for (file, sum) in [("features", "featuresSHA256"), ("ids", "idsSHA256")] {
          let name = try string(shard, file)
          changes += try check("train[\(c)] shard", (directory as NSString).appendingPathComponent(name),
                    sha256: try string(shard, sum))
        }
      }
    }
    return changes
  }

  /// Compares the file at `path` (a store's manifest.json when `store` and
  /// `path` is a store) with the recorded checksum.
  private func check(_ name: String, _ path: String, sha256 want: String, store: Bool = false) throws -> [String] {
    var file = try resolve(path)
    if store, FeatureStore.isStore(URL(fileURLWithPath: file)) {
      file = (file as NSString).appendingPathComponent("manifest.json")
    }
    let got = try Checksum.sha256(ofFile: file)
    return got == want ? [] : ["input \(name) changed: \(file) has SHA-256 \(got), the manifest records \(want)"]
  }

  // MARK: - Re-running

  /// Runs the selection again into `folder` and returns the replayed
  /// outputs by name (`ids`, `listing`).
  func rerun(into folder: String) throws -> [(String, String)] {
    let inputs = try dictionary(object, "inputs")
    let ids = (folder as NSString).appendingPathComponent("ids.npy")
    let listing = (folder as NSString).appendingPathComponent("listing.csv")
    let scores: String
    switch tool {
    case .select:
      scores = try resolve(try string(try dictionary(inputs, "scores"), "path"))
    case .ray:
      scores = (folder as NSString).appendingPathComponent("scores.npy")
      let score = try Score.parse(try scoreArguments(inputs) + ["--output", scores])
      try score.validate()
      try score.run()
    }
    var arguments = ["--scores", scores, "--output", ids, "--listing", listing] + (try ruleArguments())
    if let idInput = inputs["ids"] as? [String: Any], let idPath = idInput["path"] as? String {
      arguments += ["--ids", try resolve(idPath)]
    }
    let select = try Select.parse(arguments)
    try select.validate()
    try select.run()
    return [("ids", ids), ("listing", listing)]
  }

  /// `winnow score` arguments for a Ray run's stores, targets and scoring.
  private func scoreArguments(_ inputs: [String: Any]) throws -> [String] {
    var arguments: [String] = []
    for store in (inputs["train"] as? [[String: Any]]) ?? [] {
      arguments += ["--train", try resolve(try string(store, "path"))]
    }
    for target in (inputs["targets"] as? [[String: Any]]) ?? [] {
      guard let path = target["path"] as? String else {
        throw WinnowError(.unsupported, "\(self.path): a target was passed as an array, not a file; it cannot be replayed")
      }
      arguments += ["--target", try resolve(path)]
    }
    if let groups = inputs["targetGroups"] as? [String: Any] {
      guard let path = groups["path"] as? String else {
        throw WinnowError(.unsupported, "\(self.path): target groups were passed as an array; they cannot be replayed")
      }
      arguments += ["--target-groups", try resolve(path)]
    }
    let scoring = try dictionary(object, "scoring")
    for weight in (scoring["checkpointWeights"] as? [Double]) ?? [] {
      arguments += ["--checkpoint-weight", "\(weight)"]
    }
    arguments += ["--measure", try string(scoring, "measure")]
    // checkInputs has compared every shard with the checksums the run saw;
    // a changed shard is reported there, and scored here as it now is.
    arguments.append("--no-verify")
    if (scoring["skipNonFinite"] as? Bool) == true { arguments.append("--skip-nonfinite") }
    return arguments
  }

  /// The recorded rule as `winnow select` arguments (exact: Swift prints
  /// doubles and floats with digits that round-trip).
  private func ruleArguments() throws -> [String] {
    let rule = try dictionary(object, "rule")
    switch try string(rule, "kind") {
    case "fraction": return ["--fraction", "\(try number(rule, "fraction"))"]
    case "top": return ["--top", "\(Int(try number(rule, "k")))"]
    case "threshold": return ["--threshold", "\(Float(try number(rule, "threshold")))"]
    case let kind: throw WinnowError(.unsupported, "\(path): unknown selection rule '\(kind)'")
    }
  }

  // MARK: - Outputs and paths

  /// The recorded path of output `name`, or nil when the run did not write it.
  func outputPath(_ name: String) -> String? {
    guard let outputs = object["outputs"] as? [String: Any], let recorded = outputs[name] as? String else {
      return nil
    }
    return (try? resolve(recorded)) ?? recorded
  }

  /// `path` as given when it exists (or is absolute), else relative to the
  /// manifest's folder.
  func resolve(_ path: String) throws -> String {
    if path.hasPrefix("/") || FileManager.default.fileExists(atPath: path) { return path }
    let beside = ((self.path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
    guard FileManager.default.fileExists(atPath: beside) else {
      throw WinnowError(.io, "\(path): recorded in \(self.path), but missing (also beside the manifest)")
    }
    return beside
  }

  private func dictionary(_ object: [String: Any], _ key: String) throws -> [String: Any] {
    guard let value = object[key] as? [String: Any] else { throw missing(key) }
    return value
  }

  private func string(_ object: [String: Any], _ key: String) throws -> String {
    guard let value = object[key] as? String else { throw missing(key) }
    return value
  }

  private func number(_ object: [String: Any], _ key: String) throws -> Double {
    guard let value = object[key] as? NSNumber else { throw missing(key) }
    return value.doubleValue
  }

  private func missing(_ key: String) -> WinnowError {
    WinnowError(.format, "\(path): the manifest has no valid '\(key)'")
  }
}
