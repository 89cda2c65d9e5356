"""Markers as records: the done and graded markers and progress files are written and read by one class each,
carry a schema version, and the markers an older nemo-pipeline wrote (no version, no ids) still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nemo_pipeline.config import EvaluateConfig, GenerateConfig, MetricsConfig
from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation.stages import run_compute_metrics, run_evaluate
from nemo_pipeline.layout import (
    done_marker,
    generated_ids,
    graded_marker,
    grading_stamp,
    is_complete,
    selection_stamp,
)
from nemo_pipeline.progress import ProgressWriter, read_progress
from nemo_pipeline.records import (
    MARKER_SCHEMA_VERSION,
    DoneMarker,
    GradedMarker,
    read_done_marker,
    read_graded_marker,
    read_marker,
    write_done_marker,
    write_graded_marker,
    write_marker,
)


def test_a_marker_records_its_stamp_and_version_and_reads_back_the_stamp(tmp_path: Path) -> None:
    path = tmp_path / "x.stamp"
    write_marker(path, {"inputs": {"output.jsonl": "ab12"}})
    assert json.loads(path.read_text()) == {"inputs": {"output.jsonl": "ab12"}, "schema_version": MARKER_SCHEMA_VERSION}
    assert read_marker(path) == {"inputs": {"output.jsonl": "ab12"}}
    assert is_complete(path, {"inputs": {"output.jsonl": "ab12"}})
    assert not is_complete(path, {"inputs": {"output.jsonl": "cd34"}})


def test_missing_torn_or_non_object_markers_read_as_absent(tmp_path: Path) -> None:
    assert read_marker(tmp_path / "missing") is None
    (tmp_path / "torn").write_text('{"grader": "ma')
    (tmp_path / "list").write_text("[1, 2]")
    assert read_marker(tmp_path / "torn") is None and read_marker(tmp_path / "list") is None
    assert not is_complete(tmp_path / "torn", {})


def test_a_marker_from_a_newer_version_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "output.jsonl.done"
    path.write_text(json.dumps({"max_samples": -1, "ids": ["1"], "schema_version": MARKER_SCHEMA_VERSION + 1}))
    with pytest.raises(DataError, match=r"output\.jsonl\.done: schema_version 2 is newer"):
        read_marker(path)


def test_done_marker_round_trips_and_is_what_the_graph_asks(tmp_path: Path) -> None:
    out = tmp_path / "output.jsonl"
    cfg = GenerateConfig(input_file="in.jsonl", output_file=str(out), max_samples=2)
    marker = DoneMarker(selection_stamp(cfg), ("a", "b"))
    write_done_marker(done_marker(out), marker)
    assert read_done_marker(done_marker(out)) == marker
    assert is_complete(done_marker(out), selection_stamp(cfg))
    assert not is_complete(done_marker(out), selection_stamp(GenerateConfig(max_samples=3)))
    assert generated_ids(out) == ["a", "b"]


def test_an_old_done_marker_still_reads(tmp_path: Path) -> None:
    """As an earlier nemo-pipeline wrote it: no version; the first ones recorded no ids either."""
    out = tmp_path / "output.jsonl"
    stamp = {"max_samples": -1, "max_samples_per_subset": None, "num_chunks": 1, "chunk_id": 0}
    done_marker(out).write_text(json.dumps({**stamp, "ids": ["1", "2"]}, sort_keys=True) + "\n")
    assert is_complete(done_marker(out), stamp) and generated_ids(out) == ["1", "2"]
    done_marker(out).write_text(json.dumps(stamp) + "\n")
    assert read_done_marker(done_marker(out)) == DoneMarker(stamp, None)
    assert generated_ids(out) is None  # which items were selected is unknown: not a complete generation


def test_a_done_marker_with_bad_ids_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "output.jsonl.done"
    path.write_text(json.dumps({"max_samples": -1, "ids": "1,2"}))
    with pytest.raises(DataError, match=r"output\.jsonl\.done: 'ids' should be a list"):
        read_done_marker(path)


def _graded_file(tmp_path: Path) -> Path:
    bench = tmp_path / "eval-results" / "gsm8k"
    bench.mkdir(parents=True)
    items = [
        {"id": "1", "problem": "1+1?", "expected_answer": "2", "generation": "The answer is \\boxed{2}"},
        {"id": "2", "problem": "1+2?", "expected_answer": "3", "generation": "no idea"},
        {"id": "3", "problem": "2+2?", "expected_answer": "4", "generation": "\\boxed{4}"},
    ]
    (bench / "output.jsonl").write_text("".join(json.dumps(item) + "\n" for item in items))
    return bench / "output.jsonl"


def test_the_evaluate_stage_writes_the_graded_marker_the_metrics_stage_reads(tmp_path: Path) -> None:
    out = _graded_file(tmp_path)
    run_evaluate(EvaluateConfig(input_files=[str(out)], grader="math"))
    marker = read_graded_marker(graded_marker(out))
    assert marker == GradedMarker(grading_stamp("math", None, ["1", "2", "3"]), 3, ("1", "2", "3"))
    assert is_complete(graded_marker(out), grading_stamp("math", None, ["1", "2", "3"]))
    # The metrics stage counts only the ids the marker names.
    write_graded_marker(graded_marker(out), GradedMarker(marker.stamp, 2, ("1", "2")))
    metrics = run_compute_metrics(MetricsConfig(benchmark_dir=str(out.parent)))
    assert metrics["metrics"]["all"]["num_entries"] == 2 and metrics["metrics"]["all"]["accuracy"] == 50.0


def test_an_old_graded_marker_without_ids_counts_every_line(tmp_path: Path) -> None:
    out = _graded_file(tmp_path)
    run_evaluate(EvaluateConfig(input_files=[str(out)], grader="math"))
    graded_marker(out).write_text(json.dumps({"grader": "math", "items": 3}) + "\n")  # the first markers' shape
    metrics = run_compute_metrics(MetricsConfig(benchmark_dir=str(out.parent)))
    assert metrics["metrics"]["all"]["num_entries"] == 3
    assert metrics["metrics"]["all"]["accuracy"] == 200.0 / 3


def test_a_graded_marker_with_a_bad_count_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "output.jsonl.graded"
    path.write_text(json.dumps({"grader": "math", "items": "3", "ids": ["1"]}))
    with pytest.raises(DataError, match=r"output\.jsonl\.graded: 'items' should be a non-negative integer"):
        read_graded_marker(path)


def test_progress_is_written_and_read_as_a_record_and_old_files_still_read(tmp_path: Path) -> None:
    out = tmp_path / "output.jsonl"
    writer = ProgressWriter(out, total=4, done=1, interval_s=0.0)
    writer.advance(2)
    progress = read_progress(out)
    assert progress is not None and (progress.done, progress.total, progress.generated) == (3, 4, 2)
    path = writer.path
    path.write_text(json.dumps({"done": 1, "total": 2, "generated": 1, "started_at": 0.0, "updated_at": 2.0}))
    old = read_progress(out)
    assert old is not None and old.items_per_s == 0.5 and old.describe() == "1/2 items, 0.50 items/s, ~2 s left"
    path.write_text(json.dumps({"done": "1", "total": 2}))
    assert read_progress(out) is None  # shown, never relied on: a bad file is no progress
