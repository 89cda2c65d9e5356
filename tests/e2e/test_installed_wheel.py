"""A non-editable install works: the wheel built from this checkout, installed into a fresh virtual environment and
run from a folder outside the checkout, evaluates end to end (on a scripted OpenAI-compatible server), composes and
validates a Slurm run (dry run), and writes job scripts that rerun by hand: configs travel as package data, and
every command is a module of the package."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.datasets import load_items
from tests.conftest import REPO, require
from tests.fakes.openai_server import Script, ScriptedServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

_NOT_SOURCE = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv"
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(python of a fresh venv holding only the wheel of this checkout, an environment without the checkout)."""
    require("setuptools and wheel (to build the wheel offline)", importlib.util.find_spec("wheel") is not None,
            "pip install wheel")  # fmt: skip
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy: building writes build/ and *.egg-info next to setup.py
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE, symlinks=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(source)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (work / "dist").glob("nemo_pipeline-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return python, env


def _run(python: Path, env: dict[str, str], cwd: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(python), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False
    )


def test_the_installed_package_is_the_wheel_with_its_configs(installed, tmp_path):
    python, env = installed
    probe = (
        "import json, nemo_pipeline, nemo_pipeline.layout as l; "
        "print(json.dumps([nemo_pipeline.__file__, str(l.CONF_DIR)]))"
    )
    done = _run(python, env, tmp_path, "-c", probe)
    assert done.returncode == 0, done.stderr
    package_file, conf_dir = json.loads(done.stdout)
    venv = python.parent.parent
    assert Path(package_file).is_relative_to(venv) and not Path(package_file).is_relative_to(REPO)
    assert Path(conf_dir) == Path(package_file).parent / "conf"
    shipped = sorted(str(p.relative_to(conf_dir)) for p in Path(conf_dir).rglob("*") if p.is_file())
    in_checkout = sorted(
        str(p.relative_to(REPO / "conf")) for p in (REPO / "conf").rglob("*") if p.suffix in (".yaml", ".jsonl")
    )
    assert shipped == in_checkout  # every config, and nothing else
    # Every data file inside the package (not Python) is in the installed copy too.
    data = [p.relative_to(REPO / "nemo_pipeline") for p in (REPO / "nemo_pipeline").rglob("*") if p.is_file()]
    data = [p for p in data if p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    missing = [str(p) for p in data if not (Path(package_file).parent / p).is_file()]
    assert data and not missing, missing


def test_an_evaluation_runs_end_to_end_from_the_installed_wheel(installed, tmp_path):
    python, env = installed
    items = load_items("gsm8k")[:4]
    # Both answer formats a gsm8k protocol reads: "The answer is N." and "#### N".
    answers = {
        i["problem"][:60]: f"The answer is {i['expected_answer']}.\n#### {i['expected_answer']}" for i in items[:3]
    }
    out = tmp_path / "out"
    with ScriptedServer(Script(answers=answers, default="The answer is 123456789.\n#### 123456789")) as server:
        done = _run(
            python, env, tmp_path, "-m", "nemo_pipeline.commands.eval", "--cluster", "local", "--benchmarks",
            "gsm8k:0", "--server_type", "openai", "--server_address", server.url, "--model", "scripted-model",
            "--output_dir", str(out), "++max_samples=4",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    assert metrics["num_entries"] == 4
    graded = [json.loads(line) for line in (out / "eval-results" / "gsm8k" / "output.jsonl").open()]
    # The output file is written in completion order; match records to items by their problem.
    verdicts = {r["problem"]: r["is_correct"] for r in graded}
    assert [verdicts[i["problem"]] for i in items] == [True, True, True, False]
    assert (out / "summary.json").exists() and (out / "report.html").exists()
    # The job scripts call the installed package's modules with the venv's interpreter, and rerun by hand.
    script = (out / "jobs" / "metrics-gsm8k.sh").read_text()
    assert f"{python} -m nemo_pipeline.commands.compute_metrics" in script
    assert "pipeline/" not in script.replace("nemo_pipeline", "")
    rerun = subprocess.run(["bash", str(out / "jobs" / "metrics-gsm8k.sh")], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=120, check=False)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    status = _run(python, env, tmp_path, "-m", "nemo_pipeline.commands.status", str(out))
    assert status.returncode == 0, status.stdout + status.stderr
    assert "generate-gsm8k" in status.stdout and "COMPLETED" in status.stdout


def test_a_slurm_run_composes_and_validates_from_the_installed_wheel(installed, tmp_path):
    python, env = installed
    out = tmp_path / "out"
    done = _run(
        python, env, tmp_path, "-m", "nemo_pipeline.commands.eval", "--cluster", "slurm", "--dry_run",
        "--benchmarks", "gsm8k:2", "--server_type", "openai", "--server_address", "http://127.0.0.1:9/v1",
        "--model", "m", "--output_dir", str(out), "++max_samples=3", "++inference.temperature=0.7",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    generate = [p.read_text() for p in sorted((out / "jobs").glob("generate*.sbatch"))]
    assert generate and all("-m nemo_pipeline.commands.generate" in text for text in generate)
    tasks = "".join(p.read_text() for p in (out / "jobs").glob("generate*.tasks.json"))
    assert "++inference.temperature=0.7" in "".join(generate) + tasks
    assert "-m nemo_pipeline.commands.evaluate" in (out / "jobs" / "evaluate-gsm8k.sbatch").read_text()
    # A typo in a key is caught by the packaged schema and configs before anything is written.
    bad = _run(
        python, env, tmp_path, "-m", "nemo_pipeline.commands.eval", "--cluster", "slurm", "--dry_run",
        "--benchmarks", "gsm8k:0", "--server_type", "openai", "--server_address", "http://127.0.0.1:9/v1",
        "--output_dir", str(tmp_path / "bad"), "++inference.temprature=0.7",
    )  # fmt: skip
    assert bad.returncode == 2 and "inference.temprature" in bad.stderr and "inference.temperature" in bad.stderr
    listing = _run(python, env, tmp_path, "-m", "nemo_pipeline.commands.prepare_data", "--list")
    assert listing.returncode == 0 and "gsm8k" in listing.stdout, listing.stderr
