"""AvED-Bench: run the benchmark resumably (one process or many), sweep settings, and report the numbers.

The entry points live in the submodules so that `aved bench report` does not import torch:
`aved.bench.run.run_command`, `aved.bench.run.run_benchmark`, `aved.bench.results.merge_results`,
`aved.bench.sweep.expand_sweep`, `aved.bench.report.write_report`.
"""
