import ArgumentParser
import Foundation
import Winnow

/// `winnow replay`: re-runs the selection a manifest describes and reports
/// whether its outputs are byte-identical to the recorded ones.
struct Replay: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Re-run a recorded selection from its manifest and compare the outputs byte for byte.",
    discussion: """
      MANIFEST is the JSON manifest of `winnow select --manifest` or of `python -m winnow.ray \
      score-select --manifest`. First every recorded input is checked against its SHA-256 \
      (for a Ray run: each store's manifest.json and every shard file, the targets and the \
      target groups); each changed input is reported by name (a missing one is an error). \
      Then the selection runs again, from the inputs as they are now, with the recorded rule (a Ray run: `winnow score` on the stores, then \
      `winnow select`), into --scratch, and each recorded output (ids, listing) is compared \
      with the replayed one: `identical`, or the first difference (file, byte, and the row \
      of the ids or the line of the listing).

      Relative paths in the manifest are taken from the current folder, else from the \
      manifest's folder. Exit status: 0 when every input is unchanged and every output \
      identical, 1 when an input changed or an output differs, another nonzero status \
      when the replay could not run.
      """
  )

  @Argument(help: "The selection manifest (JSON) to replay.")
  var manifest: String

  @Option(name: .long, help: "Folder for the replayed outputs (created; default: a new temporary folder).")
  var scratch: String?

  func run() throws {
    let recorded = try RecordedSelection(manifestPath: manifest)
    let changes = try recorded.checkInputs()
    for change in changes { print(change) }
    let folder = try scratchFolder()
    let outputs = try recorded.rerun(into: folder)
    var different = false
    for (name, replayed) in outputs {
      guard let original = recorded.outputPath(name) else { continue }
      let verdict = try OutputComparison.compare(recorded: original, replayed: replayed)
      print("\(name): \(verdict.description)")
      different = different || !verdict.isIdentical
    }
    different = different || !changes.isEmpty
    print(different ? "replay differs (outputs in \(folder))" : "replay identical (outputs in \(folder))")
    if different { throw ExitCode(1) }
  }

  private func scratchFolder() throws -> String {
    let path = scratch ?? FileManager.default.temporaryDirectory
      .appendingPathComponent("winnow-replay-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))").path
    do {
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
      throw WinnowError(.io, "\(path): cannot create the scratch folder: \(error.localizedDescription)")
    }
    return path
  }
}
