import Winnow

/// Selection figures: `selection.top5pct.<N>` seconds to pick the top 5 %
/// of `N` scores (deterministic, ties by ascending id), at N = 1M and 10M.
func benchSelection(_ report: Report, _ options: Options) throws {
  for n in options.smoke ? [10_000] : [1_000_000, 10_000_000] {
    let scores = filledArray(n, seed: 7)
    let label = poolLabel(n)
    let t = try scores.withUnsafeBufferPointer { s in
      try bestTime { _ = try Selection.top(s, fraction: 0.05) }
    }
    report.add("selection.top5pct.\(label)", t, "s", note: "Selection.top(fraction: 0.05), N = \(n)")
  }
}

/// `1M`, `10M`, `10k`: the pool size as it appears in record names.
func poolLabel(_ n: Int) -> String {
  n >= 1_000_000 ? "\(n / 1_000_000)M" : n >= 1000 ? "\(n / 1000)k" : "\(n)"
}
