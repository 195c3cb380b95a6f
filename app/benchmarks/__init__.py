"""Benchmarks by organisation type: where an organisation stands among organisations like it,
from a snapshot, as aggregates that pass the disclosure rule (docs/security.md)."""
