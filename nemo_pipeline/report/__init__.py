"""Summaries of evaluation runs: terminal, Markdown, CSV and JSON tables, paired significance tests against a
baseline, and a self-contained static HTML report with charts and a per-item browser."""

from nemo_pipeline.report._campaign import Campaign, ModelInfo, is_campaign, read_campaign, read_run_info
from nemo_pipeline.report._cost import PlanCheck, RunCost, Usage, run_cost
from nemo_pipeline.report._export import summary_dict, to_csv, to_json
from nemo_pipeline.report._html import to_html
from nemo_pipeline.report._load import BenchmarkRun, GradedItem, ModelRun, load_run, read_graded_items, verdict_of
from nemo_pipeline.report._matrix import matrix_payload
from nemo_pipeline.report._published import (
    PublishedComparison,
    PublishedModel,
    PublishedRow,
    PublishedScore,
    choose_published,
    compare_published,
    find_published,
    load_published,
    shipped_baselines_file,
)
from nemo_pipeline.report._stats import (
    SIGNIFICANCE_LEVEL,
    PairedTest,
    mcnemar_exact,
    paired_bootstrap,
    paired_test,
    proportion_std_err,
)
from nemo_pipeline.report._summary import (
    BenchmarkItems,
    Comparison,
    ItemAnswer,
    Summary,
    SummaryOptions,
    build_campaign_summary,
    build_summary,
    headline_metric,
    with_published,
)
from nemo_pipeline.report._svg import Bar, grouped_bars
from nemo_pipeline.report._tables import (
    comparison_table,
    cost_table,
    fmt_duration,
    metrics_table,
    models_table,
    published_table,
    to_markdown,
    to_text,
)
from nemo_pipeline.report._write import WrittenReport, write_reports

__all__ = [
    "SIGNIFICANCE_LEVEL",
    "Bar",
    "BenchmarkItems",
    "BenchmarkRun",
    "Campaign",
    "Comparison",
    "GradedItem",
    "ItemAnswer",
    "ModelInfo",
    "ModelRun",
    "PairedTest",
    "PlanCheck",
    "PublishedComparison",
    "PublishedModel",
    "PublishedRow",
    "PublishedScore",
    "RunCost",
    "Summary",
    "SummaryOptions",
    "Usage",
    "WrittenReport",
    "build_campaign_summary",
    "build_summary",
    "choose_published",
    "compare_published",
    "comparison_table",
    "cost_table",
    "find_published",
    "fmt_duration",
    "grouped_bars",
    "headline_metric",
    "is_campaign",
    "load_published",
    "load_run",
    "matrix_payload",
    "mcnemar_exact",
    "metrics_table",
    "models_table",
    "paired_bootstrap",
    "paired_test",
    "proportion_std_err",
    "published_table",
    "read_campaign",
    "read_graded_items",
    "read_run_info",
    "run_cost",
    "shipped_baselines_file",
    "summary_dict",
    "to_csv",
    "to_html",
    "to_json",
    "to_markdown",
    "to_text",
    "verdict_of",
    "with_published",
    "write_reports",
]
