"""Benchmarks: run each as a script; results go to RESULTS.md.

A regular package on purpose: pysbd installs a top-level ``benchmarks`` package of its own,
which would otherwise shadow this folder's namespace package in the tests' imports.
"""
