import ArgumentParser
import Winnow

/// Refuses output options that name the same file, before anything is
/// written: `--listing` equal to `--output` once replaced the selected ids
/// with the CSV. Sameness is the library's (`SelectionOutputs.firstClash`:
/// the same inode, or the same resolved folder and name).
/// - Parameter outputs: `(option, path)` pairs, e.g. `("--output", output)`.
func checkDistinctOutputs(_ outputs: [(option: String, path: String)]) throws {
  guard let (i, j) = SelectionOutputs.firstClash(outputs.map(\.path)) else { return }
  throw ValidationError(
    "\(outputs[i].option) \(outputs[i].path) and \(outputs[j].option) \(outputs[j].path) "
      + "name the same file: give each output its own path")
}
