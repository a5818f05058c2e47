"""Benchmarks (SPEC §10): each module runs on its own, e.g. `.venv/bin/python benchmarks/api_list.py`."""
