"""kgrec's version, in a module of its own so that anything may read it without importing the package's names."""

__version__ = "0.2.0"
