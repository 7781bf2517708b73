"""Test data builders (the library holds no fixtures): tests import ``from tests.builders.X import ...``."""
