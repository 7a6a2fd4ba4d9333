"""Evaluation: does a causal LM follow a version's tracks? (`trailforge eval`, docs/eval.md)

`measures` holds the pure measures over a scorer, `scorer` loads a causal LM as one, `report`
samples a version's held-out families, runs the measures and writes eval.json and eval.png.
"""
