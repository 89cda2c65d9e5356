"""Prepare benchmark data: `python pipeline/prepare_data.py gsm8k [more names]`, or `--list` to see them all."""

from __future__ import annotations

import argparse
import sys

from nemo_pipeline.datasets import BENCHMARKS, UserFile, is_prepared, prepare
from nemo_pipeline.errors import NemoPipelineError


def _table() -> str:
    header = ("benchmark", "items", "prepared", "grader", "source", "license")
    rows = [header]
    for name in BENCHMARKS:
        benchmark = BENCHMARKS.get(name)
        source = benchmark.source
        if isinstance(source, UserFile):
            state = "present" if source.is_available() else "missing: see docs/DATASETS.md"
            where = f"user file {source.target_dir() / source.filenames[0]} ({state})"
        else:
            where = source.description
        prepared = "yes" if is_prepared(name) else "no"
        rows.append((name, str(benchmark.num_items), prepared, benchmark.grader, where, source.license))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("benchmarks", nargs="*", help=f"names: {', '.join(BENCHMARKS.names())}")
    parser.add_argument("--list", action="store_true", help="show every benchmark, its source and license")
    parser.add_argument("--force", action="store_true", help="rebuild the data files even when current")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    if args.list:
        print(_table())
        return 0
    if not args.benchmarks:
        parser.error("name at least one benchmark, or pass --list")
    failed = 0
    for name in args.benchmarks:
        try:
            path = prepare(name, force=args.force)
        except NemoPipelineError as exc:
            if args.debug:
                raise
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
