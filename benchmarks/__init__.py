"""Baton's benchmark: ``python -m benchmarks`` (see docs/performance.md).

Measures Baton against plain Oban and Celery in one run and prints medians and ratios.
Benchmark-only dependencies live in the ``bench`` extra (``pip install -e '.[bench]'``).
"""
