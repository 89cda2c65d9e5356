"""A local run where one benchmark's generation fails and another's works: the run fails, the working benchmark's
results are complete, and the summary names the missing benchmark and why it is missing."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from tests.fakes.openai_server import Script, ScriptedServer

ITEMS = 2
REFUSAL = "scripted refusal of multiple-choice prompts"


def _refusing_mcq(server: ScriptedServer) -> None:
    """Make `server` answer HTTP 400 to every multiple-choice prompt (gpqa-diamond), and as scripted otherwise."""
    base = server.httpd.RequestHandlerClass

    class RefuseMcq(base):  # type: ignore[misc, valid-type]
        def do_POST(self) -> None:  # noqa: N802 (http.server names)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if b"multiple choice question" in raw:
                with server.script.lock:
                    server.script.requests.append(json.loads(raw))
                body = json.dumps({"error": {"message": REFUSAL, "type": "invalid_request_error"}}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.rfile = io.BytesIO(raw)
            super().do_POST()

    server.httpd.RequestHandlerClass = RefuseMcq


@pytest.mark.timeout(300)
def test_summary_names_the_failed_benchmark_and_why(tmp_path, repo, env_with_repo):
    out = tmp_path / "out"
    with ScriptedServer(Script(default="The answer is 4.")) as server:
        _refusing_mcq(server)
        argv = [
            sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", "local",
            "--benchmarks", "gsm8k:0,gpqa-diamond:0", "--server_type", "openai", "--server_address", server.url,
            "--output_dir", str(out), f"++max_samples={ITEMS}",
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env_with_repo, cwd=repo)
        mcq_asked = sum("multiple choice question" in json.dumps(r) for r in server.script.requests)
    assert mcq_asked >= 1  # gpqa-diamond was really asked, and refused
    assert done.returncode != 0, "a run with a failed benchmark must not exit 0"
    assert "gpqa-diamond" in done.stderr and "HTTP 400" in done.stderr, done.stderr[-3000:]
    assert not (out / "eval-results" / "gpqa-diamond" / "metrics.json").exists()
    # The summary still ran (after any outcome), and its note on the missing benchmark says that generation failed
    # and with what error, not only that a file is absent.
    summary_md = (out / "summary.md").read_text()
    notes = [line for line in summary_md.splitlines() if line.startswith("- MISSING gpqa-diamond")]
    assert len(notes) == 1, summary_md
    assert "generat" in notes[0] and "fail" in notes[0], notes[0]
    assert "HTTP 400" in notes[0] or REFUSAL in notes[0], notes[0]
    assert "gpqa-diamond" in json.dumps(json.loads((out / "summary.json").read_text()))
    # The benchmark whose generation worked is graded and measured all the same: one failure costs one benchmark.
    assert not any(line.startswith("- MISSING gsm8k") for line in summary_md.splitlines()), summary_md
    gsm8k = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    assert gsm8k["num_entries"] == ITEMS
