extension Matrix {
  /// Traps unless the shape and the storage agree: non-negative `rows` and
  /// `cols`, and exactly `rows * cols` elements.
  ///
  /// Compiled in debug builds only; a no-op in release.
  package func _checkInvariants() {
    #if DEBUG
      precondition(rows >= 0 && cols >= 0, "Matrix: negative shape \(rows) × \(cols)")
      precondition(
        storage.count == rows * cols,
        "Matrix: \(storage.count) elements for \(rows) × \(cols)")
    #endif
  }
}
