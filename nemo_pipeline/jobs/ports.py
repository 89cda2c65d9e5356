"""The ports a cluster job's components listen on, chosen free on the node when the job starts.

A graph is built on the submitting machine, which cannot know the ports another job (of this run, of another run,
of another user) holds on the node a job lands on. So a cluster job's commands name each port by a placeholder,
``{free_port:NAME}`` (`port_placeholder`), and whoever starts the job's processes on the node (the supervisor, or the
Docker backend on its host) replaces every placeholder of the job with a port that is free at that moment
(`choose_ports`, then `with_ports`). One name is one port within a job: a server's argv and its client's address agree.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["choose_ports", "free_ports", "placeholder_names", "port_placeholder", "with_ports"]

_PLACEHOLDER = re.compile(r"\{free_port:([A-Za-z0-9_.-]+)\}")


def port_placeholder(name: str) -> str:
    """The placeholder that stands for the port `name` in a job's commands until the job starts."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"port name {name!r}: use letters, digits, '_', '.' and '-'")
    return f"{{free_port:{name}}}"


def placeholder_names(texts: Iterable[str]) -> list[str]:
    """The port names the texts hold placeholders for, in the order they first appear."""
    names: dict[str, None] = {}
    for text in texts:
        names.update(dict.fromkeys(_PLACEHOLDER.findall(text)))
    return list(names)


def free_ports(names: Sequence[str], host: str = "127.0.0.1") -> dict[str, int]:
    """A distinct port free on `host` for each name (the sockets are held until all are chosen)."""
    with contextlib.ExitStack() as stack:
        ports = {}
        for name in names:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports[name] = int(sock.getsockname()[1])
        return ports


def with_ports(text: str, ports: Mapping[str, int]) -> str:
    """`text` with each placeholder replaced by its port; a name without a port is an error naming it."""

    def port(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in ports:
            raise KeyError(f"no port chosen for placeholder {match.group(0)} (chosen: {sorted(ports)})")
        return str(ports[name])

    return _PLACEHOLDER.sub(port, text)


def choose_ports(texts: Iterable[str]) -> dict[str, int]:
    """Choose a free port for every placeholder name in `texts` (empty when there is none)."""
    names = placeholder_names(texts)
    return free_ports(names) if names else {}
