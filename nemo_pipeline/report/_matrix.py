"""The side-by-side item matrix of the HTML report (two or more runs): one row per item, one column per model with its
answer and verdict, filtered in the page by "models disagree", "all wrong", benchmark and subset.

The rows travel as compact arrays in the report's JSON data element; the page renders one page of rows at a time,
so 10,000 items x 5 models load and filter well within a second (docs/PERFORMANCE.md)."""

from __future__ import annotations

from html import escape
from typing import Any

from nemo_pipeline.report._summary import Summary

__all__ = ["MATRIX_JS", "VERDICT_CODES", "matrix_payload", "matrix_section"]

VERDICT_CODES = {"correct": 0, "wrong": 1, "no-answer": 2, "ungraded": 3}
_ANSWER_CHARS = 80  # an answer longer than this is clipped in its cell


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def matrix_payload(summary: Summary) -> dict[str, Any] | None:
    """{models, benchmarks, subsets, rows, capped}; a row is [benchmark, subset (-1: none), id, problem, gold, one
    cell per model], a cell null (the model has no such item) or [verdict code, answer, samples correct, samples].
    None for fewer than two runs."""
    if len(summary.runs) < 2:
        return None
    models = [r.name for r in summary.runs]
    benchmarks = summary.benchmarks
    subsets: dict[str, int] = {}
    rows: list[list[Any]] = []
    capped: list[str] = []
    for b_index, name in enumerate(benchmarks):
        per_run = [summary.items.get((run.name, name)) for run in summary.runs]
        order: dict[str, None] = {}
        for run, items in zip(summary.runs, per_run, strict=True):
            if items is None:
                continue
            order.update(dict.fromkeys(items.answers))
            if len(items.answers) < items.num_ids:
                capped.append(f"{name} ({run.name}): {len(items.answers)} of {items.num_ids} items")
        for item_id in order:
            cells: list[Any] = []
            first = None
            for items in per_run:
                answer = None if items is None else items.answers.get(item_id)
                if answer is None:
                    cells.append(None)
                    continue
                first = first or answer
                cells.append(
                    [
                        VERDICT_CODES[answer.verdict],
                        _clip(answer.predicted, _ANSWER_CHARS),
                        answer.correct,
                        answer.samples,
                    ]
                )
            assert first is not None
            subset = -1 if first.subset is None else subsets.setdefault(first.subset, len(subsets))
            rows.append([b_index, subset, item_id, first.problem, _clip(first.expected, _ANSWER_CHARS), *cells])
    return {"models": models, "benchmarks": benchmarks, "subsets": list(subsets), "rows": rows, "capped": capped}


def matrix_section(summary: Summary) -> str:
    """The matrix's heading, notes, filters and empty table (the page's script fills it); "" for one run."""
    if len(summary.runs) < 2:
        return ""
    heads = "".join(f"<th>{escape(r.name)}</th>" for r in summary.runs)
    return (
        '<h2 id="matrix">Side by side</h2>'
        '<p class="note">One row per item, one column per model: ✓ correct, ✗ wrong, – no answer, ? not graded, then '
        "the model's answer (with seeds: the first sample's answer, correct when most samples are, and how many "
        "were). <b>Models disagree</b>: some models right and some not; <b>all wrong</b>: no model right. A model "
        f"without the item is left out of both. Up to {summary.options.matrix_max_items} items per benchmark and "
        "model.</p>"
        '<div class="controls">'
        '<label>Show <select id="m-show"><option value="">all items</option>'
        '<option value="disagree">models disagree</option><option value="allwrong">all wrong</option></select></label>'
        '<label>Benchmark <select id="m-bench"><option value="">all</option></select></label>'
        '<label>Subset <select id="m-subset"><option value="">all</option></select></label>'
        '<label>Search <input type="search" id="m-q" placeholder="id, question, answer…"></label>'
        "</div>"
        '<div class="note" id="m-count"></div><p class="note" id="m-capped" hidden></p>'
        '<div class="card"><table id="matrix-table"><thead><tr><th class="l">benchmark / subset</th>'
        f'<th class="l">id</th><th class="l">question</th><th class="l">gold</th>{heads}</tr></thead>'
        '<tbody id="m-rows"></tbody></table></div><button id="m-more" hidden>Show more rows</button>'
    )


