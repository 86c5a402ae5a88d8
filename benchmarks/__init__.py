"""Benchmarks run by ``nox -s bench``: they print tables and write JSON reports, never assert."""
