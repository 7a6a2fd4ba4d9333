"""Worlds: arguments generated from a small defeasible rule language, true by construction.

`logic` is the rule language and its solver; `generate` tells world programs as frames from word
banks (content/worlds/banks.yaml). See docs/worlds.md.
"""
