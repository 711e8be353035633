import ArgumentParser
import Foundation
import Winnow

/// `winnow select`: the best candidates by score, with a listing and a
/// manifest from which the selection can be reproduced.
struct Select: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Select the best-scoring candidates: top K, top fraction, or a threshold.",
    discussion: """
      Orders by descending score, ties by ascending row index, so a selection never depends \
      on thread count or block size. Scores of -inf (rows skipped by `winnow score \
      --skip-nonfinite`) are never selected and do not count towards the pool; NaN or +inf \
      is an error. --fraction F keeps round(F · eligible rows), at least one.

      Writes the selected ids (<i8 .npy, best first: the row index, or the id from --ids or \
      from a feature store), optionally a CSV listing (rank,id,score) and a JSON manifest \
      recording the inputs with their SHA-256 (and the K-FAC / EK-FAC preconditioner of an \
      --ids store that records one), the rule, the Winnow version and the outputs' \
      SHA-256 (outputsSHA256, computed as they are written). Reruns give \
      byte-identical outputs.
      """
  )

  @Option(name: .long, help: "Scores, <f4 .npy of shape (N,) (from `winnow score`).")
  var scores: String

  @Option(name: .long, help: "Keep the best round(F·N) rows, F in (0, 1] (LESS: 0.05).")
  var fraction: Double?

  @Option(name: .long, help: "Keep the best K rows.")
  var top: Int?

  @Option(name: .long, help: "Keep every row scoring at least T.")
  var threshold: Float?

  @Option(name: .long, help: "Sample ids, .npy (N,) of integers, or a feature store directory.")
  var ids: String?

  @Option(name: .long, help: "Selected ids, <i8 .npy, best first.")
  var output: String

  @Option(name: .long, help: "CSV listing: rank,id,score.")
  var listing: String?

  @Option(name: .long, help: "JSON manifest: inputs and outputs with checksums, rule, version.")
  var manifest: String?

  func validate() throws {
    let rules = [fraction != nil, top != nil, threshold != nil].filter { $0 }.count
    guard rules == 1 else { throw ValidationError("give exactly one of --fraction, --top, --threshold") }
    if let fraction, !(fraction > 0 && fraction <= 1) {
      throw ValidationError("--fraction \(fraction) is outside (0, 1]")
    }
    for path in [output, listing, manifest].compactMap({ $0 }) { try checkOutputFolder(path) }
    try checkDistinctOutputs(
      [("--output", output), ("--listing", listing), ("--manifest", manifest)].compactMap { option, path in
        path.map { (option, $0) }
      })
  }

  func run() throws {
    let scoresArray = try NPYArray(contentsOf: URL(fileURLWithPath: scores))
    guard scoresArray.shape.count == 1, scoresArray.dtype == .float32 || scoresArray.dtype == .float16 else {
      throw WinnowError(.shapeMismatch, "\(scores): scores must be a float array of shape (N,), not \(scoresArray.shape)")
    }
    let values = try scoresArray.readFloats()
    let chosen = try values.withUnsafeBufferPointer { try Selection.select($0, rule: rule) }
    let idValues = try loadIDs(count: values.count)
    let outputs = SelectionOutputs(ids: output, listing: listing, manifest: manifest)
    try outputs.write(
      ids: chosen.map { idValues?[$0] ?? Int64($0) }, scores: chosen.map { values[$0] }, rule: rule,
      fields: manifest == nil ? [:] : try manifestFields(pool: values.count))
  }

  /// The rule of the one option given (`validate` checked there is one).
  private var rule: SelectionRule {
    if let fraction { return .fraction(fraction) }
    if let top { return .top(top) }
    return .threshold(threshold ?? 0)
  }

  /// The ids of the `count` rows, or nil for row indices.
  private func loadIDs(count: Int) throws -> [Int64]? {
    guard let ids else { return nil }
    let url = URL(fileURLWithPath: ids)
    let values = FeatureStore.isStore(url)
      ? try FeatureStore(directory: url, verifyChecksums: false).ids()
      : try NPYArray(contentsOf: url).readInt64()
    guard values.count == count else {
      throw WinnowError(.shapeMismatch, "\(ids): \(values.count) ids for \(count) scores")
    }
    return values
  }

  /// What this command records in the manifest beside the library's fields.
  private func manifestFields(pool: Int) throws -> [String: JSONValue] {
    var inputs: [String: JSONValue] = [
      "scores": ["path": .string(scores), "sha256": .string(try Checksum.sha256(ofFile: scores))]
    ]
    if let ids {
      let url = URL(fileURLWithPath: ids)
      let checksumPath = FeatureStore.isStore(url) ? url.appendingPathComponent("manifest.json").path : ids
      var entry: [String: JSONValue] = ["path": .string(ids), "sha256": .string(try Checksum.sha256(ofFile: checksumPath))]
      // A store of K-FAC / EK-FAC features: the scores are dot products
      // under its preconditioner, which the manifest records beside it.
      if FeatureStore.isStore(url),
        let preconditioner = try FeatureStore(directory: url, verifyChecksums: false).metadata.preconditioner
      {
        entry["preconditioner"] = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(preconditioner))
      }
      inputs["ids"] = .object(entry)
    }
    return ["tool": "winnow select", "inputs": .object(inputs), "poolSize": .int(Int64(pool))]
  }
}
