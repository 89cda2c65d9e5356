"""Log-likelihood scoring opens its client where an earlier task against the same server settled, as generation
does, and leaves the limit it settled at for the next one: the scripted server counts the requests in flight
before its first answer."""

from __future__ import annotations

from pathlib import Path

from nemo_pipeline.inference import _client_report, run_generate
from tests.loglik.scripted_logprobs import LogprobScript, LogprobServer
from tests.loglik.test_loglik_scripted import _generate_cfg, _mc_file

# Three items: 3 context counts + 6 choice scores, all ready at once.
REQUESTS = 9


def _peak_in_flight(tmp_path: Path, settled: int | None) -> tuple[int, bool]:
    script = LogprobScript(latency_s=0.5)
    with LogprobServer(script) as server:
        if settled is not None:
            _client_report._SETTLED[server.url] = settled
        try:
            run_generate(_generate_cfg(server.url, _mc_file(tmp_path / "mc.jsonl"), tmp_path / "out.jsonl"))
            remembered = server.url in _client_report._SETTLED
        finally:
            _client_report._SETTLED.pop(server.url, None)
    assert len(script.requests) == REQUESTS
    return script.peak_before_first_answer, remembered


def test_loglik_opens_at_the_limit_an_earlier_task_settled_at(tmp_path):
    assert _peak_in_flight(tmp_path, settled=3) == (3, True)


def test_without_a_settled_limit_every_request_goes_out_at_once(tmp_path):
    assert _peak_in_flight(tmp_path, settled=None) == (REQUESTS, True)
