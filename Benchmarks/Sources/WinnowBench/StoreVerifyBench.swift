import Foundation
import Winnow

/// Warm store figures and the checksum peers, on the store of `benchStore`:
/// - `scoring.store.warm.unverified` and `scoring.store.warm.verified`: GB/s
///   of `winnow score` on the store in the page cache, with `--no-verify` and
///   with the default verification (each block hashed as it is read); the
///   ratio is the cost of verification (issue 15: ≥ 0.9);
/// - `checksum.sha256.winnow`: GB/s of `Checksum.sha256(ofFile:)` (libcrypto)
///   on one warm shard, against `peer.openssl.sha256` (`openssl dgst -sha256`)
///   and beside `peer.sha256sum` (coreutils).
func benchStoreVerification(
  _ report: Report, winnow: String, scoreArgs: [String], store: String, bytes: Int
) throws {
  func scoreSeconds(_ extra: [String]) throws -> Double {
    let run = try runChild(winnow, scoreArgs + extra)
    guard run.status == 0, let elapsed = statsValue(run.stderr, "elapsed:") else {
      throw OptionError("winnow score failed: \(run.stderr)")
    }
    return elapsed
  }
  _ = try scoreSeconds(["--no-verify"])  // brings the store into the page cache
  // Alternate the two, best of three each, so load changes hit both alike.
  var (plain, verified) = (Double.infinity, Double.infinity)
  for _ in 0..<3 {
    plain = min(plain, try scoreSeconds(["--no-verify"]))
    verified = min(verified, try scoreSeconds([]))
  }
  report.add("scoring.store.warm.unverified", Double(bytes) / plain / 1e9, "GB/s",
             note: "winnow score --no-verify, store in the page cache, best of 3, process time included")
  report.add("scoring.store.warm.verified", Double(bytes) / verified / 1e9, "GB/s",
             vs: "scoring.store.warm.unverified",
             note: "the same with verification (default), runs alternated with the unverified ones")

  let shard = store + "/shard-000000.features.npy"
  let size = (try FileManager.default.attributesOfItem(atPath: shard)[.size] as? Int) ?? 0
  let ours = try bestTime(repeats: 3, warmup: 1) { _ = try Checksum.sha256(ofFile: shard) }
  let peers = [("peer.openssl.sha256", "/usr/bin/openssl", ["dgst", "-sha256", shard]),
               ("peer.sha256sum", "/usr/bin/sha256sum", [shard])]
  var first: String?
  for (name, tool, args) in peers where FileManager.default.isExecutableFile(atPath: tool) {
    let t = try bestTime(repeats: 3, warmup: 1) {
      guard try runChild(tool, args).status == 0 else { throw OptionError("\(tool) failed") }
    }
    report.add(name, Double(size) / t / 1e9, "GB/s", note: "\(tool) \(args.dropLast().joined(separator: " ")) of a \(size >> 20) MiB warm shard, process included")
    first = first ?? name
  }
  report.add("checksum.sha256.winnow", Double(size) / ours / 1e9, "GB/s", vs: first,
             note: "Checksum.sha256(ofFile:) (libcrypto EVP, 1 MiB reads) of the same shard")
}
