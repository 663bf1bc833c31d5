"""Performance benchmarks; each module writes benchmarks/results/<name>.json."""
