"""LHS asset-mapping service: organisations map their learning health system assets."""

__version__ = "0.1.0"
