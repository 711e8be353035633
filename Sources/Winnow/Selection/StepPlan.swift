/// The result of step mode: which rows of a candidate batch to train on.
public struct StepPlan: Sendable, Equatable {
  /// Row indices into the batch, in greedy pick order.
  public var indices: [Int]
  /// One weight per kept row (1: GREATS trains on the plain mean of the kept rows).
  public var weights: [Float]
  /// The marginal gain of each pick, same order.
  public var gains: [Float]
}
