"""Benchmarks, kept apart from the tests (STYLE.md §11).

Each module here with a `SUITE` name and a `run(progress) -> dict` function is a suite;
`akida-edge bench` discovers and runs them. Figures are measured, never asserted: the tests do not
time anything.
"""
