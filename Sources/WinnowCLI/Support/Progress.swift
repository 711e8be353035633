import Foundation

/// A one-line progress meter on standard error, shown only on a terminal so
/// logs and pipes stay clean.
final class Progress {
  private let label: String
  private let total: Int
  private let enabled: Bool
  private let start = Date()
  private var lastDraw = Date.distantPast

  init(_ label: String, total: Int, unit: String = "rows") {
    self.label = label
    self.total = total
    self.unit = unit
    self.enabled = isatty(STDERR_FILENO) == 1
  }

  private let unit: String

  /// Reports `done` of `total`; redraws at most ten times a second.
  func update(_ done: Int) {
    guard enabled else { return }
    let now = Date()
    guard done == total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
    lastDraw = now
    let elapsed = now.timeIntervalSince(start)
    let rate = elapsed > 0 ? Double(done) / elapsed : 0
    let pct = total > 0 ? 100 * Double(done) / Double(total) : 100
    let eta = rate > 0 ? Double(total - done) / rate : 0
    let line = String(
      format: "\r%@: %d/%d %@ (%.0f%%, %.0f %@/s, %.0fs left)  ", label, done, total, unit, pct,
      rate, unit, eta)
    FileHandle.standardError.write(Data(line.utf8))
  }

  /// Ends the line.
  func finish() {
    guard enabled else { return }
    FileHandle.standardError.write(Data("\n".utf8))
  }
}
