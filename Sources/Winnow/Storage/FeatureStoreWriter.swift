#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#endif

/// Appends projected features and their sample ids to a feature store,
/// shard by shard, so that an interrupted ingest resumes without loss or
/// duplication.
///
/// Ingest is by input row: shard `s` holds the input rows
/// `inputStart ..< inputStart + rows` recorded in the manifest. A shard's two
/// files are written under temporary names and published atomically
/// (`NPYWriter.finalize`); only then is the manifest rewritten (atomically)
/// to list it. A crash therefore leaves the manifest listing whole shards
/// only. `openOrCreate` removes temporaries and shard files the manifest does
/// not list, and `nextInputRow` tells the producer where to resume:
///
///     let writer = try FeatureStoreWriter.openOrCreate(directory: dir, metadata: meta)
///     for start in stride(from: writer.nextInputRow, to: n, by: block) {
///       try writer.append(features: featuresOf(start..<end), ids: idsOf(start..<end))
///     }
///     try writer.close()
///
/// Each shard file's SHA-256 is computed while it is written (each byte is
/// written once and never read back), which needs the shard's row count
/// before its first row: `shardRows`, or for the last shard what is left of
/// `expectedInputRows`. Without that hint a short last shard is read back
/// once to hash it.
///
/// With the same `shardRows` and input, an interrupted and resumed ingest
/// yields byte-identical files to an uninterrupted one (manifests hold no
/// timestamps). Thread safety: use one writer per store, from one thread.
public final class FeatureStoreWriter {
  /// The store directory.
  public let directory: URL
  /// Rows per shard (the last shard may hold fewer).
  public let shardRows: Int
  private var manifest: FeatureStoreManifest
  private var features: NPYWriter?
  private var ids: NPYWriter?
  private var open = (rows: 0, inputStart: 0)
  /// The total input rows of this ingest, when the producer knows it.
  private let expectedInputRows: Int?

  /// The first input row not yet in a complete shard: where a resumed
  /// ingest starts (rows appended to the open shard are not counted).
  public var nextInputRow: Int { open.inputStart }
  /// The complete shards so far.
  public var shards: [FeatureStoreShard] { manifest.shards }

