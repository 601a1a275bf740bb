"""The built documentation in a real browser: formulas render offline, no page touches the network.

The HTML build (the same ``sphinx-build -W -b html`` as tests/test_docs.py) is loaded from ``file://`` in headless
Chromium (Debian's ``chromium``; .ci/run installs it when absent, else these tests are skipped, saying so) with
every network request sent to a recording proxy on localhost:

* the dumped DOM (``--dump-dom``) of each page holds one MathJax output element (``mjx-container``) per formula of
  the page source (``\\(...\\)`` inline, ``\\[...\\]`` displayed) and no unrendered delimiter is left;
* the proxy sees no request at all (MathJax and its fonts come from the build's ``_static/mathjax``);
* screenshots of the index, plateau, theory, a tutorial and the API page are saved as build artefacts in
  ``build/docs-screenshots/`` (or ``$MEMTHEORY_ARTIFACTS/docs-screenshots``).
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import socketserver
import subprocess
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = ("index", "plateau", "theory", "tutorials/latex", "api")

pytest.importorskip("sphinx", reason="the docs need the test extras (sphinx, myst-parser)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium); "
                                                         "the built pages were not checked in a browser")


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A proxy that answers every request with 502 and remembers it."""

    seen: list[str] = []

    def _record(self):
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(502)
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_PUT = do_OPTIONS = _record

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def proxy():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def html(docs_html) -> Path:
    result, path = docs_html  # the session's html build (tests/conftest.py), shared with tests/test_docs.py
    assert result.returncode == 0, result.stderr
    return path


def _chromium(proxy, profile: Path, *args: str) -> subprocess.CompletedProcess:
    host, port = proxy.server_address
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-default-apps", "--disable-extensions", "--disable-client-side-phishing-detection",
           "--disable-domain-reliability", "--no-pings", "--disable-features=Translate,OptimizationHints,MediaRouter",
           f"--user-data-dir={profile}",
           f"--proxy-server=http://{host}:{port}", "--proxy-bypass-list=<-loopback>",
           "--virtual-time-budget=20000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def _artifacts() -> Path:
    base = Path(os.environ.get("MEMTHEORY_ARTIFACTS", ROOT / "build"))
    path = base / "docs-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_formulas_offline(html, proxy, tmp_path, page):
    source = (html / f"{page}.html").read_text(encoding="utf-8")
    formulas = source.count("\\(") + source.count("\\[")
    assert "mathjax/tex-chtml.js" in source and "cdn" not in source.lower()
    _Recorder.seen.clear()
    url = (html / f"{page}.html").as_uri()
    result = _chromium(proxy, tmp_path / "profile", "--dump-dom", url)
    dom = result.stdout
    assert "</html>" in dom, result.stderr[-2000:]
    rendered = dom.count("<mjx-container")
    assert rendered == formulas, f"{page}: {rendered} formulas rendered of {formulas}"
    assert "\\(" not in dom and "\\[" not in dom  # no formula left as raw TeX
    if page != "api":
        assert formulas > 0
    shot = _artifacts() / f"{page.replace('/', '-')}.png"
    result = _chromium(proxy, tmp_path / "profile2", "--window-size=1280,1800", f"--screenshot={shot}", url)
    assert shot.is_file() and shot.stat().st_size > 10000, result.stderr[-2000:]
    page_requests = [r for r in _Recorder.seen if not _browser_service(r)]
    assert page_requests == [], f"{page} requested the network: {page_requests}"


def _browser_service(request: str) -> bool:
    """Whether a request goes to ``*.google.com`` or to ``update.googleapis.com``, which Chromium itself contacts
    (clock check, sign-in, Android clients; its component updater, which newer releases run despite
    ``--disable-component-update``) whatever the page: not a request of the page. A page loading from there would
    hide among them, so :func:`test_build_references_nothing_external` checks the sources too. Other
    ``googleapis.com`` hosts (web fonts, hosted libraries) still count as the page's."""
    target = request.split(" ", 1)[1]
    host = re.sub(r"^https?://", "", target).split("/", 1)[0].split(":", 1)[0]
    return host == "google.com" or host.endswith(".google.com") or host == "update.googleapis.com"
_EXTERNAL = re.compile(r"<(?:script|link|img|iframe|source|audio|video)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//"
                       r"|url\(\s*[\"']?(?:https?:)?//|@import\s+[\"']?(?:url\()?[\"']?(?:https?:)?//", re.I)


def test_build_references_nothing_external(html):
    """No page, style sheet or script of the build loads a resource from another host."""
    bad = []
    for path in html.rglob("*"):
        if path.suffix in (".html", ".css", ".js") and "_sources" not in path.parts:
            text = path.read_text(encoding="utf-8", errors="replace")
            bad += [f"{path.relative_to(html)}: {m.group(0)[:80]}" for m in _EXTERNAL.finditer(text)]
    assert not bad, bad[:10]


def test_api_row_links_the_numeric_loss(html):
    api = (html / "api.html").read_text(encoding="utf-8")
    # the summary table of the top-level names (before the first module section) links mt.l2_loss to the numeric
    # loss of memtheory.losses, not to memtheory.symbolic.l2_loss
    summary = api[: api.index('id="memtheory-kernels"')]
    assert 'href="#memtheory.losses.l2_loss" title="memtheory.losses.l2_loss"' in summary
    assert "memtheory.symbolic.l2_loss" not in summary


#: Injected into a copy of a page: lists the sidebar and page-contents entries that do not fit (text cut by an
#: ellipsis or by their scroll container, or wider than their own box), after the layout settled.
_MEASURE_CUT = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  var seen = 0, cut = [];
  document.querySelectorAll(".sidebar-tree a, .toc-tree a").forEach(function (el) {
    if (el.offsetParent === null) return;  // a collapsed branch
    seen += 1;
    var clip = el.closest(".sidebar-scroll, .toc-scroll") || el.parentElement;
    var st = getComputedStyle(el), r = el.getBoundingClientRect(), box = clip.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1 || st.textOverflow === "ellipsis" || r.right > box.right + 1
        || clip.scrollWidth > clip.clientWidth + 1) {
      cut.push(el.textContent.trim());
    }
  });
  var out = document.createElement("pre");
  out.id = "measured-cut";
  out.textContent = JSON.stringify({seen: seen, cut: cut});
  document.body.appendChild(out);
}, 500); });
</script>"""


@pytest.mark.parametrize("page", ["api", "index"])
def test_sidebar_entries_are_not_cut(html, proxy, tmp_path, page):
    """Long API names in the navigation sidebar and the page's contents wrap instead of being cut (the theme's
    default for long unbroken names was an ellipsis or a clipped line in other themes)."""
    import json

    copy = html / f"{page}-measure-cut.html"
    copy.write_text((html / f"{page}.html").read_text(encoding="utf-8").replace("</body>", _MEASURE_CUT + "</body>"),
                    encoding="utf-8")
    try:
        result = _chromium(proxy, tmp_path / "profile", "--window-size=1280,1800", "--dump-dom", copy.as_uri())
    finally:
        copy.unlink()
    found = re.search(r'<pre id="measured-cut">(.*?)</pre>', result.stdout)
    assert found, result.stderr[-2000:]
    measured = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert measured["seen"] > 10, measured  # the sidebar was laid out
    assert measured["cut"] == [], f"{page}: sidebar entries cut: {measured['cut'][:10]}"
