/// The distribution of the entries of a random projection matrix.
///
/// Both are JL maps once scaled by `1/√k`: Rademacher (±1, the default) is
/// cheapest to generate; Gaussian (standard normal) matches TRAK's default.
public enum ProjectorKind: String, Codable, Sendable, CaseIterable {
  case rademacher, gaussian
}
