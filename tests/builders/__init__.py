"""Test data builders (small hand-made or generated inputs), kept out of the library so that editing one reruns
no pipeline stage. Tests import them as ``from tests.builders import ...`` (pyproject sets pytest's pythonpath)."""
