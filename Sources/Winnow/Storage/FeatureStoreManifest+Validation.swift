#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension FeatureStoreManifest {
  /// The largest manifest read (a million shards fit in far less).
  static let byteLimit = 256 << 20

  /// Checks every field before anything uses it, so a damaged or hostile
  /// manifest is an error naming the manifest and the field, never a trap
  /// (an `inputStart` of 2^63−1 once overflowed on resume).
  ///
  /// Shards must be listed in input order and cover `0 ..< nextInputRow`
  /// without gap or overlap (that is how `FeatureStoreWriter` writes them);
  /// file names must be plain names inside the store; checksums lowercase
  /// hex (64 digits for SHA-256, 32 for the optional XXH3-128).
  ///
  /// - Throws: `.format` naming `url` and the field.
  /// - Complexity: O(shards).
  func validate(_ url: URL) throws {
    func bad(_ field: String, _ problem: String) -> WinnowError {
      WinnowError(.format, "\(url.path): \(field) \(problem)")
    }
    let m = metadata
    guard m.featureDType != nil else { throw bad("metadata.dtype", "is \(m.dtype); a store holds <f4 or <f2") }
    guard m.k > 0, m.k <= Int(Int32.max) else { throw bad("metadata.k", "= \(m.k) must be in 1 ... 2^31−1") }
    guard m.inputDim >= 0 else { throw bad("metadata.inputDim", "= \(m.inputDim) is negative") }
    guard m.weight.isFinite else { throw bad("metadata.weight", "= \(m.weight) is not finite") }
    try m.preconditioner?.validate(bad)
    var next = 0
    var names = Set<String>()
    for (i, shard) in shards.enumerated() {
      let field = "shards[\(i)]"
      for (key, name) in [("features", shard.features), ("ids", shard.ids)] {
        guard Self.isPlainName(name) else {
          throw bad("\(field).\(key)", "= \"\(name)\" is not a plain file name inside the store")
        }
        guard names.insert(name).inserted else {
          throw bad("\(field).\(key)", "= \"\(name)\" is listed twice")
        }
      }
      guard shard.rows >= 1 else { throw bad("\(field).rows", "= \(shard.rows) must be ≥ 1") }
      guard shard.inputStart == next else {
        throw bad(
          "\(field).inputStart",
          "= \(shard.inputStart), but the shards before it end at input row \(next) (shards must be contiguous from 0)")
      }
      let (end, overflow) = shard.inputStart.addingReportingOverflow(shard.rows)
      guard !overflow else {
        throw bad("\(field).rows", "= \(shard.rows) overflows after inputStart \(shard.inputStart)")
      }
      next = end
      for (key, sum) in [("featuresSHA256", shard.featuresSHA256), ("idsSHA256", shard.idsSHA256)] {
        guard ChecksumAlgorithm.sha256.isDigest(sum)
        else { throw bad("\(field).\(key)", "= \"\(sum)\" is not 64 lowercase hex digits") }
      }
      for (key, sum) in [("featuresXXH3", shard.featuresXXH3), ("idsXXH3", shard.idsXXH3)] {
        guard let sum else { continue }
        guard ChecksumAlgorithm.xxh3.isDigest(sum)
        else { throw bad("\(field).\(key)", "= \"\(sum)\" is not 32 lowercase hex digits") }
      }
    }
  }

  /// A file name with no folder part: not empty, no `/`, not `.` or `..`, no NUL.
  static func isPlainName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.utf8.contains(0)
  }

  /// The end of the listed input rows: where a resumed ingest starts.
  var nextInputRow: Int { shards.last.map { $0.inputStart + $0.rows } ?? 0 }
}
