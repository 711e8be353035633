import Foundation
import Testing

@testable import Winnow

/// `Selection.select(_:rule:poolEligible:)` and `SelectionOutputs`: the rule
/// and the files shared by `winnow select`, the C ABI and `winnow.ray`.
@Suite struct SelectionOutputsTests {
  /// Scores with many ties and a few exclusions.
  func pool(_ n: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<n).map { i in
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return i % 29 == 3 ? -.infinity : Float(Int(state >> 60)) / 4
    }
  }

  @Test(arguments: [SelectionRule.top(37), .fraction(0.05), .fraction(0.5), .threshold(2.5)])
  func candidatesAtOrAboveTheCutSelectWhatThePoolSelects(rule: SelectionRule) throws {
    let scores = pool(1000, seed: 5)
    let whole = try scores.withUnsafeBufferPointer { try Selection.select($0, rule: rule) }
    // The cut and its ties as a distributed run collects them, in pool order.
    let cut = scores[whole.last!]
    var ties = whole.filter { scores[$0] == cut }.count
    let rows = scores.indices.filter { i in
      if scores[i] > cut { return true }
      guard scores[i] == cut, ties > 0 else { return false }
      ties -= 1
      return true
    }
    let eligible = scores.filter(\.isFinite).count
    let part = try rows.map { scores[$0] }.withUnsafeBufferPointer {
      try Selection.select($0, rule: rule, poolEligible: eligible)
    }
    #expect(part.map { rows[$0] } == whole)
  }

  @Test func theCountOfARuleFollowsTheEligibleRows() throws {
    #expect(try SelectionRule.fraction(0.5).count(eligible: 5) == 3)  // 2.5 rounds away from zero
    #expect(try SelectionRule.fraction(1e-9).count(eligible: 5) == 1)
    #expect(try SelectionRule.top(5).count(eligible: 5) == 5)
    #expect(try SelectionRule.threshold(1).count(eligible: 5) == nil)
    #expect(throws: WinnowError.self) { try SelectionRule.top(6).count(eligible: 5) }
    for bad in [SelectionRule.top(0), .fraction(0), .fraction(1.01), .fraction(.nan), .threshold(.infinity)] {
      #expect(throws: WinnowError.self) { try bad.validate() }
    }
  }

  @Test func tooFewCandidatesOrAPoolCountBelowThemAreRefused() throws {
    let scores: [Float] = [3, 2, 1]
    try scores.withUnsafeBufferPointer { s in
      let few = try #require(throws: WinnowError.self) {
        try Selection.select(s, rule: .fraction(0.5), poolEligible: 100)
      }
      #expect(few.message.contains("at or above the cut"))
      #expect(throws: WinnowError.self) { try Selection.select(s, rule: .top(1), poolEligible: 2) }
    }
  }

  @Test func theFilesHoldTheSelectionAndTheManifestBothSetsOfFields() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("winnow-selection-outputs-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let outputs = SelectionOutputs(
      ids: folder.appendingPathComponent("ids.npy").path,
      listing: folder.appendingPathComponent("list.csv").path,
      manifest: folder.appendingPathComponent("m.json").path)
    let ids: [Int64] = [7, -3, 12]
    let scores: [Float] = [0.1, 1e-5, -2]
    let sums = try outputs.write(
      ids: ids, scores: scores, rule: .top(3),
      fields: ["tool": "test", "inputs": ["seed": .uint(UInt64.max)], "poolSize": .int(9)])
    #expect(try NPYArray(contentsOf: URL(fileURLWithPath: outputs.ids)).readInt64() == ids)
    let listing = try String(contentsOfFile: outputs.listing!, encoding: .utf8)
    #expect(listing == "rank,id,score\n1,7,0.1\n2,-3,1e-05\n3,12,-2.0\n")
    #expect(sums["listing"] == (try Checksum.sha256(ofFile: outputs.listing!)))
    #expect(sums["ids"] == (try Checksum.sha256(ofFile: outputs.ids)))
    let text = try String(contentsOfFile: outputs.manifest!, encoding: .utf8)
    let manifest = try JSONValue.object(parsing: text, "manifest")
    #expect(manifest["tool"] == "test")
    #expect(manifest["inputs"] == ["seed": .uint(UInt64.max)])  // all 64 bits kept
    #expect(manifest["rule"] == ["kind": "top", "k": .int(3)])
    #expect(manifest["selected"] == .int(3))
    #expect(manifest["outputsSHA256"] == .object(sums.mapValues(JSONValue.string)))
    // A rerun gives the same bytes.
    try outputs.write(
      ids: ids, scores: scores, rule: .top(3),
      fields: ["tool": "test", "inputs": ["seed": .uint(UInt64.max)], "poolSize": .int(9)])
    #expect(try String(contentsOfFile: outputs.manifest!, encoding: .utf8) == text)
  }

  @Test func badOutputRequestsAreRefusedBeforeAnyFileIsWritten() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("winnow-selection-outputs-bad-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let ids = folder.appendingPathComponent("ids.npy").path
    #expect(throws: WinnowError.self) {
      try SelectionOutputs(ids: ids, listing: ids).write(ids: [1], scores: [1], rule: .top(1))
    }
    #expect(throws: WinnowError.self) {
      try SelectionOutputs(ids: ids, manifest: folder.appendingPathComponent("m.json").path)
        .write(ids: [1], scores: [1], rule: .top(1), fields: ["selected": .int(2)])
    }
    #expect(throws: WinnowError.self) {
      try SelectionOutputs(ids: ids).write(ids: [1, 2], scores: [1], rule: .top(1))
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
  }
}
