"""Seeded, deterministic synthetic data in the shapes of the real APIs the days consume.

One module per domain (retail, security, compliance, transport, saas). Each exposes
``DEFECTS``, ``DEFAULT_SIZE`` and ``generate(seed=..., size=..., defects=..., end_date=...)``
returning a :class:`Dataset`; the same arguments always give byte-identical files.
The CLI: ``python -m shared_synthetic_data <domain> --seed 7 --size 1000 --defects a,b --out DIR``.
"""
from shared_synthetic_data._common import DEFAULT_END_DATE, DEFAULT_SEED, Dataset

DOMAINS = ("retail", "security", "compliance", "transport", "saas")

__all__ = ["DEFAULT_END_DATE", "DEFAULT_SEED", "DOMAINS", "Dataset", "load_domain"]


def load_domain(name: str):
    """The generator module for a domain name, imported on demand."""
    if name not in DOMAINS:
        raise ValueError(f"unknown domain {name!r}; expected one of {', '.join(DOMAINS)}")
    import importlib

    return importlib.import_module(f"shared_synthetic_data.{name}")
