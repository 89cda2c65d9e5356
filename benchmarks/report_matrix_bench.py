"""The side-by-side item matrix of report.html in headless Chromium: load and filter times of a campaign-sized page
(10,000 items x 5 models by default), beside the same report with the matrix left empty (matrix_max_items=0), so
the ratio is the matrix's own cost. Times are the page's own `performance.now()` (load: navigation start to the
whole page laid out; a filter: the change event to the page laid out again), median over repeats.

    python benchmarks/report_matrix_bench.py [--items 10000] [--models 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nemo_pipeline.report import SummaryOptions, build_summary, write_reports
from tests.report.conftest import write_run
from tests.report.test_matrix import HARNESS, _body_attr, _dom, _right

FILTERS = ("disagree", "allwrong", "subset", "search", "all")


def measure(chromium: str, page: Path, repeats: int, work: Path) -> dict[str, float]:
    timed = page.with_name(page.stem + "-timed.html")
    timed.write_text(page.read_text(encoding="utf-8").replace("</body>", HARNESS, 1), encoding="utf-8")
    runs = []
    for n in range(repeats):
        perf = json.loads(_body_attr(_dom(chromium, work / f"profile-{n}", timed), "data-perf") or "{}")
        runs.append(perf)
    keys = ["load_ms", *(f"{f}_ms" for f in FILTERS)]
    return {key: statistics.median(r[key] for r in runs) for key in keys}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("error: chromium not found (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ids = [f"q-{n}" for n in range(args.items)]
        subsets = {item: f"subject_{n % 57}" for n, item in enumerate(ids)}
        runs = [
            write_run(
                work / f"m{m}",
                "mmlu",
                {i: [_right(m, n)] for n, i in enumerate(ids)},
                subsets=subsets,
                model=f"model-{m}",
            )
            for m in range(args.models)
        ]
        pages = {}
        for label, cap in (("with matrix", 20_000), ("matrix empty", 0)):
            summary = build_summary(runs, options=SummaryOptions(resamples=10, matrix_max_items=cap))
            pages[label] = write_reports(summary, work / label.replace(" ", "-")).html
        results = {label: measure(chromium, page, args.repeats, work) for label, page in pages.items()}
    print(f"{args.items} items x {args.models} models; median of {args.repeats}; load average {os.getloadavg()[0]:.2f}")
    print(f"{'measure':<14}{'with matrix':>14}{'matrix empty':>14}{'ratio':>8}")
    for key in results["with matrix"]:
        mine, ref = results["with matrix"][key], results["matrix empty"][key]
        print(f"{key:<14}{mine:>14.1f}{ref:>14.1f}{mine / ref if ref else float('nan'):>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
