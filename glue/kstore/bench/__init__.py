"""The benchmarks behind `kstore bench <name>`: each measures a path of kstore against a
baseline run on the same machine in the same run, and prints ratios, never pass/fail times.

writer (the gatherer's batch writer), capture (simulator → gatherer → rows), dedup (the merge of
three gatherers and its lag), export (production → verified Parquet). Each module exposes
`add_arguments(parser)` and `run(args, settings)`, like every command; `measure` holds what they
report the same way: the true median of the runs and the CPU seconds of each process.
"""
