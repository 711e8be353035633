import CWinnowABI
#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
import Winnow

// wn_store_*: a thin translation of `FeatureStore`.

/// What a store handle holds: the open store and, once asked for, its ids.
struct OpenStore {
  var store: FeatureStore
  var ids: [Int64]?
}

@c @implementation
public func wn_store_open(
  _ out: UnsafeMutablePointer<OpaquePointer?>?, _ directory: UnsafePointer<CChar>?, _ shard: Int64,
  _ verify: Int32
) -> Int32 {
  status {
    let out = try Check.present(out, "out")
    out.pointee = nil
    let directory = String(cString: try Check.present(directory, "directory"))
    let modes: [Int32: FeatureStore.Verification] = [0: .none, 1: .whileReading, 2: .whenOpened]
    guard let verification = modes[verify] else {
      throw WinnowError(
        .invalidArgument,
        "verify \(verify) is not WN_VERIFY_NONE (0), WN_VERIFY_WHILE_READING (1) or WN_VERIFY_WHEN_OPENED (2)")
    }
    let store = try FeatureStore(
      directory: URL(fileURLWithPath: directory), verification: verification,
      shard: shard < 0 ? nil : (shard > Int64(Int.max) ? Int.max : Int(shard)))
    out.pointee = Registry.open(Handle(OpenStore(store: store, ids: nil)), as: .store)
  }
}

@c @implementation
public func wn_store_free(_ store: OpaquePointer?) {
  Registry.close(store, as: .store, type: OpenStore.self)
}

@c @implementation
public func wn_store_last_error(_ store: OpaquePointer?) -> UnsafePointer<CChar>? {
  lastError(store, as: .store, OpenStore.self)
}

@c @implementation
public func wn_store_dims(
  _ store: OpaquePointer?, _ outRows: UnsafeMutablePointer<Int>?, _ outK: UnsafeMutablePointer<Int>?,
  _ outShards: UnsafeMutablePointer<Int>?
) -> Int32 {
  call(store, .store) { (h: Handle<OpenStore>) in
    let s = h.value.store
    outRows?.pointee = s.rowCount
    outK?.pointee = s.dim
    outShards?.pointee = s.shards.count
  }
}

/// Checks a row range of the store against its size and a caller's buffer.
private func rowRange(
  _ s: FeatureStore, _ row: Int, _ rows: Int, perRow: Int, capacity: Int, _ name: String
) throws -> Range<Int> {
  let row = try Check.count(row, "row"), rows = try Check.count(rows, "rows")
  guard rows >= 1 else { throw WinnowError(.invalidArgument, "rows is 0: nothing to read") }
  guard row <= s.rowCount, rows <= s.rowCount - row else {
    throw WinnowError(
      .shapeMismatch, "rows \(row)..<\(UInt(row) + UInt(rows)) are past the store's \(s.rowCount) rows")
  }
  try Check.capacity(capacity, try Check.product(rows, perRow, name), name)
  return row..<(row + rows)
}

@c @implementation
public func wn_store_read_f32(
  _ store: OpaquePointer?, _ row: Int, _ rows: Int, _ out: UnsafeMutablePointer<Float>?,
  _ capacity: Int
) -> Int32 {
  call(store, .store) { (h: Handle<OpenStore>) in
    let s = h.value.store
    let out = try Check.present(out, "out")
    try s.readRows(try rowRange(s, row, rows, perRow: s.dim, capacity: capacity, "out"), into: out)
  }
}

@c @implementation
public func wn_store_ids(
  _ store: OpaquePointer?, _ row: Int, _ rows: Int, _ out: UnsafeMutablePointer<Int64>?,
  _ capacity: Int
) -> Int32 {
  call(store, .store) { (h: Handle<OpenStore>) in
    let out = try Check.present(out, "out")
    let range = try rowRange(h.value.store, row, rows, perRow: 1, capacity: capacity, "out")
    if h.value.ids == nil { h.value.ids = try h.value.store.ids() }
    for (i, id) in h.value.ids![range].enumerated() { out[i] = id }
  }
}

@c @implementation
public func wn_store_finish_verification(_ store: OpaquePointer?) -> Int32 {
  call(store, .store) { (h: Handle<OpenStore>) in try h.value.store.finishVerification() }
}
