"""The package's version: one constant, importable without the rest of the package."""

__version__ = "0.1.0"
