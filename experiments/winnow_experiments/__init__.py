"""Benchmarks of Winnow's selection strategies on real data (Debian's fortunes).

``e1_targeted`` (LESS-style targeted selection for a byte LM), ``e2_noisy``
(noisy-label language identification, the engine driving the loop every
epoch) and ``e3_mixture`` (learned domain mixtures) run grids through
``harness`` and ``report``; every Winnow call goes through ``winnow_bridge``.
Entry point: ``experiments/run.py``.
"""
