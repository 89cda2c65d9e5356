"""Summaries of evaluation runs: terminal, Markdown, CSV and JSON tables, paired significance tests against a
baseline, and a self-contained static HTML report with charts and a per-item browser."""

from nemo_pipeline.report._html import to_html, verdict_of
from nemo_pipeline.report._load import BenchmarkRun, GradedItem, ModelRun, load_run, read_graded_items
from nemo_pipeline.report._stats import (
    SIGNIFICANCE_LEVEL,
    PairedTest,
    mcnemar_exact,
    paired_bootstrap,
    paired_test,
)
from nemo_pipeline.report._summary import (
    BenchmarkItems,
    Comparison,
    Summary,
    SummaryOptions,
    build_summary,
    headline_metric,
)
from nemo_pipeline.report._svg import Bar, grouped_bars
from nemo_pipeline.report._tables import (
    comparison_table,
    metrics_table,
    summary_dict,
    to_csv,
    to_json,
    to_markdown,
    to_text,
)
from nemo_pipeline.report._write import WrittenReport, write_reports

__all__ = [
    "SIGNIFICANCE_LEVEL",
    "Bar",
    "BenchmarkItems",
    "BenchmarkRun",
    "Comparison",
    "GradedItem",
    "ModelRun",
    "PairedTest",
    "Summary",
    "SummaryOptions",
    "WrittenReport",
    "build_summary",
    "comparison_table",
    "grouped_bars",
    "headline_metric",
    "load_run",
    "mcnemar_exact",
    "metrics_table",
    "paired_bootstrap",
    "paired_test",
    "read_graded_items",
    "summary_dict",
    "to_csv",
    "to_html",
    "to_json",
    "to_markdown",
    "to_text",
    "verdict_of",
    "write_reports",
]