MATRIX_JS = r"""
(function(){
  const M = NP_DATA.matrix;
  if (!M) return;
  const $ = (id) => document.getElementById(id);
  const f = {mshow: $('m-show'), mbench: $('m-bench'), msubset: $('m-subset'), mq: $('m-q')};
  const PAGE = 100;
  const MARK = ['\u2713', '\u2717', '\u2013', '?'];
  const CLS = ['mv-correct', 'mv-wrong', 'mv-no-answer', 'mv-ungraded'];
  const nm = M.models.length, rows = M.rows;
  let shown = PAGE, texts = null;
  // Per row: bit 1 = models disagree (some right, some not), bit 2 = all wrong (every graded model wrong).
  const flags = new Uint8Array(rows.length);
  for (let i = 0; i < rows.length; i++){
    const r = rows[i];
    let right = 0, wrong = 0;
    for (let m = 0; m < nm; m++){
      const c = r[5 + m];
      if (c === null || c[0] === 3) continue;
      if (c[0] === 0) right++; else wrong++;
    }
    flags[i] = (right && wrong ? 1 : 0) | (wrong && !right ? 2 : 0);
  }
  function fill(select, values){
    for (const v of values){
      const o = document.createElement('option'); o.value = v; o.textContent = v; select.appendChild(o);
    }
  }
  fill(f.mbench, M.benchmarks); fill(f.msubset, [...M.subsets].sort());
  if (M.capped.length){ $('m-capped').hidden = false; $('m-capped').textContent = 'Capped: ' + M.capped.join('; '); }
  function searchText(i){
    if (texts === null){
      texts = rows.map(r => [r[2], r[3], r[4], ...r.slice(5).map(c => c === null ? '' : c[1])].join('\u0001')
        .toLowerCase());
    }
    return texts[i];
  }
  function td(text, cls){
    const e = document.createElement('td'); e.className = cls; e.textContent = text; return e;
  }
  function row(r){
    const tr = document.createElement('tr');
    const subset = r[1] >= 0 ? ' / ' + M.subsets[r[1]] : '';
    tr.appendChild(td(M.benchmarks[r[0]] + subset, 'l'));
    tr.appendChild(td(r[2], 'l id'));
    tr.appendChild(td(r[3], 'l q'));
    tr.appendChild(td(r[4] === null ? '\u2014' : r[4], 'l'));
    for (let m = 0; m < nm; m++){
      const c = r[5 + m];
      if (c === null){ tr.appendChild(td('not run', 'l mv-none')); continue; }
      const seeds = c[3] > 1 ? ' (' + c[2] + '/' + c[3] + ')' : '';
      const cell = td(MARK[c[0]] + ' ' + (c[1] === null ? '\u2014' : c[1]) + seeds, 'l ' + CLS[c[0]]);
      cell.dataset.v = String(c[0]);
      tr.appendChild(cell);
    }
    return tr;
  }
  function render(){
    const started = performance.now();
    const show = f.mshow.value, q = f.mq.value.trim().toLowerCase();
    const b = f.mbench.value === '' ? -1 : M.benchmarks.indexOf(f.mbench.value);
    const s = f.msubset.value === '' ? -1 : M.subsets.indexOf(f.msubset.value);
    const bit = show === 'disagree' ? 1 : (show === 'allwrong' ? 2 : 0);
    let count = 0;
    const page = [];
    for (let i = 0; i < rows.length; i++){
      const r = rows[i];
      if ((b >= 0 && r[0] !== b) || (s >= 0 && r[1] !== s) || (bit && !(flags[i] & bit))) continue;
      if (q && !searchText(i).includes(q)) continue;
      if (count < shown) page.push(r);
      count++;
    }
    const frag = document.createDocumentFragment();
    for (const r of page) frag.appendChild(row(r));
    $('m-rows').replaceChildren(frag);
    $('m-count').textContent = 'Showing ' + page.length + ' of ' + count + ' matching rows (' + rows.length +
      ' items, ' + nm + ' models).';
    $('m-more').hidden = count <= shown;
    document.body.dataset.matrixMatches = String(count);
    document.body.dataset.matrixRenderMs = (performance.now() - started).toFixed(1);
  }
  function changed(){ shown = PAGE; npWriteHash(f); render(); }
  for (const k of Object.keys(f)) f[k].addEventListener(k === 'mq' ? 'input' : 'change', changed);
  $('m-more').addEventListener('click', () => { shown += PAGE; render(); });
  window.addEventListener('hashchange', () => { npReadHash(f); shown = PAGE; render(); });
  npReadHash(f); render();
  document.body.dataset.matrixReadyMs = performance.now().toFixed(1);
})();
"""
