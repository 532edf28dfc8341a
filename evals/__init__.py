"""Measuring visitlens: cross-validation, the blind set, the corpus and benchmarks.

Not part of the product image; the `visitlens eval`, `tune` and `figures` commands import it when
it is present."""
