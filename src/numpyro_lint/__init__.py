"""numpyro-lint: a linter, language server and smoke runner for NumPyro models."""

__version__ = "0.1.0"