  /// Opens the store at `directory`, creating it (and the directory) if
  /// there is none, and clears what an interrupted writer left behind.
  ///
  /// - Parameters:
  ///   - metadata: must equal the existing store's metadata, if any.
  ///   - shardRows: rows per shard, `> 0`.
  ///   - expectedInputRows: the total number of input rows, when known, so
  ///     that a short last shard is hashed while written, too.
  /// - Throws: `.invalidArgument` for bad metadata or a store made with
  ///   other metadata; `.io`/`.format` for an unreadable store.
  public static func openOrCreate(
    directory: URL, metadata: FeatureStoreMetadata, shardRows: Int = 65_536,
    expectedInputRows: Int? = nil
  ) throws -> FeatureStoreWriter {
    guard metadata.featureDType != nil, metadata.k > 0, shardRows > 0 else {
      throw WinnowError.invalid(
        "\(directory.path): a store needs <f4 or <f2 features, k > 0 and shard rows > 0")
    }
    let manifest: FeatureStoreManifest
    if FeatureStore.isStore(directory) {
      manifest = try FeatureStoreManifest.load(from: directory)
      guard manifest.metadata == metadata else {
        throw WinnowError.invalid(
          "\(directory.path): the store was made with other metadata "
            + "(\(manifest.metadata)); use a new directory")
      }
    } else {
      do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      } catch {
        throw WinnowError(.io, "\(directory.path): cannot create the store directory: \(error)")
      }
      manifest = FeatureStoreManifest(metadata: metadata)
      try manifest.save(to: directory)
    }
    let writer = FeatureStoreWriter(
      directory: directory, manifest: manifest, shardRows: shardRows, expectedInputRows: expectedInputRows)
    try writer.removeLeftovers()
    try writer.checkListedShards()
    return writer
  }

  /// Checks that a resume can start where the manifest says: the listed
  /// rows must not run past an input of `inputRows` rows.
  ///
  /// - Throws: `.shapeMismatch` naming the manifest and the last shard's fields.
  public func checkResume(inputRows: Int) throws {
    guard nextInputRow <= inputRows else {
      let i = manifest.shards.count - 1
      throw WinnowError(
        .shapeMismatch,
        "\(directory.appendingPathComponent(FeatureStoreManifest.fileName).path): "
          + "shards[\(i)].inputStart + shards[\(i)].rows = \(nextInputRow) runs past the input's "
          + "\(inputRows) rows: the store was made from another input")
    }
  }

  /// Checks each listed shard's files against the manifest (inside the
  /// store, regular, `rows × k` of the store's dtype, `rows` ids) before
  /// anything is appended after them. Headers only: O(shards).
  private func checkListedShards() throws {
    let meta = manifest.metadata
    for (i, shard) in manifest.shards.enumerated() {
      for (role, name) in [("features", shard.features), ("ids", shard.ids)] {
        let what = "shard \(shard.features) \(role)"
        let path = try Syscalls.resolveInside(directory.path, name, what: what)
        let array = try NPYArray(contentsOf: URL(fileURLWithPath: path))
        let (dtype, shape) = role == "ids" ? ("<i8", [shard.rows]) : (meta.dtype, [shard.rows, meta.k])
        guard array.dtype.rawValue == dtype, array.shape == shape else {
          throw WinnowError(
            .format,
            "\(directory.appendingPathComponent(FeatureStoreManifest.fileName).path): shards[\(i)] "
              + "lists \(name) as \(dtype) \(shape), the file holds \(array.dtype.rawValue) \(array.shape)")
        }
      }
    }
  }

  private init(
    directory: URL, manifest: FeatureStoreManifest, shardRows: Int, expectedInputRows: Int?
  ) {
    self.directory = directory
    self.expectedInputRows = expectedInputRows
    self.manifest = manifest
    self.shardRows = shardRows
    // `load` validated the shards: contiguous from 0, no overflow.
    open = (0, manifest.nextInputRow)
  }

  /// Removes temporaries and shard files the manifest does not list: the
  /// remains of an interrupted writer, which are rewritten from the input.
  private func removeLeftovers() throws {
    let listed = Set(manifest.shards.flatMap { [$0.features, $0.ids] })
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    for name in names where name.contains(".tmp-") || (name.hasPrefix("shard-") && !listed.contains(name)) {
      Syscalls.remove(directory.appendingPathComponent(name).path)
    }
  }

  /// Appends rows of features and their ids, finishing shards as they fill.
  ///
  /// - Parameters:
  ///   - features: `rows × k` floats, row-major, converted to the store's dtype.
  ///   - ids: `rows` sample ids; nil uses the input row numbers.
  /// - Throws: `.shapeMismatch` when the counts disagree; `.io` on a write failure.
  /// - Complexity: O(rows·k); checksums are computed as the bytes are written.
  public func append(features: UnsafeBufferPointer<Float>, ids: [Int64]? = nil) throws {
    let k = manifest.metadata.k
    guard features.count % k == 0, ids == nil || ids?.count == features.count / k else {
      throw WinnowError.shape(
        "\(directory.path): \(features.count) feature values and \(ids?.count ?? -1) ids "
          + "are not rows of k = \(k)")
    }
    let rows = features.count / k
    let idValues = ids ?? (0..<rows).map { Int64(open.inputStart + open.rows + $0) }
    var done = 0
    while done < rows {
      let take = min(rows - done, shardRows - open.rows)
      try startShardIfNeeded()
      let part = UnsafeBufferPointer(rebasing: features[(done * k)..<((done + take) * k)])
      try self.features?.append(floats: part)
      try self.ids?.append(int64: Array(idValues[done..<(done + take)]))
      open.rows += take
      done += take
      if open.rows == shardRows { try finishShard() }
    }
  }

  private func startShardIfNeeded() throws {
    guard features == nil else { return }
    let (f, i) = shardNames(manifest.shards.count)
    let dtype = manifest.metadata.featureDType ?? .float32
    // The header holds the row count and comes first, so the count must be
    // known before the first row for the hash to be computed while writing.
    var rows = shardRows
    if let total = expectedInputRows, total > open.inputStart { rows = min(rows, total - open.inputStart) }
    features = try NPYWriter(
      url: directory.appendingPathComponent(f), dtype: dtype, rowShape: [manifest.metadata.k],
      expectedRows: rows)
    ids = try NPYWriter(
      url: directory.appendingPathComponent(i), dtype: .int64, rowShape: [], expectedRows: rows)
  }

  private func shardNames(_ index: Int) -> (features: String, ids: String) {
    let digits = String(index)
    let number = String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    return ("shard-\(number).features.npy", "shard-\(number).ids.npy")
  }

  /// Publishes the open shard, if it has rows: both files atomically, then
  /// the manifest listing it with its checksums (computed while writing;
  /// read back only for a shard whose row count was not known in advance).
  public func finishShard() throws {
    guard let f = features, let i = ids, open.rows > 0 else { return }
    try f.finalize()
    try i.finalize()
    features = nil
    ids = nil
    let (fName, iName) = shardNames(manifest.shards.count)
    let (fSums, iSums) = (try f.checksumsOrRead(), try i.checksumsOrRead())
    manifest.shards.append(
      FeatureStoreShard(
        features: fName, ids: iName, rows: open.rows, inputStart: open.inputStart,
        featuresSHA256: fSums.sha256, idsSHA256: iSums.sha256,
        featuresXXH3: fSums.xxh3, idsXXH3: iSums.xxh3))
    try manifest.save(to: directory)
    open = (0, open.inputStart + open.rows)
  }

  /// Finishes the last (possibly short) shard.
  public func close() throws {
    try finishShard()
  }
}
