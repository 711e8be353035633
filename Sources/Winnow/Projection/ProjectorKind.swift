/// The distribution of the entries of a random projection matrix.
///
/// `rademacher` draws ±1 (the default: cheapest to generate, same JL
/// guarantee); `gaussian` draws standard normal entries. Either way the entry
/// at `(i, j)` is a pure function of `(seed, i, j)` (DESIGN.md §2.1).
public enum ProjectorKind: String, Codable, Sendable, CaseIterable {
  case rademacher, gaussian
}
