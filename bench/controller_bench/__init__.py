"""The controller benchmarks behind ``python bench/bench_controller.py``, one module per job.

markets (the synthetic world), probe (timing hooks and attribution), session (set-up and
exchange-side checks), whatif (experimental patches), stats, report, and one module per
run: latency, churn, scaling. Benchmark code only: nothing in controller/ imports it.
"""
