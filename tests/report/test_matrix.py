"""The side-by-side item matrix of report.html in the real Chromium: one row per item, one column per model, the
"models disagree" / "all wrong" / benchmark / subset filters, hostile answers shown as text, and 10,000 items x 5
models loading and filtering within a second (measured in the page; the figures are in docs/PERFORMANCE.md)."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from nemo_pipeline.report import SummaryOptions, build_summary, matrix_payload, to_html, write_reports

from .conftest import write_run

needs_browser = pytest.mark.usefixtures("chromium")

HOSTILE = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"


def _right(model: int, n: int) -> bool | None:
    """Model m's outcome on item n: a fixed pattern, so each filter's expected rows can be computed here."""
    if (n + model) % 11 == 0:
        return None  # no answer
    return (n * (model + 3) + model) % 7 < 4


def _expected(models: int, items: int, ids: list[str]) -> dict[str, set[str]]:
    disagree, all_wrong = set(), set()
    for n, item in enumerate(ids[:items]):
        outcomes = [_right(m, n) is True for m in range(models)]
        if any(outcomes) and not all(outcomes):
            disagree.add(item)
        if not any(outcomes):
            all_wrong.add(item)
    return {"disagree": disagree, "allwrong": all_wrong}


def _dom(chromium: str, profile: Path, page: Path, fragment: str = "") -> str:
    # No --virtual-time-budget: under virtual time the page's clock stands still while scripts run, and the
    # matrix is timed with performance.now(). Every script is inline and synchronous, so the dump sees its result.
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
               "--dump-dom", page.as_uri() + fragment]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def _body_attr(dom: str, name: str) -> str | None:
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    match = re.search(rf'{name}="([^"]*)"', body.group(1))
    return None if match is None else html.unescape(match.group(1))


def _rows(dom: str) -> list[list[str]]:
    tbody = re.search(r'<tbody id="m-rows">(.*?)</tbody>', dom, re.S)
    assert tbody is not None
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", tbody.group(1), re.S)
    ]


@pytest.fixture(scope="module")
def small_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three models on gsm8k (12 items, subsets even/odd); the third has no item q-11 and a hostile answer."""
    root = tmp_path_factory.mktemp("matrix")
    ids = [f"q-{n}" for n in range(12)]
    subsets = {item: ("even" if n % 2 == 0 else "odd") for n, item in enumerate(ids)}
    runs = []
    for m in range(3):
        mine = ids[:11] if m == 2 else ids
        outcomes = {item: [_right(m, n)] for n, item in enumerate(mine)}
        run = write_run(root / f"m{m}", "gsm8k", outcomes, subsets=subsets, model=f"model-{m}",
                        generations={"q-4": HOSTILE})  # fmt: skip
        runs.append(run)
    path = runs[2] / "eval-results" / "gsm8k" / "output.jsonl"  # the third model's answer to q-4: hostile text
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        if line["id"] == "q-4":
            line["predicted_answer"], line["is_correct"] = HOSTILE, False
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = build_summary(runs, options=SummaryOptions(resamples=10))
    return write_reports(summary, root / "out").html


@needs_browser
@pytest.mark.timeout(180)
def test_matrix_rows_cells_and_filters(small_report: Path, chromium: str, tmp_path: Path) -> None:
    dom = _dom(chromium, tmp_path / "p", small_report)
    assert _body_attr(dom, "data-matrix-matches") == "12" and _body_attr(dom, "data-pwned") is None
    rows = {row[1]: row for row in _rows(dom)}
    assert len(rows) == 12
    # q-0: model 0 no answer ((0+0) % 11 == 0), model 1 right (1 % 7 < 4), model 2 right (2 % 7 < 4)
    assert rows["q-0"][:2] == ["gsm8k / even", "q-0"] and rows["q-0"][3] == "0"
    assert rows["q-0"][4:] == ["\u2013 \u2014", "\u2713 0", "\u2713 0"]
    assert rows["q-11"][6] == "not run"  # the third model has no q-11
    assert rows["q-4"][6] == "\u2717 " + HOSTILE  # shown as text, never as markup

    ids = [f"q-{n}" for n in range(12)]
    three = [(m, n) for m in range(3) for n in range(12) if not (m == 2 and n == 11)]
    right = {(m, n): _right(m, n) is True and not (m == 2 and n == 4) for m, n in three}
    disagree = {ids[n] for n in range(12) if len({right[m, n] for m in range(3) if (m, n) in right}) == 2}
    all_wrong = {ids[n] for n in range(12) if not any(right.get((m, n), False) for m in range(3))}
    assert disagree and all_wrong  # the pattern gives both kinds
    for fragment, expected in (("#mshow=disagree", disagree), ("#mshow=allwrong", all_wrong)):
        dom = _dom(chromium, tmp_path / "p", small_report, fragment)
        assert {row[1] for row in _rows(dom)} == expected, fragment
        assert _body_attr(dom, "data-matrix-matches") == str(len(expected))
    dom = _dom(chromium, tmp_path / "p", small_report, "#mshow=disagree&msubset=odd&bench=gsm8k")
    odd = {i for i in disagree if int(i.split("-")[1]) % 2}
    assert {row[1] for row in _rows(dom)} == odd
    assert _body_attr(dom, "data-matches") == "35"  # the item browser's own filter (bench) applies alongside


