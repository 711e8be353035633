#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// A read-only feature store: a directory of `.npy` shards of projected
/// features (`N_s × k`, `<f4` or `<f2`), their sample ids (`<i8`, `N_s`) and a
/// `manifest.json` (DESIGN §3). Written by `FeatureStoreWriter`.
///
/// Rows are the shards' rows in manifest order. Only shards listed in the
/// manifest exist for readers; a shard still being written is invisible.
///
/// Thread safety: reads may run concurrently; the store is immutable.
public final class FeatureStore: FeatureSource, ContiguousFeatureSource, @unchecked Sendable {
  // @unchecked: every stored property is immutable after init.

  /// The store's directory.
  public let directory: URL
  /// How the features were made.
  public let metadata: FeatureStoreMetadata
  /// The complete shards, in row order.
  public let shards: [FeatureStoreShard]
  private let arrays: [NPYArray]
  /// `starts[s]` is shard `s`'s first row; `starts.last` is `rowCount`.
  private let starts: [Int]

  /// Whether `url` is a directory holding a store manifest.
  public static func isStore(_ url: URL) -> Bool {
    FileManager.default.fileExists(
      atPath: url.appendingPathComponent(FeatureStoreManifest.fileName).path)
  }

  /// Opens the store at `directory`, checking every shard's dtype, shape and
  /// (unless `verifyChecksums` is false) SHA-256 against the manifest.
  ///
  /// - Throws: `.io` for a missing manifest or shard; `.format` naming the
  ///   shard whose shape, dtype or checksum does not match the manifest.
  /// - Complexity: O(shards), plus one read of every file to verify checksums.
  public init(directory: URL, verifyChecksums: Bool = true) throws {
    let manifest = try FeatureStoreManifest.load(from: directory)
    self.directory = directory
    metadata = manifest.metadata
    shards = manifest.shards
    var arrays = [NPYArray](), starts = [0]
    for shard in shards {
      let features = try Self.open(shard.features, in: directory, shard: shard, verify: verifyChecksums)
      let want = [shard.rows, metadata.k]
      guard features.dtype.rawValue == metadata.dtype, features.shape == want else {
        throw WinnowError(
          .format,
          "\(features.url.path): shard holds \(features.dtype.rawValue) \(features.shape); "
            + "the manifest says \(metadata.dtype) \(want)")
      }
      let ids = try Self.open(shard.ids, in: directory, shard: shard, verify: verifyChecksums)
      guard ids.dtype == .int64, ids.shape == [shard.rows] else {
        throw WinnowError(
          .format, "\(ids.url.path): ids hold \(ids.dtype.rawValue) \(ids.shape), expected <i8 [\(shard.rows)]")
      }
      arrays.append(features)
      starts.append(starts[starts.count - 1] + shard.rows)
    }
    self.arrays = arrays
    self.starts = starts
  }

  /// Opens one of a shard's files: resolved inside the store (a symbolic
  /// link leaving it is refused), a regular file (a link to `/dev/zero`
  /// would make the checksum read forever), checksum checked if `verify`.
  private static func open(
    _ name: String, in directory: URL, shard: FeatureStoreShard, verify: Bool
  ) throws -> NPYArray {
    let role = name == shard.features ? "features" : "ids"
    let what = "shard \(shard.features) \(role)"
    let path = try NPYSyscalls.resolveInside(directory.path, name, what: what)
    if verify {
      let want = name == shard.features ? shard.featuresSHA256 : shard.idsSHA256
      let got: String
      do {
        got = try SHA256.hex(ofFile: path)
      } catch let error as WinnowError {
        throw WinnowError(error.code, "\(what): \(error.message)")
      }
      guard got == want else {
        throw WinnowError(
          .format,
          "\(directory.appendingPathComponent(name).path): checksum mismatch: the manifest records "
            + "SHA-256 \(want), the file has \(got); the shard was changed or corrupted")
      }
    }
    do {
      return try NPYArray(contentsOf: URL(fileURLWithPath: path))
    } catch let error as WinnowError {
      throw WinnowError(error.code, "\(what): \(error.message)")
    }
  }

  public var rowCount: Int { starts[starts.count - 1] }
  public var dim: Int { metadata.k }
  public var label: String { "feature store \(directory.path)" }

  /// The sample ids of all rows, in row order.
  ///
  /// - Complexity: O(N) time and memory.
  public func ids() throws -> [Int64] {
    try shards.flatMap { shard in
      try Self.open(shard.ids, in: directory, shard: shard, verify: false).readInt64()
    }
  }

  /// The shards overlapping `rows`, each with its local row range and the
  /// offset of its part within `rows`.
  private func pieces(_ rows: Range<Int>) -> [(shard: Int, local: Range<Int>, offset: Int)] {
    var result = [(Int, Range<Int>, Int)]()
    var s = max(0, (starts.lastIndex { $0 <= rows.lowerBound } ?? 0))
    var row = rows.lowerBound
    while row < rows.upperBound, s < arrays.count {
      let end = min(rows.upperBound, starts[s + 1])
      if end > row { result.append((s, (row - starts[s])..<(end - starts[s]), row - rows.lowerBound)) }
      row = max(row, end)
      s += 1
    }
    return result
  }

  public func readRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
    try checkRange(rows)
    for piece in pieces(rows) {
      try arrays[piece.shard].readFloatRows(piece.local, into: out + piece.offset * dim)
    }
  }

  public func release(rows: Range<Int>) {
    for piece in pieces(rows) { arrays[piece.shard].releasePages(rows: piece.local) }
  }

  func withRows<R>(
    _ rows: Range<Int>, _ body: (UnsafePointer<Float>) throws -> R
  ) throws -> R? {
    try checkRange(rows)
    let parts = pieces(rows)
    guard parts.count == 1, let part = parts.first else { return nil }
    return try arrays[part.shard].withRows(part.local, body)
  }
}
