"""Shared fixtures. Tests never touch data/processed of the working tree unless they say so."""
from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")
