#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The files of a selection (DESIGN §3), written by one implementation for
/// `winnow select`, the C ABI (`wn_selection_write`) and `winnow.ray`:
///
/// - ids: `<i8` `.npy`, best first;
/// - listing: CSV `rank,id,score`, scores as Swift prints a `Float` (the
///   shortest text that reads back to the same value);
/// - manifest: JSON with the caller's fields (`tool`, `inputs`, `poolSize`,
///   anything else it records) and the library's: `rule`, `tieBreak`,
///   `selected`, `winnowVersion`, `outputs`, `outputsSHA256` (each output's
///   SHA-256, computed from the bytes as they are written).
///
/// Each file appears atomically (temporary, fsync, rename), so a rerun with
/// the same inputs replaces every file with identical bytes.
public struct SelectionOutputs: Sendable {
  /// The ids file (required).
  public var ids: String
  /// The CSV listing, or nil.
  public var listing: String?
  /// The JSON manifest, or nil.
  public var manifest: String?

  public init(ids: String, listing: String? = nil, manifest: String? = nil) {
    (self.ids, self.listing, self.manifest) = (ids, listing, manifest)
  }

  /// Manifest keys the library writes; a caller's field may not replace them.
  public static let libraryKeys: Set<String> = [
    "rule", "tieBreak", "selected", "winnowVersion", "outputs", "outputsSHA256",
  ]

  /// Writes the selection's files.
  ///
  /// - Parameters:
  ///   - ids: the selected ids, best first.
  ///   - scores: their scores, in the same order.
  ///   - rule: the rule that chose them (recorded in the manifest).
  ///   - fields: the caller's manifest fields.
  /// - Returns: the SHA-256 of each file written, by role (`ids`, `listing`).
  /// - Throws: `.shapeMismatch` when `ids` and `scores` differ in length;
  ///   `.invalidArgument` for two outputs at one path or a field that
  ///   names a library key; `.io` when a file cannot be written.
  @discardableResult
  public func write(
    ids: [Int64], scores: [Float], rule: SelectionRule, fields: [String: JSONValue] = [:]
  ) throws -> [String: String] {
    guard ids.count == scores.count else {
      throw WinnowError(.shapeMismatch, "\(ids.count) selected ids but \(scores.count) scores")
    }
    try checkDistinct()
    if let clash = fields.keys.filter(Self.libraryKeys.contains).sorted().first {
      throw WinnowError.invalid(
        "the manifest field \"\(clash)\" is written by the library; leave it out of the caller's fields")
    }
    var sums = ["ids": try NPYWriter.write(ids, to: URL(fileURLWithPath: self.ids))]
    if let listing {
      let text = Self.listingText(ids: ids, scores: scores)
      try AtomicFile.write(Data(text.utf8), to: URL(fileURLWithPath: listing))
      sums["listing"] = try Checksum.sha256(of: Array(text.utf8))
    }
    if let manifest {
      var object = fields
      object["rule"] = rule.manifestValue
      object["tieBreak"] = "ascending row index"
      object["selected"] = .int(Int64(ids.count))
      object["winnowVersion"] = .string(Runtime.version)
      object["outputs"] = ["ids": .string(self.ids), "listing": listing.map(JSONValue.string) ?? .null]
      object["outputsSHA256"] = .object(sums.mapValues(JSONValue.string))
      let text = try JSONValue.object(object).manifestText()
      try AtomicFile.write(Data(text.utf8), to: URL(fileURLWithPath: manifest))
    }
    return sums
  }

  /// The CSV listing: a header, then `rank,id,score` per selected row.
  public static func listingText(ids: [Int64], scores: [Float]) -> String {
    var text = "rank,id,score\n"
    for (rank, (id, score)) in zip(ids, scores).enumerated() {
      text += "\(rank + 1),\(id),\(score)\n"
    }
    return text
  }

  /// Two roles at one path would overwrite each other's file.
  private func checkDistinct() throws {
    let paths = [("ids", ids), ("listing", listing), ("manifest", manifest)].compactMap { role, path in
      path.map { (role, $0) }
    }
    if let (i, j) = Self.firstClash(paths.map(\.1)) {
      throw WinnowError.invalid(
        "the \(paths[i].0) and the \(paths[j].0) outputs are the same file \(paths[j].1)")
    }
  }

  /// The first two of `paths` that name the same file (the same inode when
  /// it exists, else the same resolved folder and name), or nil; what
  /// `winnow select` checks its output options with, too.
  public static func firstClash(_ paths: [String]) -> (Int, Int)? {
    let keys = paths.map(Syscalls.fileIdentity)
    for i in keys.indices {
      if let j = keys.indices.first(where: { $0 > i && keys[$0] == keys[i] }) { return (i, j) }
    }
    return nil
  }
}
