"""Hostile programs against a real sandbox: each ends with the right status, leaves no process, and the server
serves the next request (the `clean` fixture checks both after every test)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nemo_pipeline.sandbox import LocalSandbox, SandboxClient
from tests.conftest import DEV_INSTALL, require
from tests.sandbox.conftest import SECRET_NAME, SECRET_VALUE

pytestmark = pytest.mark.usefixtures("clean")


@pytest.mark.timeout(60)
def test_health_reports_every_layer_in_force(health: dict) -> None:
    iso = health["isolation"]
    assert health["status"] == "ok"
    assert iso["bubblewrap"] and iso["uid_drop"] and not iso["weak"], iso
    assert iso["cgroup"] in ("v1", "v2")
    assert iso["rlimits"]["processes"] == 32
    assert health["languages"]["python"].startswith("/") and not health["languages"]["python"].startswith("/root")


@pytest.mark.timeout(60)
def test_plain_programs(client: SandboxClient) -> None:
    ok = client.execute("import sys, os\nprint(sys.stdin.read().upper(), os.getuid() != 0)", std_input="abc")
    assert (ok.process_status, ok.stdout) == ("completed", "ABC True\n")
    failing = client.execute("def f():\n    raise ValueError('boom')\nf()")
    assert failing.process_status == "error"
    assert "ValueError: boom" in failing.stderr and "_nemo_sandbox_bootstrap" not in failing.stderr
    assert client.execute("import sys; sys.exit(3)").process_status == "error"
    assert client.execute("raise SystemExit(0)").process_status == "completed"
    assert client.execute("def broken(:\n").process_status == "error"
    shell = client.execute("echo $((6*7)); exit 0", language="shell")
    assert (shell.process_status, shell.stdout) == ("completed", "42\n")
    assert client.execute("exit 4", language="shell").process_status == "error"


@pytest.mark.timeout(60)
def test_pypy3_runs_isolated_when_installed(sandbox: LocalSandbox, client: SandboxClient, health: dict) -> None:
    require(
        "pypy3", not health["languages"]["pypy3"].startswith("unavailable"), f"{DEV_INSTALL} (or apt-get install pypy3)"
    )
    done = client.execute("import platform\nprint(platform.python_implementation(), sum(range(10)))", language="pypy3")
    assert (done.process_status, done.stdout) == ("completed", "PyPy 45\n")
    # The same isolation as CPython: the sandbox server's own port on the host is out of reach, and a timeout
    # ends the program.
    port = int(sandbox.url.rsplit(":", 1)[1])
    escaped = client.execute(
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)", language="pypy3"
    )
    assert escaped.process_status == "error" and "Connection refused" in escaped.stderr
    assert client.execute("while True: pass", language="pypy3", timeout=2).process_status == "timeout"


@pytest.mark.timeout(60)
def test_missing_languages_are_reported_unavailable(client: SandboxClient, health: dict) -> None:
    for language in ("pypy3", "lean4"):
        if health["languages"][language].startswith("unavailable"):
            result = client.execute("print(1)", language=language)
            assert result.process_status == "failed" and "unavailable" in result.stderr


@pytest.mark.timeout(60)
def test_fork_bomb(client: SandboxClient) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    started = time.monotonic()
    result = client.execute(code, timeout=3)
    assert result.process_status == "timeout"
    assert time.monotonic() - started < 15


@pytest.mark.timeout(60)
def test_memory_bomb(client: SandboxClient) -> None:
    at_once = client.execute("x = bytearray(8 * 1024**3)")
    assert at_once.process_status == "error" and "MemoryError" in at_once.stderr
    gradual = client.execute("chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024**2))\n", timeout=20)
    assert gradual.process_status == "error", gradual


@pytest.mark.timeout(60)
def test_infinite_loop_times_out_on_time(client: SandboxClient) -> None:
    started = time.monotonic()
    result = client.execute("print('before', flush=True)\nwhile True:\n    pass", timeout=1)
    elapsed = time.monotonic() - started
    assert result.process_status == "timeout" and "before" in result.stdout
    assert 0.9 < elapsed < 5, elapsed


@pytest.mark.timeout(60)
def test_cpu_spinning_children_are_killed_on_timeout(client: SandboxClient) -> None:
    code = (
        "import multiprocessing, time\n"
        "def spin():\n    while True:\n        pass\n"
        "for _ in range(4):\n    multiprocessing.Process(target=spin).start()\n"
        "time.sleep(100)\n"
    )
    assert client.execute(code, timeout=1.5).process_status == "timeout"


@pytest.mark.timeout(60)
def test_children_left_spinning_by_a_finished_program_are_killed(client: SandboxClient) -> None:
    code = "import os\nfor _ in range(3):\n    if os.fork() == 0:\n        while True:\n            pass\n"
    code += "print('parent done')"
    result = client.execute(code, timeout=5)
    assert (result.process_status, result.stdout) == ("completed", "parent done\n")


@pytest.mark.timeout(60)
def test_setsid_and_double_fork_escapes(client: SandboxClient) -> None:
    code = (
        "import os, subprocess, time\n"
        "subprocess.Popen(['setsid', 'sleep', '1000'])\n"
        "subprocess.Popen(['nohup', 'sleep', '1001'], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(1000)\n"
        "    os._exit(0)\n"
        "print('escaped?')\n"
    )
    assert client.execute(code, timeout=5).process_status == "completed"


@pytest.mark.timeout(60)
def test_no_network_to_the_hosts_loopback(client: SandboxClient) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(listener.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\nprint('connected')"
    result = client.execute(code, timeout=8)
    thread.join()
    listener.close()
    assert result.process_status == "error" and "connected" not in result.stdout
    assert not accepted
    dns = client.execute("import socket\nsocket.getaddrinfo('example.com', 80)", timeout=8)
    assert dns.process_status == "error"


@pytest.fixture()
def host_writable_dir() -> Iterator[Path]:
    """A world-writable directory on the host outside /tmp, so only the sandbox's read-only mount can stop a write."""
    path = Path(tempfile.mkdtemp(prefix="nemo-sandbox-attack-", dir="/var/tmp"))
    os.chmod(path, 0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(60)
def test_filesystem_is_read_only_outside_a_private_tmp(client: SandboxClient, host_writable_dir: Path) -> None:
    # Every target directory exists inside the sandbox too; the world-writable one needs the read-only mount.
    blocked = [host_writable_dir / "written-by-sandbox", Path("/etc/nemo-evil"), Path("/usr/nemo-evil")]
    private = [Path("/root/nemo-evil"), Path("/tmp/nemo-evil")]  # private tmpfs: writable inside, gone outside
    code = (
        "import errno\n"
        f"for path in {[str(t) for t in blocked + private]!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print('blocked', path, errno.errorcode.get(exc.errno, exc.errno))\n"
    )
    result = client.execute(code)
    assert result.process_status == "completed", result
    reported = dict(line.split(" ", 2)[1:] for line in result.stdout.splitlines() if line.startswith("blocked "))
    # Refused by the read-only mount itself (EROFS), not by file permissions, and the program was told so.
    assert {str(t): "EROFS" for t in blocked} == reported, result.stdout
    assert [f"WROTE {t}" for t in private] == [line for line in result.stdout.splitlines() if "WROTE" in line]
    assert not any(t.exists() for t in blocked + private), [t for t in blocked + private if t.exists()]
    assert list(host_writable_dir.iterdir()) == []
    # Without a handler the attempt ends the program with an error that names the refusal.
    crashed = client.execute(f"open({str(blocked[0])!r}, 'w').write('x')")
    assert crashed.process_status == "error" and "Read-only file system" in crashed.stderr, crashed
    assert not blocked[0].exists()
    # /tmp is private to each run
    assert client.execute("import os; print(os.path.exists('/tmp/nemo-evil'))").stdout == "False\n"


@pytest.mark.timeout(60)
def test_root_home_and_server_environment_stay_hidden(client: SandboxClient) -> None:
    code = (
        "import os, glob\n"
        "print('root:', os.listdir('/root'))\n"
        f"print('env:', {SECRET_NAME!r} in os.environ)\n"
        "hits = []\n"
        "for path in glob.glob('/proc/*/environ'):\n"
        "    try:\n"
        f"        hits.append({SECRET_VALUE!r}.encode() in open(path, 'rb').read())\n"
        "    except OSError:\n"
        "        pass\n"
        "print('leak:', any(hits), len(hits))\n"
        "for path in ['/root/.bashrc', '/root/.pyenv/version']:\n"
        "    try:\n"
        "        open(path).read(); print('READ', path)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    result = client.execute(code)
    assert result.process_status == "completed", result
    assert "root: []" in result.stdout and "env: False" in result.stdout
    assert "leak: False" in result.stdout and "READ" not in result.stdout
    assert SECRET_VALUE not in result.stdout + result.stderr
    shell = client.execute("cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; env", language="shell")
    assert SECRET_VALUE not in shell.stdout


@pytest.mark.timeout(60)
def test_killing_its_parent_and_everything_else(client: SandboxClient) -> None:
    code = "import os, signal\nfor pid in (os.getppid(), 1, -1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
    code += "    except OSError as exc:\n        print(pid, exc)\n"
    result = client.execute(code, timeout=5)
    assert result.process_status in ("error", "completed")


@pytest.mark.timeout(60)
def test_100mb_of_output_is_cut(client: SandboxClient) -> None:
    result = client.execute("import sys\nsys.stdout.write('x' * 100_000_000)", max_output_characters=1000, timeout=30)
    assert result.process_status == "completed"
    assert result.stdout == "x" * 1000 + "<output cut>"
    endless = client.execute("while True:\n    print('y' * 1000)", max_output_characters=50, timeout=1)
    assert endless.process_status == "timeout" and endless.stdout.startswith("y" * 50)


@pytest.mark.timeout(60)
def test_binary_and_invalid_utf8_output(client: SandboxClient) -> None:
    code = (
        "import sys\nsys.stdout.buffer.write(bytes(range(256)) + b'\\xff\\xfe end')\nsys.stderr.buffer.write(b'\\xc3(')"
    )
    result = client.execute(code)
    assert result.process_status == "completed"
    assert result.stdout.endswith(" end") and "\ufffd" in result.stdout and "\x00" in result.stdout
    assert "\ufffd" in result.stderr


@pytest.mark.timeout(60)
def test_oversized_and_malformed_requests(sandbox: LocalSandbox) -> None:
    with httpx.Client(timeout=30) as http:
        big = json.dumps({"generated_code": "#" + "x" * (50 * 1024 * 1024), "timeout": 5})
        response = http.post(f"{sandbox.url}/execute", content=big)
        assert response.status_code == 413
        response = http.post(f"{sandbox.url}/execute", content=b'{"generated_code": "print(1)"')
        assert response.status_code == 400 and "JSON" in response.json()["error"]
        assert http.post(f"{sandbox.url}/execute", content=b"\xff\xfe").status_code == 400
        assert http.post(f"{sandbox.url}/execute", content=b"[1, 2]").status_code == 400
        assert http.post(f"{sandbox.url}/execute", json={"timeout": 1}).status_code == 400
        unknown = http.post(f"{sandbox.url}/execute", json={"generated_code": "1", "language": "cobol"})
        assert unknown.status_code == 400 and "cobol" in unknown.json()["error"]
        bad_timeout = http.post(f"{sandbox.url}/execute", json={"generated_code": "1", "timeout": "soon"})
        assert bad_timeout.status_code == 400
        assert http.get(f"{sandbox.url}/nope").status_code == 404
    # a raw socket that lies about its length and hangs up must not hurt the server
    with socket.create_connection(("127.0.0.1", int(sandbox.url.rsplit(":", 1)[1]))) as raw:
        raw.sendall(b'POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"gen')


@pytest.mark.timeout(90)
def test_32_concurrent_requests_none_lost(sandbox: LocalSandbox) -> None:
    async def run_all() -> list[str]:
        client = SandboxClient(sandbox.url)
        try:
            results = await asyncio.gather(
                *(client.execute_async(f"import time\ntime.sleep(0.05)\nprint({i} * 2)", timeout=30) for i in range(32))
            )
        finally:
            await client.aclose()
        assert all(r.process_status == "completed" for r in results), results
        return [r.stdout for r in results]

    assert asyncio.run(run_all()) == [f"{i * 2}\n" for i in range(32)]


@pytest.mark.timeout(60)
def test_stateful_session(client: SandboxClient) -> None:
    first = client.execute("import os\nx = 20\nx + 1", language="ipython", session_id="s1")
    assert (first.process_status, first.stdout, first.new_session_created) == ("completed", "21\n", True)
    second = client.execute("print(x * 2, os.getuid() != 0)", session_id="s1")
    assert (second.stdout, second.new_session_created) == ("40 True\n", False)
    other = client.execute("x", session_id="s2")
    assert other.process_status == "error" and "NameError" in other.stderr
    net = client.execute("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=2)", session_id="s1")
    assert net.process_status == "error"
    slow = client.execute("import time\ntime.sleep(30)", session_id="s1", timeout=1)
    assert slow.process_status == "timeout"
    after = client.execute("print('x' in globals())", session_id="s1")
    assert (after.stdout, after.new_session_created) == ("False\n", True)
    assert client.delete_session("s1") and client.delete_session("s2")
    assert not client.delete_session("s1")
