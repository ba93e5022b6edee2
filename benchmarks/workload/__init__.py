"""The engine workload, run in a subprocess per package (standard library only)."""
