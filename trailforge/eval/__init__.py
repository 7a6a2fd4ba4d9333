"""Evaluation: does a causal LM follow a version's tracks? (`trailforge eval`, docs/eval.md)

`measures` holds the pure measures over a scorer (a causal LM loaded by `trailforge.lm`), `report`
samples a version's held-out families, runs the measures and writes eval.json and eval.png.
"""
