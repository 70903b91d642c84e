"""Reading the file to validate: CSV or Parquet, with one clear message when it cannot be read."""
from __future__ import annotations

import hashlib
from pathlib import Path

from day12_SUITES_security import DAY12_EVENT_COLUMNS, DAY12_VULN_COLUMNS

DAY12_DATASET_COLUMNS = {"security_events": DAY12_EVENT_COLUMNS, "vulnerability_scan": DAY12_VULN_COLUMNS}


class day12_InputError(ValueError):
    """The input cannot be validated at all (exit code 3)."""


def day12_content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def day12_read_input(path: Path):
    """The file as text columns (no type guessing: the suite judges the values)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise day12_InputError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path).astype("string").astype(object)
        if path.suffix.lower() != ".csv":
            raise day12_InputError(f"{path}: unsupported file type {path.suffix!r} (expected .csv or .parquet)")
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise day12_InputError(f"{path}: not UTF-8 (byte {exc.start}); re-export the file as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
        if isinstance(exc, day12_InputError):
            raise
        raise day12_InputError(f"{path}: unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None


def day12_detect_dataset(df, path: Path, requested: str | None) -> str:
    """The dataset the columns belong to; a file that matches neither cannot be validated (wrong columns)."""
    if requested:
        return requested
    columns = set(df.columns)
    for dataset, expected in DAY12_DATASET_COLUMNS.items():
        if len(columns & set(expected)) >= len(expected) // 2 + 1:
            return dataset
    raise day12_InputError(f"{path}: columns {', '.join(sorted(columns))[:300]} match neither security_events "
                           f"nor vulnerability_scan; pass --dataset to force one")
