import ArgumentParser

/// The feature-store options that `winnow project --store` and
/// `winnow store import` share: ids, shard size and the checkpoint recorded
/// in the manifest.
///
/// `--store` itself stays with each command: `project` writes a store or a
/// file, `store import` always a store.
struct StoreOptions: ParsableArguments {
  @Option(name: .long, help: "Sample ids for the store, .npy (N,) of integers (default: row numbers).")
  var ids: String?

  @Option(name: .customLong("shard-rows"), help: "Rows per store shard.")
  var shardRows: Int = 65_536

  @Option(name: .long, help: "Checkpoint label recorded in the store's manifest.")
  var checkpoint: String = ""

  @Option(name: .long, help: "Checkpoint weight (e.g. the epoch's mean learning rate) for the store.")
  var weight: Double = 1

  func validate() throws {
    guard shardRows > 0 else { throw ValidationError("--shard-rows must be positive") }
  }
}
