import CWinnowABI
import Winnow

// Versions, statuses and BLAS settings: the entry points without a handle.

/// The ABI this implementation provides; must equal `WN_ABI_VERSION`.
let abiVersion: UInt32 = 1

/// Computed once and never written again: C callers may keep the pointers.
nonisolated(unsafe) let versionText = StaticText.make(Runtime.version)
nonisolated(unsafe) let coreNameText = StaticText.make(Runtime.blasCoreName)

@c @implementation
public func wn_version() -> UnsafePointer<CChar>? { versionText }

@c @implementation
public func wn_abi_version() -> UInt32 { abiVersion }

/// The texts of `wn_status_string`: `WinnowError.Code.names` and "ok",
/// built once (read-only afterwards).
nonisolated(unsafe) let statusTexts: [Int32: UnsafePointer<CChar>] = Dictionary(
  uniqueKeysWithValues: WinnowError.Code.names.map { ($0.key.rawValue, StaticText.make($0.value)) }
    + [(Int32(0), StaticText.literal("ok"))])

@c @implementation
public func wn_status_string(_ status: Int32) -> UnsafePointer<CChar>? {
  statusTexts[status] ?? StaticText.literal("unknown status")
}

@c @implementation
public func wn_last_error() -> UnsafePointer<CChar>? { ThreadError.current }

@c @implementation
public func wn_blas_core_name() -> UnsafePointer<CChar>? { coreNameText }

@c @implementation
public func wn_blas_threads() -> Int32 { Int32(clamping: Runtime.blasThreads) }

@c @implementation
public func wn_set_blas_threads(_ threads: Int32) -> Int32 {
  status {
    guard (1...1024).contains(threads) else {
      throw WinnowError(.invalidArgument, "BLAS thread count \(threads) is outside 1...1024")
    }
    try Runtime.setBLASThreads(Int(threads))
  }
}
