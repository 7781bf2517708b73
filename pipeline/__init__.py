"""In Step: do local criminal justice partnerships make a difference? A reproducible pipeline."""
__version__ = "0.1.0"
