"""Measuring visitlens: cross-validation, the blind set, the corpus and benchmarks.

Not part of the product image: the `visitlens eval`, `bench`, `tune` and `figures` commands import
it when they run, so they need a source checkout. Nothing in api/, workers/, knowledge/ or nlp/
imports it otherwise."""
