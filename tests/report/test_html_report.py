"""The HTML report: self-contained, escaped, and working in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from nemo_pipeline.report import SummaryOptions, build_summary, to_html, write_reports

from .conftest import XSS_GENERATION, write_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The `chromium` fixture (tests/conftest.py) fails under CI and skips elsewhere when the browser is missing.
needs_browser = pytest.mark.usefixtures("chromium")

IDS = [f"gsm8k-{i}" for i in range(30)]
SUBSETS = {item: ("algebra" if n % 3 else "geometry") for n, item in enumerate(IDS)}
BASE_CORRECT = set(range(6))
# Model: right on 0..4 and 6..14, no answer on 15..17, wrong with an answer on 5 and 18..29.
MODEL_OUTCOMES: dict[str, list[bool | None]] = {
    item: [True if (n < 5 or 6 <= n < 15) else (None if 15 <= n < 18 else False)] for n, item in enumerate(IDS)
}
TITLE = "Gemma <b>sizes</b> & friends"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    base = write_run(
        root / "base", "gsm8k", {i: [n in BASE_CORRECT] for n, i in enumerate(IDS)}, subsets=SUBSETS, model="small"
    )
    model = write_run(
        root / "big", "gsm8k", MODEL_OUTCOMES, subsets=SUBSETS, model="big", generations={IDS[20]: XSS_GENERATION}
    )
    seeds = {f"math-{i}": [i % 2 == 0, i % 3 == 0, True, False] for i in range(12)}
    write_run(base, "math", {k: [False, *v[1:]] for k, v in seeds.items()}, num_seeds=4)
    write_run(model, "math", seeds, num_seeds=4)
    write_run(model, "ifeval", {"if-0": [True]}, write_metrics=False)  # graded, with per-item scores
    summary = build_summary([model], baseline=base, options=SummaryOptions(title=TITLE, resamples=500))
    written = write_reports(summary, root / "out")
    return written.html


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=3000",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)


def _dom(tmp_path: Path, html: Path, fragment: str = "") -> str:
    return _chromium(tmp_path, "--dump-dom", html.as_uri() + fragment).stdout


def _body_attr(dom: str, name: str) -> str | None:
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    match = re.search(rf'{name}="([^"]*)"', body.group(1))
    return None if match is None else match.group(1)


@pytest.mark.timeout(60)
def test_report_is_self_contained_and_escaped(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", html), "external resource"
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # the page may not fetch anything even if something slipped in
    assert "Gemma &lt;b&gt;sizes&lt;/b&gt; &amp; friends" in html and "<b>sizes</b>" not in html
    # The model output must not be able to close the data <script> element or add markup.
    assert XSS_GENERATION not in html
    assert "</script><script>document.body" not in html
    assert html.count("</script>") == 2  # the JSON data element and the code element, nothing else
    assert "<svg" in html and "Up to 2000 graded lines per benchmark and model are embedded" in html


@pytest.mark.timeout(60)
def test_item_cap_is_applied_and_stated(tmp_path: Path, make_run: Callable[..., Path]) -> None:
    run = make_run(tmp_path / "run", "gsm8k", {f"q-{i}": [True, False] for i in range(10)}, num_seeds=2)
    summary = build_summary([run], options=SummaryOptions(max_items=5))
    items = summary.items[(summary.runs[0].name, "gsm8k")]
    assert len(items.browser) == 4  # whole items only: two ids with two seeds each
    assert {it.id for it in items.browser} == {"q-0", "q-1"}
    assert "gsm8k (run): 4 of 20 output lines embedded" in to_html(summary)


@needs_browser
@pytest.mark.timeout(120)
def test_browser_renders_numbers_and_runs_no_injected_script(report: Path, tmp_path: Path) -> None:
    dom = _dom(tmp_path, report)
    assert _body_attr(dom, "data-ready") == "1", "the item browser script did not run"
    assert _body_attr(dom, "data-pwned") is None, "a model output was executed as markup"
    assert _body_attr(dom, "data-matches") == str(30 + 30 + 12 * 4 + 12 * 4 + 1)
    # gsm8k accuracy: baseline 6/30 = 20%, model 14/30 = 46.67%; McNemar b=1 (q5), c=9 (q6..q14).
    assert "20.00" in dom and "46.67" in dom
    assert "+26.67 (p=0.0215) *" in dom
    # Subsets, in the per-benchmark section: algebra 4/20 -> 9/20 (b=1: q5, c=6: p = 2 * 8/128),
    # geometry 2/10 -> 5/10 (b=0, c=3: p = 2/8).
    assert "+25.00 (p=0.125)" in dom and "+30.00 (p=0.25)" in dom
    assert "MISSING" in dom and "no metrics.json (1 output file(s), 1 line(s)" in dom
    assert "Showing 157 of 157 matching items (157 embedded)." in dom


@needs_browser
@pytest.mark.timeout(120)
def test_browser_filters_from_url_hash(report: Path, tmp_path: Path) -> None:
    dom = _dom(tmp_path, report, "#model=big&bench=gsm8k&verdict=incorrect")
    verdicts = re.findall(r'<div class="item" data-id="([^"]+)" data-verdict="([^"]+)"', dom)
    expected_wrong = {IDS[n] for n in [5, *range(15, 30)]}
    assert _body_attr(dom, "data-matches") == str(len(expected_wrong))
    assert {i for i, _ in verdicts} == expected_wrong
    assert {v for _, v in verdicts} == {"wrong", "no-answer"}
    dom = _dom(tmp_path, report, "#model=big&bench=gsm8k&verdict=no-answer")
    assert _body_attr(dom, "data-matches") == "3"
    dom = _dom(tmp_path, report, "#bench=ifeval")
    assert _body_attr(dom, "data-matches") == "1" and "strict 1, loose 1" in dom
    dom = _dom(tmp_path, report, "#verdict=correct&bench=math&model=small")
    # small's math: seed 0 all wrong; seed 1 right on i%3==0 (4); seed 2 all right (12); seed 3 none -> 16.
    assert _body_attr(dom, "data-matches") == "16"


@needs_browser
@pytest.mark.timeout(120)
def test_browser_search_shows_hostile_output_as_text(report: Path, tmp_path: Path) -> None:
    dom = _dom(tmp_path, report, "#q=" + IDS[20])
    assert _body_attr(dom, "data-matches") == "2"  # the item in both runs
    assert _body_attr(dom, "data-pwned") is None
    assert "&lt;/script&gt;&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;" in dom
    assert "&lt;img src=x onerror=" in dom


@needs_browser
@pytest.mark.timeout(120)
def test_browser_screenshot(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", report.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600)
    assert len(data) > 20_000  # a blank page compresses to a few kB
