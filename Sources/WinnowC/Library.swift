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

@c @implementation
public func wn_status_string(_ status: Int32) -> UnsafePointer<CChar>? {
  switch status {
  case 0: StaticText.literal("ok")
  case -1: StaticText.literal("invalid argument")
  case -2: StaticText.literal("shape mismatch")
  case -3: StaticText.literal("non-finite value")
  case -4: StaticText.literal("I/O error")
  case -5: StaticText.literal("malformed file")
  case -6: StaticText.literal("out of memory")
  case -7: StaticText.literal("call out of order")
  case -8: StaticText.literal("unsupported")
  case -9: StaticText.literal("numerical failure")
  case -10: StaticText.literal("null pointer")
  case -11: StaticText.literal("buffer too small")
  case -99: StaticText.literal("internal error")
  default: StaticText.literal("unknown status")
  }
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
