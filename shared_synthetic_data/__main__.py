"""python -m shared_synthetic_data <domain> --seed 7 --size 10000 --defects pii,duplicates --out DIR"""
from __future__ import annotations

import argparse
import sys
from datetime import date

from shared_synthetic_data import DEFAULT_END_DATE, DEFAULT_SEED, DOMAINS, load_domain


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared_synthetic_data",
        description="Write a seeded, deterministic synthetic dataset (same arguments, same bytes).",
    )
    parser.add_argument("domain", choices=DOMAINS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--size", type=int, help="records to generate (each domain documents its unit)")
    parser.add_argument("--defects", default="", help="comma-separated defect names; 'list' shows them")
    parser.add_argument("--end-date", type=date.fromisoformat, default=DEFAULT_END_DATE,
                        help=f"last day of data, YYYY-MM-DD (default {DEFAULT_END_DATE})")
    parser.add_argument("--out", default="synthetic_output", help="output folder (default ./synthetic_output)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    module = load_domain(args.domain)
    if args.defects == "list":
        print(f"{args.domain} defects: {', '.join(module.DEFECTS)}")
        return 0
    try:
        dataset = module.generate(seed=args.seed, size=args.size or module.DEFAULT_SIZE,
                                  defects=args.defects, end_date=args.end_date)
    except ValueError as exc:
        parser.error(str(exc))  # one line on stderr, exit 2
    written = dataset.write(args.out)
    print(f"{args.domain}: wrote {len(written)} files to {args.out} "
          f"(seed={args.seed}, size={dataset.size}, defects={','.join(dataset.defects) or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