HARNESS = """<script>
(function(){
  const out = {};
  void document.body.offsetHeight;  // layout of the whole page, then the clock (ms since navigation start)
  out.load_ms = +performance.now().toFixed(1);
  const set = (id, v) => {
    const e = document.getElementById(id); e.value = v;
    e.dispatchEvent(new Event(e.tagName === 'INPUT' ? 'input' : 'change'));
  };
  const time = (label, fn) => {
    const started = performance.now(); fn(); void document.body.offsetHeight;
    out[label + '_ms'] = +(performance.now() - started).toFixed(1);
    out[label + '_rows'] = +document.body.dataset.matrixMatches;
  };
  time('disagree', () => set('m-show', 'disagree'));
  time('allwrong', () => set('m-show', 'allwrong'));
  time('subset', () => { set('m-show', ''); set('m-subset', 'subject_7'); });
  time('search', () => { set('m-subset', ''); set('m-q', 'q-1234'); });
  time('all', () => set('m-q', ''));
  document.body.dataset.perf = JSON.stringify(out);
})();
</script></body>"""


@needs_browser
@pytest.mark.timeout(600)
def test_matrix_of_10000_items_and_5_models_loads_and_filters_within_a_second(tmp_path: Path, chromium: str) -> None:
    items, models = 10_000, 5
    ids = [f"q-{n}" for n in range(items)]
    subsets = {item: f"subject_{n % 57}" for n, item in enumerate(ids)}
    runs = [
        write_run(
            tmp_path / f"m{m}",
            "mmlu",
            {item: [_right(m, n)] for n, item in enumerate(ids)},
            subsets=subsets,
            model=f"model-{m}",
        )
        for m in range(models)
    ]
    summary = build_summary(runs, options=SummaryOptions(resamples=10))
    page = write_reports(summary, tmp_path / "out").html
    timed = page.with_name("timed.html")
    timed.write_text(page.read_text(encoding="utf-8").replace("</body>", HARNESS, 1), encoding="utf-8")
    dom = _dom(chromium, tmp_path / "p", timed)
    perf = json.loads(_body_attr(dom, "data-perf") or "{}")
    print(f"\nmatrix {items} items x {models} models, {page.stat().st_size / 1e6:.1f} MB page: {perf}")

    expected = _expected(models, items, ids)
    assert perf["all_rows"] == items
    assert perf["disagree_rows"] == len(expected["disagree"]) and perf["allwrong_rows"] == len(expected["allwrong"])
    assert perf["subset_rows"] == len([n for n in range(items) if n % 57 == 7])
    assert perf["search_rows"] == 1
    assert perf["load_ms"] < 1000, perf
    for label in ("disagree", "allwrong", "subset", "search", "all"):
        assert perf[f"{label}_ms"] < 1000, perf


def test_matrix_cap_is_stated_and_one_run_has_no_matrix(tmp_path: Path) -> None:
    ids = [f"q-{n}" for n in range(8)]
    runs = [write_run(tmp_path / f"m{m}", "gsm8k", {i: [_right(m, n)] for n, i in enumerate(ids)}) for m in range(2)]
    summary = build_summary(runs, options=SummaryOptions(resamples=10, matrix_max_items=5))
    payload = matrix_payload(summary)
    assert payload is not None and [row[2] for row in payload["rows"]] == ids[:5]
    assert payload["capped"] == ["gsm8k (m0): 5 of 8 items", "gsm8k (m1): 5 of 8 items"]
    assert matrix_payload(build_summary(runs[:1])) is None and 'id="matrix"' not in to_html(build_summary(runs[:1]))
