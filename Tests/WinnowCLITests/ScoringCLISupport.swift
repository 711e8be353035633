import Foundation
import Testing

/// A scratch folder for one CLI test, removed at the end.
final class Workspace {
  let url: URL
  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(at: url) }

  func path(_ name: String) -> String { url.appendingPathComponent(name).path }
  func data(_ name: String) throws -> Data { try Data(contentsOf: url.appendingPathComponent(name)) }

  /// Runs a NumPy script with this folder as the working directory; returns stdout.
  @discardableResult
  func python(_ script: String) throws -> String {
    let run = try spawn("/usr/bin/env", ["python3", "-c", "import numpy as np\n" + script])
    guard run.status == 0 else { throw CLIError(message: "python failed: \(run.stderr)") }
    return run.stdout
  }

  /// Runs `winnow` here, with `environment` added to this process's.
  func winnow(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIRun {
    try spawn(CLI.executable.path, arguments, environment: environment)
  }

  func spawn(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CLIRun {
    try CLI.spawn(executable, arguments, environment: environment, directory: url)
  }

}

struct CLIError: Error { var message: String }

/// Expects a run to fail with an `error:` line on stderr containing `text`.
func expectFailure(_ run: CLIRun, mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation) {
  #expect(run.status != 0, "exit status \(run.status)", sourceLocation: sourceLocation)
  let err = run.stderr.lowercased()
  #expect(err.contains("error:") && err.contains(text.lowercased()), "stderr: \(run.stderr)", sourceLocation: sourceLocation)
}
