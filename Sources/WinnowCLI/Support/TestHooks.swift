import Foundation

/// Hooks that let the CLI tests interrupt a command mid-run; not options of
/// the product, so they are read from the environment.
enum TestHooks {
  /// Milliseconds to sleep after each stored shard, from
  /// `WINNOW_TEST_PAUSE_AFTER_SHARD_MS` (0 when unset), so a test can kill
  /// an import mid-ingest.
  static let pauseAfterShardMs: Int =
    ProcessInfo.processInfo.environment["WINNOW_TEST_PAUSE_AFTER_SHARD_MS"].flatMap(Int.init) ?? 0

  /// Sleeps for `pauseAfterShardMs`, if set.
  static func pauseAfterShard() {
    if pauseAfterShardMs > 0 { usleep(UInt32(clamping: pauseAfterShardMs) * 1000) }
  }
}
