"""Port placeholders: a cluster job's components agree on ports chosen free on the node when the job starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.jobs.ports import choose_ports, placeholder_names, port_placeholder, with_ports
from nemo_pipeline.jobs.supervise import ComponentSpec, SupervisorSpec, render_argv

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(10)
def test_one_port_per_name_wherever_its_placeholder_appears() -> None:
    server, sandbox = port_placeholder("server"), port_placeholder("sandbox")
    texts = ["--port", server, f"++server.address=http://127.0.0.1:{server}/v1", f"http://127.0.0.1:{sandbox}"]
    assert placeholder_names(texts) == ["server", "sandbox"]
    ports = choose_ports(texts)
    assert set(ports) == {"server", "sandbox"} and ports["server"] != ports["sandbox"]
    filled = [with_ports(text, ports) for text in texts]
    assert filled[1] == str(ports["server"])
    assert filled[2] == f"++server.address=http://127.0.0.1:{ports['server']}/v1"
    assert placeholder_names(filled) == []
    for port in ports.values():  # each was free: a server can listen on it now
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    assert choose_ports(["no placeholder"]) == {}


@pytest.mark.timeout(10)
def test_a_placeholder_without_a_port_and_a_bad_name_are_errors() -> None:
    with pytest.raises(KeyError, match=r"\{free_port:judge-server\}"):
        with_ports(port_placeholder("judge-server"), {"server": 1234})
    with pytest.raises(ValueError, match="port name"):
        port_placeholder("a b")


@pytest.mark.timeout(60)
def test_the_supervisor_gives_a_server_and_its_client_the_same_free_port(tmp_path: Path) -> None:
    port = port_placeholder("server")
    server = "import http.server, sys; http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()"  # noqa: E501
    client = (
        "import sys, time, urllib.request\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        urllib.request.urlopen(sys.argv[1], timeout=1); print('reached', sys.argv[1]); break\n"
        "    except OSError:\n"
        "        time.sleep(0.05)\n"
        "else:\n"
        "    sys.exit('never reached ' + sys.argv[1])\n"
    )
    spec = SupervisorSpec(
        job="j",
        log_dir=tmp_path / "logs",
        components=(
            ComponentSpec("server", (sys.executable, "-c", server, port)),
            ComponentSpec("main", (sys.executable, "-c", client, f"http://127.0.0.1:{port}/"), {"SEEN": port}),
        ),
        grace_s=5,
    )
    done = subprocess.run(
        render_argv(spec),
        capture_output=True,
        text=True,
        timeout=50,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    chosen = next(line for line in done.stderr.splitlines() if "ports: server=" in line)
    number = int(chosen.rsplit("=", 1)[1])
    assert f"reached http://127.0.0.1:{number}/" in (tmp_path / "logs" / "main.log").read_text()
    assert f"SEEN={number} " in done.stderr  # env values are filled too
