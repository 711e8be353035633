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
/// `<f4` rows are read with `pread` into the caller's memory (see
/// `StoreBlockReader`), `<f2` rows from a memory mapping, converted.
///
/// Thread safety: reads may run concurrently; the store is immutable.
public final class FeatureStore: FeatureSource, @unchecked Sendable {
  // @unchecked: every stored property is immutable after init.

  /// The store's directory.
  public let directory: URL
  /// How the features were made.
  public let metadata: FeatureStoreMetadata
  /// The complete shards, in row order.
  public let shards: [FeatureStoreShard]
  private let arrays: [NPYArray]
  /// Per shard, the features file's checksum verified as rows are read
  /// (`.whileReading`), else nil.
  let streamedChecksums: [StreamingChecksum?]
  /// Reads `<f4` rows with `pread` (see `StoreBlockReader`).
  private let blocks: StoreBlockReader
  /// `starts[s]` is shard `s`'s first row; `starts.last` is `rowCount`.
  private let starts: [Int]

  /// Whether `url` is a directory holding a store manifest.
  public static func isStore(_ url: URL) -> Bool {
    FileManager.default.fileExists(
      atPath: url.appendingPathComponent(FeatureStoreManifest.fileName).path)
  }

  /// Opens the store at `directory`, checking every shard's dtype, shape and
  /// (unless `verifyChecksums` is false) SHA-256 against the manifest, all
  /// before it returns (`Verification.whenOpened`).
  ///
  /// - Throws: `.io` for a missing manifest or shard; `.format` naming the
  ///   shard whose shape, dtype or checksum does not match the manifest.
  /// - Complexity: O(shards), plus one read of every file to verify checksums.
  public convenience init(directory: URL, verifyChecksums: Bool = true) throws {
    try self.init(directory: directory, verification: verifyChecksums ? .whenOpened : .none)
  }

  /// Opens the store at `directory`, checking every shard's dtype and shape
  /// against the manifest, and its SHA-256 as `verification` says.
  ///
  /// - Throws: `.io` for a missing manifest or shard; `.format` naming the
  ///   shard whose shape, dtype or (with `.whenOpened`) checksum does not
  ///   match the manifest.
  /// - Parameter shard: nil for the whole store; else only that shard (of
  ///   the manifest's list) is opened and its rows are the store's rows — how
  ///   a worker scoring one shard (`winnow.ray`) reads it.
  /// - Throws: also `.invalidArgument` for a shard index past the manifest's.
  /// - Complexity: O(shards); `.whenOpened` adds one read of every file,
  ///   `.whileReading` one read of the ids files (8 bytes a row).
  public init(directory: URL, verification: Verification, shard: Int? = nil) throws {
    let manifest = try FeatureStoreManifest.load(from: directory)
    self.directory = directory
    metadata = manifest.metadata
    if let shard {
      guard manifest.shards.indices.contains(shard) else {
        throw WinnowError.invalid(
          "\(directory.path): shard \(shard) is past the store's \(manifest.shards.count) shards")
      }
      shards = [manifest.shards[shard]]
    } else {
      shards = manifest.shards
    }
    var arrays = [NPYArray](), starts = [0], streamed = [StreamingChecksum?]()
    for shard in shards {
      let features = try Self.open(
        shard.features, in: directory, shard: shard, verify: verification == .whenOpened)
      let want = [shard.rows, metadata.k]
      guard features.dtype.rawValue == metadata.dtype, features.shape == want else {
        throw WinnowError(
          .format,
          "\(features.url.path): shard holds \(features.dtype.rawValue) \(features.shape); "
            + "the manifest says \(metadata.dtype) \(want)")
      }
      let ids = try Self.open(shard.ids, in: directory, shard: shard, verify: verification != .none)
      guard ids.dtype == .int64, ids.shape == [shard.rows] else {
        throw WinnowError(
          .format, "\(ids.url.path): ids hold \(ids.dtype.rawValue) \(ids.shape), expected <i8 [\(shard.rows)]")
      }
      arrays.append(features)
      starts.append(starts[starts.count - 1] + shard.rows)
      streamed.append(
        verification == .whileReading
          ? try StreamingChecksum(features, expected: shard.featuresChecksum) : nil)
    }
    self.arrays = arrays
    self.starts = starts
    self.streamedChecksums = streamed
    blocks = StoreBlockReader(paths: arrays.map(\.url.path))
  }

