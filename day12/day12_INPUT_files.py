"""Reading the file to validate: CSV or Parquet, with one clear message when it cannot be read."""
from __future__ import annotations

import hashlib
import re
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
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        if not isinstance(df.index, pd.RangeIndex):  # the first row had surplus fields: pandas made them an index
            raise day12_InputError(f"{path}: the first data row has {df.index.nlevels} field(s) more than the header's "
                                   f"{len(df.columns)}; every column would be shifted (is a header name missing?)")
        return df
    except UnicodeDecodeError:
        offset, line = day12_first_invalid_utf8(path)
        raise day12_InputError(f"{path}: not UTF-8 (byte {offset:,}, line {line:,}); re-export the file as UTF-8") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
        if isinstance(exc, day12_InputError):
            raise
        # a parser's own text can quote the offending cell: only its structural messages are passed on
        detail = str(exc).splitlines()[0][:200] if isinstance(exc, pd.errors.ParserError) and _STRUCTURAL.match(str(exc)) else ""
        raise day12_InputError(f"{path}: unreadable ({type(exc).__name__}{': ' + detail if detail else ''})") from None


_STRUCTURAL = re.compile(r"^Error tokenizing data\. C error: Expected \d+ fields in line \d+, saw \d+\s*$")


def day12_first_invalid_utf8(path: Path) -> tuple[int, int]:
    """(byte offset, 1-based line) of the first byte that is not UTF-8. pandas reports the offset inside its
    read chunk, which is not where the byte is in the file."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed, lines = 0, 1
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            carried, _ = decoder.getstate()  # the incomplete sequence held back from the previous chunk
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                before = (carried + chunk)[:exc.start]
                return consumed - len(carried) + exc.start, lines + before.count(b"\n") - carried.count(b"\n")
            consumed += len(chunk)
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:  # the file ends inside a multi-byte sequence
            carried, _ = decoder.getstate()
            return consumed - len(carried) + exc.start, lines
    return 0, 1


def day12_detect_dataset(df, path: Path, requested: str | None) -> str:
    """The dataset the columns belong to; a file that matches neither cannot be validated (wrong columns)."""
    if requested:
        return requested
    columns = set(map(str, df.columns))
    for dataset, expected in DAY12_DATASET_COLUMNS.items():
        if len(columns & set(expected)) >= len(expected) // 2 + 1:
            return dataset
    # the header row may be data (a file without one): count the columns, never echo their names
    known = {dataset: len(columns & set(expected)) for dataset, expected in DAY12_DATASET_COLUMNS.items()}
    raise day12_InputError(f"{path}: the {len(df.columns)} columns match neither security_events "
                           f"({known['security_events']} of its {len(DAY12_EVENT_COLUMNS)}) nor vulnerability_scan "
                           f"({known['vulnerability_scan']} of its {len(DAY12_VULN_COLUMNS)}); is the header row missing? "
                           f"Pass --dataset to force one")


def day12_mask_columns(df, dataset: str):
    """Columns outside the dataset's schema renamed by position (unexpected_column_4): a header that is not the
    schema's may be data (a file without a header row), and GX reports the observed columns verbatim."""
    expected, seen = set(DAY12_DATASET_COLUMNS[dataset]), set()
    names = []
    for position, name in enumerate(map(str, df.columns), start=1):
        names.append(name if name in expected and name not in seen else f"unexpected_column_{position}")
        seen.add(name)
    if names != list(map(str, df.columns)):
        df = df.set_axis(names, axis=1)
    return df


def day12_unexpected_column_count(df, dataset: str) -> int:
    return sum(str(c).startswith("unexpected_column_") for c in day12_mask_columns(df, dataset).columns)
