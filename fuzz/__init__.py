"""Fuzzing for natswire's protocol layer: ``python -m fuzz --seconds N``.

This package must not import natswire at import time: the atheris entry point
imports natswire itself, under coverage instrumentation. See README.md.
"""
