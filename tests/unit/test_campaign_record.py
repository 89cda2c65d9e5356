"""campaign.json: written from the models file and read by the report and the layout through one class, versioned,
and a campaign directory written before versions still reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nemo_pipeline.campaign import load_models_file
from nemo_pipeline.errors import DataError
from nemo_pipeline.layout import campaign_record_file, campaign_runs
from nemo_pipeline.records import (
    CAMPAIGN_SCHEMA_VERSION,
    CampaignModel,
    CampaignRecord,
    UnreadableRecordError,
    read_campaign_record,
    write_campaign_record,
)
from nemo_pipeline.report import read_campaign

# campaign.json as eval.py wrote it before records carried a schema version.
OLD_CAMPAIGN = {
    "models": [
        {
            "name": "base",
            "model": "/models/base",
            "server_type": "vllm",
            "server_address": None,
            "overrides": ['++server.model="/models/base"', '++server.server_type="vllm"'],
            "baseline": True,
            "published": None,
            "published_file": None,
        },
        {
            "name": "tuned",
            "model": "",
            "server_type": None,
            "server_address": "http://127.0.0.1:5000",
            "overrides": [],
            "baseline": False,
            "published": None,
            "published_file": None,
        },
    ],
    "benchmarks": ["gsm8k:0", "aime25:4"],
    "cluster": "local",
    "command": "python pipeline/eval.py --models models.yaml",
    "cost_per_gpu_hour": 2.5,
}


def _write(directory: Path, data: dict) -> Path:
    path = campaign_record_file(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def test_the_models_file_round_trips_through_campaign_json(tmp_path: Path) -> None:
    models = tmp_path / "models.yaml"
    models.write_text(
        "- name: base\n  model: /models/base\n  server_type: vllm\n  baseline: true\n"
        "- name: tuned\n  server_type: openai\n  server_address: http://127.0.0.1:5000\n"
        '  overrides: ["++inference.temperature=0.6"]\n'
    )
    entries = load_models_file(models)
    record = CampaignRecord(
        models=tuple(entry.campaign_model() for entry in entries),
        benchmarks=("gsm8k:0",),
        cluster="local",
        command="python pipeline/eval.py --models models.yaml",
    )
    path = campaign_record_file(tmp_path / "out")
    write_campaign_record(path, record)
    data = json.loads(path.read_text())
    assert list(data) == ["models", "benchmarks", "cluster", "command", "cost_per_gpu_hour", "schema_version"]
    assert data["schema_version"] == CAMPAIGN_SCHEMA_VERSION == 1
    assert data["models"][1]["overrides"] == [
        '++server.server_type="openai"',
        '++server.address="http://127.0.0.1:5000"',
        "++inference.temperature=0.6",
    ]
    assert read_campaign_record(path) == record
    assert record.baseline is not None and record.baseline.name == "base"
    assert [run.root for run in campaign_runs(tmp_path / "out")] == [
        tmp_path / "out" / "base",
        tmp_path / "out" / "tuned",
    ]


def test_an_old_campaign_json_without_a_version_reads(tmp_path: Path) -> None:
    path = _write(tmp_path, OLD_CAMPAIGN)
    record = read_campaign_record(path)
    assert record.schema_version == 1 and record.cost_per_gpu_hour == 2.5
    assert record.models[1] == CampaignModel("tuned", server_address="http://127.0.0.1:5000")
    campaign = read_campaign(tmp_path)
    assert [(m.name, m.server_type, m.baseline) for m in campaign.models] == [
        ("base", "vllm", True),
        ("tuned", "", False),
    ]
    assert campaign.benchmarks == ("gsm8k:0", "aime25:4") and campaign.benchmark_names == ("gsm8k", "aime25")
    assert campaign.run_dirs == {"base": tmp_path / "base", "tuned": tmp_path / "tuned"}


def test_a_newer_campaign_json_is_a_one_line_error_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {**OLD_CAMPAIGN, "schema_version": CAMPAIGN_SCHEMA_VERSION + 1})
    for read in (lambda: read_campaign_record(path), lambda: read_campaign(tmp_path), lambda: campaign_runs(tmp_path)):
        with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: schema_version 2 is newer") as caught:
            read()
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"models": []}, "'models' should be a non-empty list"),
        ({"models": [{"model": "x"}]}, "models[0]: expected an object with a non-empty 'name'"),
        ({"models": [{"name": "../up"}]}, "models[0]: name '../up' is not a folder name"),
        ({"models": [{"name": "a"}, {"name": "b", "server_type": 3}]}, "models[1].server_type: expected a string"),
        ({"models": [{"name": "a", "overrides": "++x=1"}]}, "models[0].overrides: expected a list of strings"),
        ({"models": [{"name": "a"}, {"name": "a"}]}, "model names must be unique, repeated: ['a']"),
        ({"benchmarks": "gsm8k:0"}, "benchmarks: expected a list of strings"),
        ({"cluster": 1}, "cluster: expected a string"),
        ({"cost_per_gpu_hour": -2}, "cost_per_gpu_hour should be a number >= 0 or null, got -2"),
    ],
)
def test_a_bad_campaign_json_is_an_error_naming_the_file_and_the_key(
    tmp_path: Path, change: dict, message: str
) -> None:
    path = _write(tmp_path, {**OLD_CAMPAIGN, **change})
    for read in (lambda: read_campaign(tmp_path), lambda: campaign_runs(tmp_path)):
        with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: {re.escape(message)}"):
            read()


def test_a_campaign_json_that_is_not_an_object_is_no_campaign_for_the_layout(tmp_path: Path) -> None:
    path = _write(tmp_path, {})
    path.write_text("[]")
    assert campaign_runs(tmp_path) == []  # as before: not a campaign directory
    with pytest.raises(UnreadableRecordError, match=rf"^{re.escape(str(path))}: expected a JSON object"):
        read_campaign(tmp_path)  # the report asked for a campaign: it says why there is none
