import ArgumentParser
import Winnow

/// The `winnow` command: offline projection, scoring and selection of
/// candidate pools stored as NumPy `.npy` files.
@main
struct WinnowCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "winnow",
    abstract: "Training-time data selection: project, score and select samples by gradient similarity.",
    discussion: """
      Arrays are NumPy .npy files (little-endian <f4, <f2, <i8, <u8, <i4; C order), \
      read by memory map, so pools may be far larger than memory.
      """,
    version: Runtime.version,
    subcommands: [Project.self, Score.self, Select.self, Store.self, Info.self, Replay.self]
  )
}
