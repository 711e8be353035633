#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Streams features read from another tool's files into a Winnow feature
/// store: resumable, checksummed, and invisible until whole.
///
/// Rows go through `FeatureStoreWriter` into `<store>.importing`, which is
/// renamed to `<store>` only when every row is in: a failed or interrupted
/// import never leaves a half store under the store's name, and rerunning
/// the same import resumes in the staging directory after its last complete
/// shard (same shards, byte for byte, as an uninterrupted run).
public enum FeatureImporter {
  /// Bytes of one block of rows converted in memory at a time.
  static let blockBytes = 32 << 20

  /// The staging directory of `store`.
  public static func stagingDirectory(of store: URL) -> URL {
    store.deletingLastPathComponent().appendingPathComponent(store.lastPathComponent + ".importing")
  }

  /// Imports every row of `source` into the store at `store`.
  ///
  /// - Parameters:
  ///   - source: `N × k` features (`k == metadata.k`).
  ///   - ids: `N` sample ids, or nil for the row numbers.
  ///   - metadata: the store's metadata (with its `source`).
  ///   - shardRows: rows per shard, `> 0`.
  ///   - afterBlock: called with (rows done, N) after each block.
  /// - Returns: the finished store (its checksums computed from the written files).
  /// - Throws: `.invalidArgument` when `store` already holds a different
  ///   store; `.shapeMismatch` for ids or k that do not fit; errors of the
  ///   source (naming its file) and of the writer.
  /// - Complexity: O(N·k) time; O(min(shardRows, 32 MiB / 4k)·k) memory.
  @discardableResult
  public static func importRows(
    from source: any FeatureSource, ids: [Int64]? = nil, into store: URL,
    metadata: FeatureStoreMetadata, shardRows: Int = 65_536,
    afterBlock: (Int, Int) -> Void = { _, _ in }
  ) throws -> FeatureStore {
    let n = source.rowCount, k = source.dim
    guard k == metadata.k else {
      throw WinnowError.shape("\(source.label): rows of \(k) features, the store's metadata says k = \(metadata.k)")
    }
    if let ids, ids.count != n {
      throw WinnowError.shape("\(source.label): \(ids.count) ids for \(n) rows")
    }
    if FeatureStore.isStore(store) { return try existing(store, metadata: metadata, rows: n) }
    let staging = stagingDirectory(of: store)
    let writer = try FeatureStoreWriter.openOrCreate(directory: staging, metadata: metadata, shardRows: shardRows)
    let blockRows = max(1, min(shardRows, blockBytes / (4 * k)))
    var block = [Float](repeating: 0, count: blockRows * k)
    var start = writer.nextInputRow
    while start < n {
      let rows = start..<min(start + blockRows, n)
      try block.withUnsafeMutableBufferPointer { b in
        guard let base = b.baseAddress else { return }
        try source.readRows(rows, into: base)
        try writer.append(
          features: UnsafeBufferPointer(rebasing: b[0..<(rows.count * k)]),
          ids: ids.map { Array($0[rows]) } ?? rows.map(Int64.init))
      }
      source.release(rows: rows)
      start = rows.upperBound
      afterBlock(start, n)
    }
    try writer.close()
    try Syscalls.renameAtomically(staging.path, to: store.path)
    try Syscalls.syncDirectory(store.deletingLastPathComponent().path)
    // The writer hashed each shard from its file just now: no second pass.
    return try FeatureStore(directory: store, verifyChecksums: false)
  }

  /// A store already at `store`: accepted when it is this very import, done.
  private static func existing(_ store: URL, metadata: FeatureStoreMetadata, rows: Int) throws -> FeatureStore {
    let done = try FeatureStore(directory: store)
    guard done.metadata == metadata, done.rowCount == rows else {
      throw WinnowError.invalid(
        "\(store.path): a different store is already there (\(done.rowCount) rows, \(done.metadata)); "
          + "choose a new --store")
    }
    return done
  }
}
