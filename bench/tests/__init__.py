"""
Tests for the benchmark harness's pure parts.  The benchmark itself never runs
in them: C{python -m pytest bench/tests}.
"""
