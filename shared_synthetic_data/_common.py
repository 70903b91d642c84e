"""Pieces every generator shares: the dataset container, defect parsing, stable encoders."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterable, Sequence

DEFAULT_SEED = 7
# Fixed, never "today": output must not depend on the clock. Callers pass the date they need.
DEFAULT_END_DATE = date(2026, 11, 22)


@dataclass(frozen=True)
class Dataset:
    """Generated files (relative path -> bytes) and the record ids each defect touched."""

    domain: str
    seed: int
    size: int
    defects: tuple[str, ...]
    files: dict[str, bytes]
    injected: dict[str, list[str]] = field(default_factory=dict)

    def manifest(self) -> dict:
        return {
            "domain": self.domain,
            "seed": self.seed,
            "size": self.size,
            "defects": list(self.defects),
            "files": sorted(self.files),
            "injected": {name: ids for name, ids in sorted(self.injected.items())},
        }

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write every file plus ``manifest.json`` under ``out_dir``; return the paths written."""
        root = Path(out_dir)
        written = []
        for rel, content in sorted({**self.files, "manifest.json": json_bytes(self.manifest())}.items()):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            written.append(path)
        return written

    def text(self, rel: str) -> str:
        return self.files[rel].decode("utf-8")


def parse_defects(requested: Iterable[str] | str | None, known: Sequence[str]) -> tuple[str, ...]:
    """Normalise a defect list (or comma string) and reject names the domain does not know."""
    if requested is None:
        return ()
    names = requested.split(",") if isinstance(requested, str) else list(requested)
    names = [n.strip() for n in names if n.strip()]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown defect(s) {', '.join(unknown)}; this domain knows: {', '.join(known)}")
    return tuple(n for n in known if n in names)  # canonical order keeps output stable


def check_size(size: int, minimum: int = 1) -> int:
    if size < minimum:
        raise ValueError(f"size must be at least {minimum}, got {size}")
    return size


def json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def jsonl_bytes(objs: Iterable) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in objs).encode("utf-8")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buf.getvalue().encode("utf-8")


def iso_utc(dt) -> str:
    """ISO-8601 with a Z suffix and whole seconds, the way most APIs print UTC."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
