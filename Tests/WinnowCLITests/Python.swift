import Foundation

/// Runs a Python 3 snippet (NumPy available) as an independent reference.
enum Python {
  /// Runs `code` with `args` in `sys.argv[1:]`; returns (status, stdout+stderr).
  @discardableResult
  static func run(_ code: String, _ args: [String] = []) throws -> (status: Int32, output: String) {
    let run = try CLI.spawn("/usr/bin/env", ["python3", "-c", code] + args)
    return (run.status, run.stdout + run.stderr)
  }
}
