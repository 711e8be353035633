extension Selection {
  /// The `k`-th largest value of `scores` (1-based), by iterative quickselect
  /// on a copy with median-of-three pivots.
  ///
  /// - Complexity: O(N) expected time, O(N) extra memory.
  static func kthLargest(_ scores: UnsafeBufferPointer<Float>, k: Int) -> Float {
    var values = Array(scores)
    let target = k - 1  // index in descending order
    return values.withUnsafeMutableBufferPointer { v -> Float in
      var lo = 0, hi = v.count - 1
      while lo < hi {
        let mid = lo + (hi - lo) / 2
        // Median of three as the pivot guards against sorted inputs.
        let a = v[lo], b = v[mid], c = v[hi]
        let pivot = max(min(a, b), min(max(a, b), c))
        var i = lo, j = hi
        while i <= j {  // Hoare partition, descending
          while v[i] > pivot { i += 1 }
          while v[j] < pivot { j -= 1 }
          if i <= j {
            v.swapAt(i, j)
            i += 1
            j -= 1
          }
        }
        if target <= j {
          hi = j
        } else if target >= i {
          lo = i
        } else {
          return v[target]  // between j and i: equal to the pivot
        }
      }
      return v[target]
    }
  }
}
