"""The self-contained static HTML report: inline CSS, JS and SVG; no network access at all."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from nemo_pipeline.report._load import verdict_of
from nemo_pipeline.report._matrix import MATRIX_JS, matrix_payload, matrix_section
from nemo_pipeline.report._stats import SIGNIFICANCE_LEVEL
from nemo_pipeline.report._summary import ALL, Summary, headline
from nemo_pipeline.report._svg import PALETTE, Bar, grouped_bars
from nemo_pipeline.report._tables import (
    Table,
    comparison_table,
    cost_table,
    display_columns,
    metric_cell,
    metric_order,
    models_table,
    published_sources,
    published_table,
)
from nemo_pipeline.report._url_hash import URL_HASH_JS

__all__ = ["to_html", "verdict_of"]

_CSS = """
:root{--fg:#1d2330;--muted:#667085;--line:#e3e6ec;--bg:#f7f8fa;--ok:#1f7a3f;--bad:#b42318;--warn:#9a6700}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 8px}
.meta,.note{color:var(--muted);font-size:13px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin:10px 0;overflow-x:auto}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:#f0f2f5;font-weight:600}
td.l,th.l{text-align:left}
td.sub{color:var(--muted);padding-left:22px}
.missing-cell{color:var(--bad);font-weight:600}
.sig-up{color:var(--ok);font-weight:600}.sig-down{color:var(--bad);font-weight:600}
.warn{border-left:4px solid var(--warn);background:#fff8e6}
.warn li{margin:2px 0}
svg.chart{max-width:100%;height:auto;font-size:12px}
svg .grid{stroke:#e6e8ee;stroke-width:1}svg .tick{fill:var(--muted);font-size:11px}
svg .label{fill:var(--fg)}svg .value{fill:var(--fg);font-size:11px}svg .legend{fill:var(--fg);font-size:12px}
svg .err{stroke:#222;stroke-width:1.3}svg .missing{fill:var(--bad);font-size:11px}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin-bottom:10px}
.controls label{font-size:13px;color:var(--muted)}
select,input[type=search]{font:inherit;padding:4px 6px;border:1px solid #c9ced8;border-radius:5px;background:#fff}
input[type=search]{min-width:260px}
.item{background:#fff;border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:6px 10px}
.item .head{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:baseline;font-size:13px}
.badge{display:inline-block;min-width:76px;text-align:center;border-radius:10px;padding:0 8px;font-size:12px;
font-weight:600;color:#fff}
.v-correct{background:var(--ok)}.v-wrong{background:var(--bad)}.v-no-answer{background:var(--warn)}
.v-ungraded{background:#888}
.kv{color:var(--muted)}.kv b{color:var(--fg);font-weight:600;font-family:ui-monospace,Menlo,Consolas,monospace}
details summary{cursor:pointer;color:var(--muted);font-size:13px;margin-top:3px;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f7f9;border:1px solid var(--line);border-radius:5px;
padding:8px;margin:6px 0;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;max-height:420px;overflow:auto}
.sect{font-size:12px;font-weight:600;color:var(--muted);margin-top:6px}
button{font:inherit;padding:4px 12px;border:1px solid #c9ced8;border-radius:5px;background:#fff;cursor:pointer}
#matrix-table td.q{white-space:normal;min-width:260px;max-width:480px}
#matrix-table td.id{font-family:ui-monospace,monospace}
.mv-correct{color:var(--ok)}.mv-wrong{color:var(--bad)}.mv-no-answer{color:var(--warn)}.mv-ungraded,.mv-none{color:#888}
"""

_JS = r"""
(function(){
  const data = NP_DATA;
  const PAGE = 200;
  const $ = (id) => document.getElementById(id);
  const fields = {model: $('f-model'), bench: $('f-bench'), verdict: $('f-verdict'), q: $('f-q')};
  let shown = PAGE;
  let openAll = false;  // '#open=1' expands every shown item (for links to a single item)
  function fill(select, values){
    for (const v of values){
      const o = document.createElement('option'); o.value = v; o.textContent = v; select.appendChild(o);
    }
  }
  fill(fields.model, data.runs); fill(fields.bench, data.benchmarks);
  function readHash(){ openAll = npReadHash(fields).get('open') === '1'; }
  function writeHash(){ npWriteHash(fields, {open: openAll ? '1' : null}); }  // the matrix's keys stay
  function matches(it, f){
    if (f.model && data.runs[it[0]] !== f.model) return false;
    if (f.bench && data.benchmarks[it[1]] !== f.bench) return false;
    const v = it[5];
    if (f.verdict === 'correct' && v !== 'correct') return false;
    if (f.verdict === 'incorrect' && v !== 'wrong' && v !== 'no-answer') return false;
    if (f.verdict === 'no-answer' && v !== 'no-answer') return false;
    if (f.verdict === 'ungraded' && v !== 'ungraded') return false;
    if (f.q){
      const q = f.q.toLowerCase();
      const texts = [it[3], it[6], it[7], it[8], it[9]];
      if (!texts.some(s => s !== null && String(s).toLowerCase().includes(q))) return false;
    }
    return true;
  }
  function el(tag, cls, text){
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function kv(key, value){
    const s = el('span', 'kv', key + ' '); s.appendChild(el('b', '', value === null ? '—' : value)); return s;
  }
  const LABEL = {'correct': 'correct', 'wrong': 'incorrect', 'no-answer': 'no answer', 'ungraded': 'not graded'};
  function card(it){
    const [run, bench, seed, id, subset, verdict, predicted, gold, problem, generation, reason, scores] = it;
    const c = el('div', 'item'); c.dataset.id = id; c.dataset.verdict = verdict;
    const head = el('div', 'head');
    head.appendChild(el('span', 'badge v-' + verdict, LABEL[verdict]));
    head.appendChild(kv('benchmark', data.benchmarks[bench] + (subset ? ' / ' + subset : '')));
    if (data.runs.length > 1) head.appendChild(kv('model', data.runs[run]));
    head.appendChild(kv('id', id));
    if (seed !== null) head.appendChild(kv('seed', String(seed)));
    head.appendChild(kv('predicted', predicted));
    head.appendChild(kv('gold', gold));
    if (scores) head.appendChild(kv('scores', scores));
    c.appendChild(head);
    const d = el('details');
    d.open = openAll;
    d.appendChild(el('summary', '', (problem || '(no problem text)').replace(/\s+/g, ' ').slice(0, 160)));
    d.appendChild(el('div', 'sect', 'Problem')); d.appendChild(el('pre', 'problem', problem));
    d.appendChild(el('div', 'sect', 'Generation')); d.appendChild(el('pre', 'generation', generation));
    if (reason){ d.appendChild(el('div', 'sect', 'Grading')); d.appendChild(el('pre', 'reason', reason)); }
    c.appendChild(d);
    return c;
  }
  function render(){
    const f = {}; for (const k of Object.keys(fields)) f[k] = fields[k].value.trim();
    const hits = data.items.filter(it => matches(it, f));
    const list = $('items'); list.replaceChildren();
    for (const it of hits.slice(0, shown)) list.appendChild(card(it));
    $('count').textContent = 'Showing ' + Math.min(shown, hits.length) + ' of ' + hits.length +
      ' matching items (' + data.items.length + ' embedded).';
    $('more').hidden = hits.length <= shown;
    document.body.dataset.matches = String(hits.length);
  }
  function changed(){ shown = PAGE; writeHash(); render(); }
  for (const k of Object.keys(fields)) fields[k].addEventListener(k === 'q' ? 'input' : 'change', changed);
  $('more').addEventListener('click', () => { shown += PAGE; render(); });
  window.addEventListener('hashchange', () => { readHash(); shown = PAGE; render(); });
  readHash(); render();
  document.body.dataset.ready = '1';
})();
"""


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… {len(text) - limit} more characters not embedded in this report]"


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' survives, so no '</script>' can close it early."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _items_payload(summary: Summary) -> tuple[dict[str, Any], list[str]]:
    runs = [r.name for r in summary.runs]
    benchmarks = summary.benchmarks
    limit = summary.options.max_text_chars
    rows: list[list[Any]] = []
    notes: list[str] = []
    for r_index, run in enumerate(summary.runs):
        for b_index, name in enumerate(benchmarks):
            items = summary.items.get((run.name, name))
            if items is None:
                continue
            if len(items.browser) < items.total:
                notes.append(f"{name} ({run.name}): {len(items.browser)} of {items.total} output lines embedded")
            for it in items.browser:
                rows.append(
                    [
                        r_index,
                        b_index,
                        it.seed,
                        it.id,
                        it.subset,
                        verdict_of(it),
                        it.predicted,
                        it.expected,
                        _clip(it.problem, limit),
                        _clip(it.generation, limit),
                        it.reason,
                        ", ".join(f"{k} {v:g}" for k, v in it.scores),
                    ]
                )
    return {"runs": runs, "benchmarks": benchmarks, "items": rows, "matrix": matrix_payload(summary)}, notes


def _table_html(table: Table, subset_column: bool = False) -> str:
    out = ["<table><thead><tr>"]
    out += [
        f'<th class="{"l" if a == "l" else ""}">{escape(h)}</th>'
        for h, a in zip(table.headers, table.align, strict=False)
    ]
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append("<tr>")
        for index, (cell, align) in enumerate(zip(row, table.align, strict=False)):
            classes = ["l"] if align == "l" else []
            if subset_column and index == 1 and cell:
                classes.append("sub")
            if cell == "MISSING":
                classes.append("missing-cell")
            if cell.endswith(" *"):
                classes.append("sig-up" if cell.startswith("+") else "sig-down")
            out.append(f'<td class="{" ".join(classes)}">{escape(cell)}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _overview_chart(summary: Summary, subset: str = ALL, benchmark: str | None = None) -> str:
    names = [r.name for r in summary.runs]
    groups: list[tuple[str, list[Bar]]] = []
    labels = (
        [(b, ALL) for b in summary.benchmarks]
        if benchmark is None
        else [(benchmark, s) for s in summary.subsets(benchmark) if s != ALL]
    )
    for bench_name, sub in labels:
        bars = []
        for index, run in enumerate(summary.runs):
            value = headline(run.benchmarks.get(bench_name), sub)
            bars.append(Bar(index, None if value is None else value[1], None if value is None else value[2]))
        groups.append((bench_name if benchmark is None else sub, bars))
    caption = "headline metric per benchmark" if benchmark is None else f"{benchmark}: headline metric per subset"
    return grouped_bars(groups, names, caption=caption)


def _benchmark_section(summary: Summary, name: str) -> str:
    out = [f'<h3 id="bench-{escape(name)}">{escape(name)}</h3>']
    for run in summary.runs:
        bench = run.benchmarks.get(name)
        if bench is None or bench.metrics is None:
            why = summary.missing_reason(run.name, bench, name)
            out.append(
                f'<p class="note"><b>{escape(run.name)}</b>: <span class="missing-cell">missing</span> — '
                f"{escape(why)}</p>"
            )
    subsets = [s for s in summary.subsets(name) if s != ALL]
    if subsets:
        out.append(f'<div class="card">{_overview_chart(summary, benchmark=name)}</div>')
    if len(summary.runs) > 1 and subsets:
        table = comparison_table(summary, benchmarks=[name])
        out.append(f'<div class="card">{_table_html(table, subset_column=True)}</div>')
    for run in summary.runs:
        bench = run.benchmarks.get(name)
        if bench is None or bench.metrics is None:
            continue
        keys: set[str] = set()
        for values in bench.metrics.values():
            keys.update(values)
        columns = display_columns(metric_order(keys))
        rows = []
        for sub in summary.subsets(name):
            block = bench.metrics.get(sub)
            if block is not None:
                rows.append((sub, *(metric_cell(block, k) for k in columns)))
        table = Table(("subset", *columns), tuple(rows), ("l",) + ("r",) * len(columns))
        seeds = f"{bench.num_seeds} seeds" if bench.num_seeds else "greedy"
        out.append(f'<div class="card"><div class="note">{escape(run.name)} — {seeds}</div>{_table_html(table)}</div>')
    return "".join(out)


def _cost_section(summary: Summary) -> str:
    table = cost_table(summary)
    if table is None:
        return ""
    notes = [
        "Wall time is job wall time summed over the jobs of a benchmark (jobs can overlap; elapsed is first start to "
        "last end). A job that served several benchmarks is split across them in proportion to their items. "
        "GPU-hours = GPUs × wall time; cost = GPU-hours × the rate."
    ]
    for run_name, cost in summary.costs.items():
        if cost.not_ok:
            notes.append(f"{run_name}: jobs not completed (their time is counted): {', '.join(cost.not_ok)}")
        notes += [f"{run_name}: {note}" for note in cost.notes]
    text = "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
    return f'<h2 id="cost">Time and cost</h2><div class="card">{_table_html(table)}</div>{text}'


def _published_section(summary: Summary) -> str:
    table = published_table(summary)
    if table is None:
        return ""
    notes = "".join(f'<p class="note">{escape(line)}</p>' for line in published_sources(summary))
    return f'<h2 id="published">Against published scores</h2><div class="card">{_table_html(table)}</div>{notes}'


def to_html(summary: Summary) -> str:
    """Render the whole report as one HTML document with everything inline."""
    opts = summary.options
    title = escape(opts.title)
    payload, cap_notes = _items_payload(summary)
    legend = "".join(
        f'<span class="kv" style="margin-right:14px"><span style="color:{PALETTE[i % len(PALETTE)]}">■</span> '
        f"<b>{escape(r.name)}</b> {escape(str(r.directory))}</span>"
        for i, r in enumerate(summary.runs)
    )
    body = [f"<h1>{title}</h1>", f'<div class="meta">Generated {escape(summary.generated_at)}</div>']
    body.append(f'<div class="meta">Runs: {legend}</div>')
    problems = [
        f"<li><b>every benchmark</b> ({escape(r.name)}): missing — {escape(r.problem)}</li>"
        for r in summary.runs
        if r.problem
    ]
    problems += [
        f"<li><b>{escape(name)}</b> ({escape(run)}): missing — {escape(summary.missing_reason(run, bench, name))}</li>"
        for run, bench, name in summary.missing()
        if not summary.run(run).problem or (run, name) in summary.failures
    ] + [f"<li>{escape(w)}</li>" for w in summary.warnings]
    if problems:
        body.append(f'<div class="card warn"><b>Missing or incomplete</b><ul>{"".join(problems)}</ul></div>')
    body.append(f'<div class="card" id="models"><b>Models</b>{_table_html(models_table(summary))}</div>')
    body.append('<h2 id="overview">Overview</h2>')
    body.append(
        '<p class="note">Headline metric: pass@1 averaged over seeds (whiskers: ± std err over seeds) when a benchmark '
        "ran with seeds, otherwise greedy accuracy (whiskers: ± std err over items, sqrt(p(1-p)/(n-1))). "
        "Percent.</p>"
    )
    body.append(f'<div class="card">{_overview_chart(summary)}</div>')
    if len(summary.runs) > 1:
        overview = _table_html(comparison_table(summary, max_subsets=0), subset_column=True)
        body.append(f'<div class="card" id="comparison">{overview}</div>')
    if summary.baseline is not None:
        body.append(
            f'<p class="note">Δ = model − baseline (<b>{escape(summary.baseline)}</b>) in percentage points. '
            f"Bold coloured deltas are significant at p &lt; {SIGNIFICANCE_LEVEL}: McNemar's exact test on per-item "
            "correctness when both runs have one sample per item, a paired bootstrap over items (share of seeds "
            "correct per item) when either has seeds. Items are matched by id. Per-subset p-values are not corrected "
            "for multiple comparisons: with 50 subsets, expect two or three below 0.05 by chance.</p>"
        )
    body.append(_cost_section(summary))
    body.append(_published_section(summary))
    body.append('<h2 id="benchmarks">Per benchmark and subset</h2>')
    body += [_benchmark_section(summary, name) for name in summary.benchmarks]
    body.append(matrix_section(summary))
    body.append('<h2 id="browser">Items</h2>')
    cap_text = (
        f"Up to {opts.max_items} graded lines per benchmark and model are embedded (all seeds of an item together), "
        f"and up to {opts.max_text_chars} characters of each problem and generation."
    )
    body.append(f'<p class="note">{escape(cap_text)}</p>')
    if cap_notes:
        body.append('<p class="note" id="caps">Capped: ' + escape("; ".join(cap_notes)) + ".</p>")
    body.append(
        '<div class="controls">'
        '<label>Model <select id="f-model"><option value="">all</option></select></label>'
        '<label>Benchmark <select id="f-bench"><option value="">all</option></select></label>'
        '<label>Verdict <select id="f-verdict"><option value="">all</option><option value="correct">correct</option>'
        '<option value="incorrect">incorrect (incl. no answer)</option><option value="no-answer">no answer</option>'
        '<option value="ungraded">not graded</option></select></label>'
        '<label>Search <input type="search" id="f-q" placeholder="id, problem, generation, answer…"></label>'
        "</div>"
    )
    body.append('<div class="note" id="count"></div><div id="items"></div><button id="more" hidden>Show more</button>')
    noscript = "<noscript><p>The item browser needs JavaScript; the tables above do not.</p></noscript>"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{title}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}{noscript}</main>"
        f'<script type="application/json" id="np-items">{_script_json(payload)}</script>'
        f"<script>const NP_DATA = JSON.parse(document.getElementById('np-items').textContent);{URL_HASH_JS}{_JS}"
        f"{MATRIX_JS}"
        "</script></body></html>\n"
    )
