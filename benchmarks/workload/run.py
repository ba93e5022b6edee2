"""Subprocess entry: run the workload on one package and write its results as JSON.

`python -m benchmarks.workload.run --package ours --out result.json [--n 10000 ...]`, started by
`benchmarks.engine` with each package's own interpreter and the repository root on PYTHONPATH.
"""

import argparse
import io
import json
import platform
import pstats
import sys
from dataclasses import fields
from typing import Optional

from .adapters import ADAPTERS
from .phases import Sizes, Workload


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", required=True, choices=sorted(ADAPTERS))
    parser.add_argument("--out", required=True, help="where to write the JSON result")
    parser.add_argument(
        "--mode",
        choices=("counts", "timing"),
        default="counts",
        help="counts: storage calls per operation; timing: nothing but the operations in the timed loop",
    )
    parser.add_argument("--profile", default=None, help="phase to profile with cProfile")
    parser.add_argument("--profile-out", default=None, help="where to write the profile text")
    for f in fields(Sizes):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=f.default)
    return parser.parse_args(argv)


def profile_text(profiler, limit: int = 30) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("tottime").print_stats(limit)
    return stream.getvalue()


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    sizes = Sizes(**{f.name: getattr(args, f.name) for f in fields(Sizes)})
    sizes.validate()
    adapter = ADAPTERS[args.package]()
    workload = Workload(adapter, sizes, profile_phase=args.profile, count=args.mode == "counts")
    result = workload.run()
    result.update(
        package=args.package,
        version=adapter.version,
        python=platform.python_version(),
        implementation=platform.python_implementation(),
    )
    if workload.profiler is not None and args.profile_out:
        with open(args.profile_out, "w", encoding="utf-8") as fh:
            fh.write(profile_text(workload.profiler))
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
