"""
The sockservice benchmark: a C load generator, peer servers, and the harness
that measures them in one run (C{python bench/run.py}; see bench/README.md).
"""
