"""Run reference runs from the command line: ``python -m cnnbook.records NAME [NAME ...] | --all | --list``."""
from __future__ import annotations

import argparse
import sys

from cnnbook.records import get_record, registry, run_record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnbook.records", description=__doc__)
    parser.add_argument("names", nargs="*", help="records to run (see --list)")
    parser.add_argument("--all", action="store_true", help="run every registered record")
    parser.add_argument("--list", action="store_true", help="list the records and their claims")
    parser.add_argument("--quick", action="store_true",
                        help="one epoch on a tiny split, two seeds: checks a record runs (never overwrites it)")
    parser.add_argument("--out", help="folder to write NAME.json to (default: cnnbook/benchmarks, or a temporary "
                                      "folder with --quick)")
    parser.add_argument("--jobs", type=int, default=None, help="processes side by side (default: one per core)")
    args = parser.parse_args(argv)
    if args.list:
        for name, record in sorted(registry().items()):
            print(f"{name:28} chapter {record.chapter:16} {len(record.arms)} arms  {record.claim}")
        return 0
    names = sorted(registry()) if args.all else args.names
    if not names:
        parser.error("name a record (see --list) or pass --all")
    try:
        for name in names:
            get_record(name)
    except ValueError as err:
        parser.error(str(err))
    for name in names:
        out = None if args.out is None else f"{args.out.rstrip('/')}/{name}.json"
        run_record(name, quick=args.quick, out=out, jobs=args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
