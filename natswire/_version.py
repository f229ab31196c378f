"""natswire's version: a leaf module, so any layer can read it without loading the others."""

__version__ = "0.1.0"
