"""Drift maps: how far each micro-variant moves a model (optional extra: `pip install -e '.[drift]'`)."""
