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
      recording the inputs with their SHA-256, the rule, the Winnow version and the outputs' \
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
    let chosen = try values.withUnsafeBufferPointer { s -> [Int] in
      if let fraction { return try Selection.top(s, fraction: fraction) }
      if let top { return try Selection.top(s, k: top) }
      return try Selection.atLeast(s, threshold: threshold ?? 0)
    }
    let idValues = try loadIDs(count: values.count)
    let selected = chosen.map { idValues?[$0] ?? Int64($0) }
    // Output checksums are computed from the bytes as they are written.
    var sums = ["ids": try NPYWriter.write(selected, to: URL(fileURLWithPath: output))]
    if let listing {
      var csv = "rank,id,score\n"
      for (rank, row) in chosen.enumerated() {
        csv += "\(rank + 1),\(selected[rank]),\(values[row])\n"
      }
      try writeText(csv, to: listing)
      sums["listing"] = try Checksum.sha256(of: Array(csv.utf8))
    }
    if let manifest {
      try writeText(try manifestJSON(pool: values.count, selected: selected.count, sums: sums), to: manifest)
    }
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

  private func manifestJSON(pool: Int, selected: Int, sums: [String: String]) throws -> String {
    var inputs: [String: Any] = ["scores": ["path": scores, "sha256": try Checksum.sha256(ofFile: scores)]]
    if let ids {
      let url = URL(fileURLWithPath: ids)
      let checksumPath = FeatureStore.isStore(url) ? url.appendingPathComponent("manifest.json").path : ids
      inputs["ids"] = ["path": ids, "sha256": try Checksum.sha256(ofFile: checksumPath)]
    }
    var rule: [String: Any] = [:]
    if let fraction { rule = ["kind": "fraction", "fraction": fraction] }
    if let top { rule = ["kind": "top", "k": top] }
    if let threshold { rule = ["kind": "threshold", "threshold": Double(threshold)] }
    let object: [String: Any] = [
      "tool": "winnow select", "winnowVersion": Runtime.version, "inputs": inputs,
      "rule": rule, "tieBreak": "ascending row index", "poolSize": pool, "selected": selected,
      "outputs": ["ids": output, "listing": listing as Any? ?? NSNull()] as [String: Any],
      "outputsSHA256": sums,
    ]
    let data = try JSONSerialization.data(
      withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    return String(decoding: data, as: UTF8.self) + "\n"
  }
}
