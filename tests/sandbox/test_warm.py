"""Warm sandboxes are used once: a program sees nothing of the programs before it (files, processes, interpreter
state), ends as a `python -c` program would (exit codes, atexit, threads, finalizers, unflushed output), and the
async client copes with what an HTTP server may answer."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from nemo_pipeline.errors import SandboxError
from nemo_pipeline.sandbox import LocalSandbox, SandboxClient
from nemo_pipeline.sandbox._runner import slot_count

pytestmark = pytest.mark.usefixtures("clean")

# Reports what it finds of earlier programs, then leaves traces for later ones: a file in /tmp, a marker in the
# interpreter's builtins, an environment variable, and a detached process that outlives it.
_SNOOP = """
import builtins, json, os, subprocess
found = {
    "tmp": sorted(os.listdir("/tmp")),
    "builtins": hasattr(builtins, "left_by_earlier_program"),
    "env": os.environ.get("LEFT_BY_EARLIER_PROGRAM"),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "pid": os.getpid(),
}
open("/tmp/left-by-{n}", "w").write("x")
builtins.left_by_earlier_program = True
os.environ["LEFT_BY_EARLIER_PROGRAM"] = "{n}"
subprocess.Popen(["sleep", "300"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps(found))
"""


@pytest.mark.timeout(240)
def test_no_program_sees_anything_of_an_earlier_one(client: SandboxClient, health: dict) -> None:
    runs = 2 * slot_count(health["workers"]) + 1  # every slot serves at least two programs
    pids_seen = set()
    for n in range(runs):
        result = client.execute(_SNOOP.replace("{n}", str(n)), timeout=20)
        assert result.process_status == "completed", result
        found = json.loads(result.stdout)
        assert found["tmp"] == [] and not found["builtins"] and found["env"] is None, (n, found)
        # A fresh PID namespace each time: only its init and this program.
        assert len(found["pids"]) == 2 and found["pid"] in found["pids"], (n, found)
        pids_seen.add(found["pid"])
    assert len(pids_seen) == 1, pids_seen  # the same pid every time: nothing else ever ran in that namespace


@pytest.mark.timeout(60)
def test_programs_end_as_python_c_would(client: SandboxClient) -> None:
    cases = {
        "import atexit\natexit.register(print, 'at exit')\nprint('body')": ("completed", "body\nat exit\n"),
        "import threading, time\ndef late():\n    time.sleep(0.3)\n    print('thread done')\n"
        "threading.Thread(target=late).start()\nprint('main done')": ("completed", "main done\nthread done\n"),
        "class Noisy:\n    def __del__(self):\n        print('finalized')\nkept = Noisy()": (
            "completed",
            "finalized\n",
        ),
        "import sys\nsys.stdout.write('no newline')": ("completed", "no newline"),
        "import sys\nsys.exit(0)": ("completed", ""),
        "import sys\nprint('before')\nsys.exit('a message')": ("error", "before\n"),
        "import atexit\natexit.register(print, 'still runs')\nraise KeyError('k')": ("error", "still runs\n"),
    }
    for code, (status, stdout) in cases.items():
        result = client.execute(code, timeout=20)
        assert (result.process_status, result.stdout) == (status, stdout), (code, result)
    assert "a message" in client.execute("import sys\nsys.exit('a message')").stderr
    assert "KeyError: 'k'" in client.execute("raise KeyError('k')").stderr
    big = client.execute("import sys\nsys.stdout.write('y' * 200000)", max_output_characters=300000)
    assert big.process_status == "completed" and len(big.stdout) == 200000


class _Quirky(BaseHTTPRequestHandler):
    """Answers /execute with a chunked body and then drops the connection, as a server closing idle ones does."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append({"body": body, "session": self.headers.get("X-Session-ID")})
        payload = json.dumps({"process_status": "completed", "stdout": body["generated_code"], "stderr": ""}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        half = len(payload) // 2
        for piece in (payload[:half], payload[half:], b""):
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.close_connection = True  # without saying so: the client finds out on its next request


@pytest.fixture()
def quirky_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Quirky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(60)
def test_async_client_reads_chunked_answers_and_reconnects(quirky_url: str) -> None:
    async def run() -> list[str]:
        client = SandboxClient(quirky_url, retries=0)  # a stale kept-alive connection must not cost a retry
        try:
            out = []
            for i in range(3):
                result = await client.execute_async(f"program {i}", session_id=f"s{i}")
                out.append(result.stdout)
            return out
        finally:
            await client.aclose()

    _Quirky.seen = []
    assert asyncio.run(run()) == ["program 0", "program 1", "program 2"]
    assert [seen["session"] for seen in _Quirky.seen] == ["s0", "s1", "s2"]
    assert _Quirky.seen[0]["body"]["language"] == "python"


@pytest.mark.timeout(60)
def test_async_client_names_an_unreachable_sandbox() -> None:
    async def run() -> None:
        client = SandboxClient("http://127.0.0.1:9", retries=1, backoff_s=0.01)
        try:
            await client.execute_async("print(1)")
        finally:
            await client.aclose()

    with pytest.raises(SandboxError, match=r"127\.0\.0\.1:9"):
        asyncio.run(run())


@pytest.mark.timeout(60)
def test_async_client_against_the_real_server(sandbox: LocalSandbox) -> None:
    async def run() -> list[str]:
        client = SandboxClient(sandbox.url)
        try:
            results = await asyncio.gather(*(client.execute_async(f"print({i} ** 2)") for i in range(12)))
            with pytest.raises(SandboxError, match=r"HTTP 400.*unknown language"):
                await client.execute_async("x", language="no-such-language")
            return [r.stdout for r in results]
        finally:
            await client.aclose()

    assert asyncio.run(run()) == [f"{i**2}\n" for i in range(12)]
