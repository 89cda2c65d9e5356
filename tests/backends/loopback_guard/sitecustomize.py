"""Loaded by every Python process started with this folder on PYTHONPATH while NEMO_PIPELINE_LOOPBACK_ONLY=1
(tests/backends/conftest.py `loopback_only`): connections outside 127.0.0.0/8 are refused and written to the file
NEMO_PIPELINE_LOOPBACK_LOG names, so a test sees an attempt made by eval.py or by a Slurm job it started."""

from __future__ import annotations

import ipaddress
import os
import socket

if os.environ.get("NEMO_PIPELINE_LOOPBACK_ONLY") == "1":
    _original_connect = socket.socket.connect
    _log = os.environ.get("NEMO_PIPELINE_LOOPBACK_LOG", "")

    def _guarded_connect(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            host = str(address[0]).split("%")[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                if _log:
                    with open(_log, "a", encoding="utf-8") as handle:
                        handle.write(f"{os.getpid()} {host}:{address[1]}\n")
                raise ConnectionRefusedError(f"loopback guard: connection to {host} refused")
        _original_connect(sock, address)  # type: ignore[arg-type]

    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
