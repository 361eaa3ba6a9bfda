"""A synthetic dealer group for demos and benchmarks (deterministic per seed)."""
