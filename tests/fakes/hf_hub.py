"""A scripted Hugging Face Hub on loopback (HF_ENDPOINT points at it): the repo-info API and `resolve` downloads that
`huggingface_hub.snapshot_download` and `hf_hub_download` use, serving files from this machine. With `token` set,
a request without `Authorization: Bearer <token>` gets 401, as a gated repo answers."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Repo:
    files: dict[str, Path]  # path in the repo -> file on this machine
    token: str | None = None


@dataclass
class FakeHub:
    repos: dict[str, Repo]
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Authorization)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> FakeHub:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _etag(path: Path) -> str:
    return hashlib.sha256(f"{path}:{path.stat().st_size}".encode()).hexdigest()


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _target(self) -> tuple[Repo | None, Path | None]:
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                return hub.repos.get("/".join(parts[2:4])), None
            if len(parts) >= 5 and parts[2] == "resolve":
                repo = hub.repos.get("/".join(parts[:2]))
                return repo, None if repo is None else repo.files.get("/".join(parts[4:]))
            return None, None

        def _refuse(self, repo: Repo | None) -> bool:
            with hub.lock:
                hub.requests.append((self.command, self.path, self.headers.get("Authorization")))
            if repo is None:
                self.send_error(404)
                return True
            if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
                self.send_error(401)
                return True
            return False

        def _headers(self, path: Path) -> None:
            self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{_etag(path)}"')
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()

        def do_HEAD(self) -> None:
            repo, path = self._target()
            if self._refuse(repo):
                return
            if path is None:
                self.send_error(404)
                return
            self._headers(path)

        def do_GET(self) -> None:
            repo, path = self._target()
            if self._refuse(repo):
                return
            assert repo is not None
            if self.path.startswith("/api/models/"):
                name = "/".join(self.path.split("?", 1)[0].strip("/").split("/")[2:4])
                body = json.dumps({"id": name, "sha": COMMIT, "siblings": [{"rfilename": f} for f in repo.files]})
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if path is None:
                self.send_error(404)
                return
            self._headers(path)
            with path.open("rb") as handle:
                shutil.copyfileobj(handle, self.wfile)

    return Handler
