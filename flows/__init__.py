"""Prefect flows: thin orchestration over the revisit package (see prefect.yaml)."""
