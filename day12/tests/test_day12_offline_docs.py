"""The committed Data Docs open from a file:// URL with the network off: headless Chromium renders the index
and a failing validation page, the runs are listed and the pass/fail icons show."""
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from day12_DOCS_offline import day12_licences, day12_remote_references

SITE = Path(__file__).resolve().parents[1] / "data_docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OFFLINE = ("--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # every http(s) request fails
           "--host-resolver-rules=MAP * ~NOTFOUND")
PROBE = """<script>
window.addEventListener('load', function () { setTimeout(function () {
  var icon = function (css) { var i = document.querySelector(css);
    return i ? getComputedStyle(i, '::before').content + '|' + getComputedStyle(i, '::before').fontFamily : ''; };
  var nav = document.querySelector('nav');
  var result = {
    jquery: typeof window.jQuery === 'function',
    bootstrapTable: !!(window.jQuery && window.jQuery.fn.bootstrapTable),
    runs: Array.from(document.querySelectorAll('table tbody tr')).map(function (r) { return r.innerText; }),
    fontLoaded: Array.from(document.fonts).some(function (f) { return /Font Awesome/.test(f.family) && f.status === 'loaded'; }),
    failIcon: icon('i.fa-times'), passIcon: icon('i.fa-check-circle'),
    bootstrapCss: nav ? getComputedStyle(nav).display : ''};
  var pre = document.createElement('pre'); pre.id = 'day12-probe'; pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
}, 1000); });
</script>"""


def _render(page: Path) -> dict:
    """Load page from file:// with the network off and return what the probe saw."""
    html = page.read_text(encoding="utf-8")
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", *OFFLINE,
                               f"--user-data-dir={profile}", "--virtual-time-budget=8000", "--dump-dom", page.as_uri()],
                              capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="day12-probe">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the page never finished loading: {proc.stderr[-1500:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture
def site(tmp_path):
    if CHROMIUM is None:
        pytest.fail("Chromium is needed for this test: apt-get install chromium (.ci/run installs it)")
    copy = tmp_path / "site"
    shutil.copytree(SITE, copy)
    return copy


def test_no_page_loads_a_script_or_stylesheet_from_the_network_and_licences_are_kept():
    assert day12_remote_references(SITE) == []
    licences = day12_licences(SITE)
    assert len(licences) == 11 and all("package.json" in files for files in licences.values())
    assert all(any(f.upper().startswith("LICENSE") for f in files) for name, files in licences.items()
               if not name.startswith(("popper.js@", "vega@")))  # those two ship their licence in package.json only


def test_every_asset_copy_is_committed_not_ignored():
    """The top-level .gitignore ignores build/ (where Vega keeps its bundles): every copy must still be tracked."""
    on_disk = {str(p.relative_to(SITE.parents[1])) for p in (SITE / "static" / "vendor").rglob("*") if p.is_file()}
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *sorted(on_disk)], cwd=SITE.parents[1],
                             capture_output=True, text=True).stdout.split()
    assert on_disk and ignored == []


def test_the_index_lists_the_runs_with_their_icons_offline(site):
    seen = _render(site / "index.html")
    assert seen["jquery"] and seen["bootstrapTable"] and seen["bootstrapCss"] == "flex"
    runs = [row for row in seen["runs"] if "day12-demo-" in row]  # the validation table (the suites have their own)
    assert len(runs) == 4 and sum("day12-demo-dirty" in row for row in runs) == 2
    assert seen["fontLoaded"] and "Font Awesome" in seen["failIcon"] and "Font Awesome" in seen["passIcon"]
    assert not seen["failIcon"].startswith(("none", "normal"))


def test_a_failing_validation_page_shows_its_icons_offline(site):
    page = next(site.glob("validations/day12_security_events_suite/day12-demo-dirty/*/*.html"))
    seen = _render(page)
    assert seen["jquery"] and seen["bootstrapCss"] == "flex"
    assert seen["fontLoaded"] and "Font Awesome" in seen["failIcon"] and "Font Awesome" in seen["passIcon"]