  /// Opens one of a shard's files: resolved inside the store (a symbolic
  /// link leaving it is refused), a regular file (a link to `/dev/zero`
  /// would make the checksum read forever), checksum checked if `verify`.
  private static func open(
    _ name: String, in directory: URL, shard: FeatureStoreShard, verify: Bool
  ) throws -> NPYArray {
    let role = name == shard.features ? "features" : "ids"
    let what = "shard \(shard.features) \(role)"
    let path = try Syscalls.resolveInside(directory.path, name, what: what)
    if verify {
      let (algorithm, want) = name == shard.features ? shard.featuresChecksum : shard.idsChecksum
      let got: String
      do {
        got = try algorithm.hex(ofFile: path)
      } catch let error as WinnowError {
        throw WinnowError(error.code, "\(what): \(error.message)")
      }
      guard got == want else {
        throw WinnowError(
          .format,
          "\(directory.appendingPathComponent(name).path): checksum mismatch: the manifest records "
            + "\(algorithm.rawValue) \(want), the file has \(got); the shard was changed or corrupted")
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
      let target = out + piece.offset * dim
      guard arrays[piece.shard].dtype == .float32, !piece.local.isEmpty else {
        try whileHashing(piece.shard, piece.local) {
          try arrays[piece.shard].readFloatRows(piece.local, into: target)
        }
        continue
      }
      // `<f4`: straight from the file into the caller's rows, hashed as they land.
      try blocks.read(
        shard: piece.shard, bytes: byteRange(piece.shard, piece.local), into: target,
        checksum: streamedChecksums[piece.shard])
    }
    warmNext(after: rows)
  }

  /// A scan reads blocks in order: the block after `rows` (as many rows,
  /// in whichever shards hold them) is read into the page cache while
  /// `rows` are read and used, so a cold scan keeps the disk busy,
  /// across shard boundaries too.
  private func warmNext(after rows: Range<Int>) {
    willRead(rows: rows.upperBound..<min(rowCount, rows.upperBound + rows.count))
  }

  /// Starts reading `rows` into the page cache on a background thread.
  public func willRead(rows: Range<Int>) {
    let rows = max(0, rows.lowerBound)..<min(rowCount, max(rows.lowerBound, rows.upperBound))
    for piece in pieces(rows) where arrays[piece.shard].dtype == .float32 && !piece.local.isEmpty {
      blocks.warm(shard: piece.shard, bytes: byteRange(piece.shard, piece.local))
    }
  }

  public func release(rows: Range<Int>) {
    for piece in pieces(rows) { arrays[piece.shard].releasePages(rows: piece.local) }
  }

  /// The file bytes of rows `local` of shard `s`.
  private func byteRange(_ s: Int, _ local: Range<Int>) -> Range<Int> {
    let rowBytes = dim * arrays[s].dtype.itemSize
    return (arrays[s].dataOffset + local.lowerBound * rowBytes)..<(arrays[s].dataOffset + local.upperBound * rowBytes)
  }

  /// Runs `work` on rows `local` of shard `s` while hashing the shard up to
  /// their end (`.whileReading`); throws the shard's verdict on a mismatch.
  private func whileHashing<R>(_ s: Int, _ local: Range<Int>, _ work: () throws -> R) throws -> R {
    try StreamingChecksum.whileHashing(streamedChecksums[s], to: byteRange(s, local).upperBound, work)
  }
}
