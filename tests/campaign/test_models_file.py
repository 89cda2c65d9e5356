"""Every bad models file fails before anything starts, in one line naming the entry and the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.campaign import load_models_file
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.pipeline_eval import parse_eval_args

GOOD = """
- name: base
  model: /models/base
  server_type: vllm
  server_gpus: 8
  tensor_parallel: 8
  server_args: ["--max-num-seqs", "512"]
  baseline: true
- name: tuned
  model: /models/tuned
  server_type: vllm
  prompt_config: generic/math
  overrides: ["++inference.temperature=0.6"]
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    return path


@pytest.mark.timeout(30)
def test_a_good_file_gives_each_model_its_own_config(tmp_path):
    request = parse_eval_args(
        ["--models", str(_file(tmp_path, GOOD)), "--benchmarks", "gsm8k:0", "--output_dir", str(tmp_path / "o"),
         "++max_samples=3"]
    )  # fmt: skip
    base, tuned = request.models
    assert (base.name, base.cfg.server.model, base.cfg.server.gpus, base.cfg.server.tensor_parallel) == (
        "base", "/models/base", 8, 8,
    )  # fmt: skip
    assert base.cfg.server.extra_args == ["--max-num-seqs", "512"] and base.cfg.max_samples == 3
    assert tuned.cfg.inference.temperature == 0.6 and base.cfg.inference.temperature is None
    assert tuned.cfg.prompt_config == "generic/math" and base.entry is not None and base.entry.baseline


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- name: a\n  modle: x\n", r"entry 1 \('a'\): unknown key 'modle'. Did you mean 'model'"),
        ("- name: a\n- name: a\n", r"entry 2: name 'a' is also entry 1"),
        ("- name: a\n  baseline: true\n- name: b\n  baseline: true\n", r"'baseline' is true on 2 entries"),
        ("- name: a\n  server_gpus: eight\n", r"entry 1 \('a'\): key 'server_gpus' must be int"),
        ("- name: a\n  baseline: 'yes'\n", r"entry 1 \('a'\): key 'baseline' must be bool"),
        ("- model: x\n", r"entry 1: key 'name' is required"),
        ("- name: a/b\n", r"key 'name' must be a folder name"),
        ("- name: a\n  overrides: ['inference.temperature=1']\n", r"'inference.temperature=1' is not of the form"),
        ("[]\n", r"non-empty list"),
        ("- name: a\n  server_args: --flag\n", r"key 'server_args' must be a list of strings"),
    ],
)
def test_a_bad_file_fails_in_one_line_naming_entry_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        load_models_file(_file(tmp_path, text))
    assert "\n" not in str(caught.value)


@pytest.mark.timeout(30)
def test_a_bad_override_names_the_entry(tmp_path):
    path = _file(tmp_path, "- name: a\n  overrides: ['++inference.temprature=1']\n")
    with pytest.raises(ConfigError, match=r"entry 'a': unknown config key 'inference.temprature'"):
        parse_eval_args(["--models", str(path), "--benchmarks", "gsm8k:0", "--output_dir", str(tmp_path / "o")])


@pytest.mark.timeout(60)
def test_models_and_model_together_is_an_error_from_the_command_line(tmp_path, repo, env_with_repo):
    path = _file(tmp_path, GOOD)
    done = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "eval.py"), "--models", str(path), "--model", "/m",
         "--benchmarks", "gsm8k:0", "--output_dir", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=60, env=env_with_repo, cwd=repo, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "--models names every model's server" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "o").exists()


@pytest.mark.timeout(60)
def test_a_server_type_that_cannot_score_loglikelihood_fails_before_anything_starts(tmp_path, repo, env_with_repo):
    done = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", "hellaswag:0", "--server_type",
         "llamacpp", "--output_dir", str(tmp_path / "o"), "--dry_run"],
        capture_output=True, text=True, timeout=60, env=env_with_repo, cwd=repo, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "server type 'llamacpp' does not return" in done.stderr and "llamacpp-python" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "o" / "jobs").exists()
