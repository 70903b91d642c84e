"""Data Docs that open from a file:// URL with no network.

GX's pages load jQuery, Bootstrap, bootstrap-table, Font Awesome, Vega and friends from CDNs: offline the
index lists no runs and the pages lose their styling and icons. The site therefore carries its own copies,
taken at build time from the npm registry (the same package versions the CDN URLs name; the floating
vega@5 / vega-lite@5 / vega-embed@6 pinned to the newest of their major), each package's licence beside
its files, and every page points at them by a relative path.

Tarballs are fetched with `npm pack` (no dependency tree: these files are self-contained bundles) into a
cache outside the repository and reused. Without npm the copies already in the site are kept.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

DAY12_LOG = logging.getLogger("day12.docs")
DAY12_NPM_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "day12" / "npm"  # outside the clone
DAY12_VENDOR = "static/vendor"  # inside the Data Docs site
DAY12_PACKAGES = {  # npm package@version -> files of it the pages load (paths inside the package)
    "jquery@3.7.1": ("dist/jquery.min.js",),
    "bootstrap@4.3.1": ("dist/css/bootstrap.min.css", "dist/js/bootstrap.min.js"),
    "popper.js@1.12.9": ("dist/umd/popper.min.js",),
    "bootstrap-table@1.19.1": ("dist/bootstrap-table.min.css", "dist/bootstrap-table.min.js",
                               "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"),
    "bootstrap-table@1.19.0": ("dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
                               "dist/extensions/filter-control/bootstrap-table-filter-control.css"),
    "@fortawesome/fontawesome-free@6.6.0": ("css/all.min.css", "webfonts/"),  # the CSS loads ../webfonts/*
    "@forevolve/bootstrap-dark@1.1.0": ("dist/css/bootstrap-prefers-dark.css",),
    "bootstrap-datepicker@1.9.0": ("dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js"),
    "vega@5.33.1": ("build/vega.min.js",),
    "vega-lite@5.23.0": ("build/vega-lite.min.js",),
    "vega-embed@6.29.0": ("build/vega-embed.min.js",),
}
DAY12_CDN = {  # URL in GX's pages -> (package@version, file)
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery@3.7.1", "dist/jquery.min.js"),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": ("bootstrap@4.3.1", "dist/css/bootstrap.min.css"),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": ("bootstrap@4.3.1", "dist/js/bootstrap.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": ("popper.js@1.12.9", "dist/umd/popper.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": ("bootstrap-table@1.19.1", "dist/bootstrap-table.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": ("bootstrap-table@1.19.1", "dist/bootstrap-table.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        ("bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        ("bootstrap-table@1.19.0", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        ("bootstrap-table@1.19.0", "dist/extensions/filter-control/bootstrap-table-filter-control.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": ("@fortawesome/fontawesome-free@6.6.0", "css/all.min.css"),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        ("@forevolve/bootstrap-dark@1.1.0", "dist/css/bootstrap-prefers-dark.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        ("bootstrap-datepicker@1.9.0", "dist/css/bootstrap-datepicker.min.css"),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        ("bootstrap-datepicker@1.9.0", "dist/js/bootstrap-datepicker.min.js"),
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega@5.33.1", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite@5.23.0", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed@6.29.0", "build/vega-embed.min.js"),
}


class day12_AssetError(RuntimeError):
    """The assets could neither be fetched from npm nor found in the site."""


def day12_vendor_dir(spec: str) -> str:
    """jquery@3.7.1 -> jquery@3.7.1; @fortawesome/fontawesome-free@6.6.0 -> fortawesome-fontawesome-free@6.6.0."""
    return spec.lstrip("@").replace("/", "-")


def _tarball(spec: str, npm: str) -> Path:
    DAY12_NPM_CACHE.mkdir(parents=True, exist_ok=True)
    marker = DAY12_NPM_CACHE / f"{day12_vendor_dir(spec)}.tgz"
    if not marker.is_file():
        packed = subprocess.run([npm, "pack", spec, "--json", "--silent", "--pack-destination", str(DAY12_NPM_CACHE)],
                                check=True, capture_output=True, text=True, timeout=300)
        (DAY12_NPM_CACHE / json.loads(packed.stdout)[0]["filename"]).rename(marker)
    return marker


def _extract(tgz: Path, wanted: tuple[str, ...], target: Path) -> int:
    """The wanted files (a trailing / takes a folder), the licence files and package.json, under target."""
    count = 0
    with tarfile.open(tgz) as archive:
        for member in archive.getmembers():
            name = member.name.removeprefix("package/")
            is_licence = "/" not in name and (name.upper().startswith(("LICENSE", "LICENCE", "COPYING"))
                                              or name == "package.json")  # its "license" field, where no file
            if not member.isfile() or not (is_licence or any(name == w or (w.endswith("/") and name.startswith(w))
                                                            for w in wanted)):
                continue
            out = target / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.extractfile(member).read())
            count += 1
    return count


def day12_fetch_assets(site: Path, *, keep_from: Path | None = None) -> str:
    """Put every package's files into site/static/vendor: from npm (cached), else from keep_from (a previous copy)."""
    vendor = Path(site) / DAY12_VENDOR
    npm = shutil.which("npm")
    if npm is None:
        if keep_from is None or not Path(keep_from).is_dir():
            raise day12_AssetError("npm not found and no earlier copy of the Data Docs assets: apt-get install npm")
        if Path(keep_from).resolve() != vendor.resolve():
            shutil.copytree(keep_from, vendor, dirs_exist_ok=True)
        DAY12_LOG.warning("npm not found: Data Docs assets kept from the earlier build", extra={"packages": len(DAY12_PACKAGES)})
        return "kept"
    shutil.rmtree(vendor, ignore_errors=True)
    for spec, files in DAY12_PACKAGES.items():
        _extract(_tarball(spec, npm), files, vendor / day12_vendor_dir(spec))
    return "npm"


def day12_copy_assets(source_site: Path, site: Path) -> None:
    """The committed site's asset copies into another site (a run folder's), so its pages open offline too."""
    source, target = Path(source_site) / DAY12_VENDOR, Path(site) / DAY12_VENDOR
    if source.is_dir() and not target.is_dir():
        shutil.copytree(source, Path(site) / DAY12_VENDOR, dirs_exist_ok=True)


def day12_point_pages_at_assets(site: Path) -> int:
    """Every CDN URL in every page replaced by the relative path of the site's own copy. Pages changed."""
    site, changed = Path(site), 0
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        updated = html
        for url, (spec, file) in sorted(DAY12_CDN.items(), key=lambda item: -len(item[0])):  # longest first
            if url in updated:
                local = site / DAY12_VENDOR / day12_vendor_dir(spec) / file
                updated = updated.replace(f'"{url}"', f'"{os.path.relpath(local, page.parent)}"')
        if updated != html:
            page.write_text(updated, encoding="utf-8")
            changed += 1
    return changed


def day12_remote_references(site: Path) -> list[str]:
    """Scripts and stylesheets a page still loads from the network (links to web pages are fine)."""
    import re

    found = set()
    for page in Path(site).rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        found.update(re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html))
    return sorted(found)


def day12_licences(site: Path) -> dict[str, list[str]]:
    vendor = Path(site) / DAY12_VENDOR
    return {folder.name: sorted(p.name for p in folder.iterdir() if p.is_file()) for folder in sorted(vendor.iterdir())}
