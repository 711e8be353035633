import Foundation

/// Hooks that let the CLI tests interrupt a command mid-run; not options of
/// the product, so they are read from the environment.
enum TestHooks {
  /// Milliseconds to sleep after each stored shard, from
  /// `WINNOW_TEST_PAUSE_AFTER_SHARD_MS` (0 when unset), so a test can kill
  /// an import mid-ingest.
  static let pauseAfterShardMs = milliseconds("WINNOW_TEST_PAUSE_AFTER_SHARD_MS")

  /// Milliseconds to sleep after each projected row block, from
  /// `WINNOW_TEST_PAUSE_AFTER_BLOCK_MS` (0 when unset), so a test can kill
  /// a projection mid-run.
  static let pauseAfterBlockMs = milliseconds("WINNOW_TEST_PAUSE_AFTER_BLOCK_MS")

  /// Sleeps for `pauseAfterShardMs`, if set.
  static func pauseAfterShard() { pause(pauseAfterShardMs) }

  /// Sleeps for `pauseAfterBlockMs`, if set.
  static func pauseAfterBlock() { pause(pauseAfterBlockMs) }

  private static func milliseconds(_ variable: String) -> Int {
    ProcessInfo.processInfo.environment[variable].flatMap(Int.init) ?? 0
  }

  private static func pause(_ ms: Int) {
    // Thread.sleep: `usleep`'s UInt32 microseconds overflow past ~71 minutes.
    if ms > 0 { Thread.sleep(forTimeInterval: Double(ms) / 1000) }
  }
}
