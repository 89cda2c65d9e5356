"""Running programs in warm sandboxes: a pool of worker slots (one uid each) and stateful python sessions.

Each slot keeps one sandbox started ahead of time, waiting for its program on a pipe, so a request pays for
neither bubblewrap nor interpreter start-up; after the run the slot's leftovers are killed and a fresh sandbox is
started in the background. A sandbox runs exactly one program, so nothing survives from one request to the next.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import selectors
import signal
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from nemo_pipeline.sandbox._isolation import Cgroup, CgroupFactory, IsolationOptions, Launcher, kill_uid

__all__ = [
    "Job",
    "RunResult",
    "SandboxBusyError",
    "SessionManager",
    "SlotPool",
    "languages_available",
    "slot_count",
]

LOG = logging.getLogger(__name__)

_READ_CHUNK = 1 << 16
_SPAWN_TIMEOUT_S = 30.0
_SESSION_UID_OFFSET = 64  # session uids follow the slot uids; slots are capped at this many
_SPARE_SLOTS = 4  # slots per worker (see slot_count)


class SandboxBusyError(Exception):
    """No slot or session became free in time."""


@dataclass(frozen=True)
class RunResult:
    """Outcome of one execution, before it is cut to the requested size."""

    process_status: str  # completed | error | timeout | failed
    stdout: str
    stderr: str
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    new_session_created: bool = False


def languages_available(python: str) -> dict[str, tuple[str | None, str]]:
    """Map each language to (tool path or None, note) for what this host can run."""
    import shutil

    def find(name: str, hint: str) -> tuple[str | None, str]:
        path = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin:/opt/lean4/bin")
        return (path, path) if path else (None, f"unavailable: {name} not found; {hint}")

    return {
        "python": (python, python),
        "shell": ("/bin/bash", "/bin/bash") if os.access("/bin/bash", os.X_OK) else (None, "unavailable: no /bin/bash"),
        "pypy3": find("pypy3", "install it: apt-get install -y pypy3"),
        "lean4": find("lean", "install Lean 4 (elan) outside root's home"),
    }


class _Warm:
    """One started sandbox waiting for work: the process and its control/status pipes."""

    def __init__(self, launcher: Launcher, uid: int, cgroup: Cgroup | None, mode: str, extra: list[str]) -> None:
        ctrl_r, self.ctrl_w = os.pipe()
        self.status_r, status_w = os.pipe()
        argv = launcher.command(uid, cgroup, [mode, str(ctrl_r), str(status_w), *extra])
        self.uid = uid
        self.cgroup = cgroup
        self.launcher = launcher
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL if mode == "session" else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(ctrl_r, status_w),
                cwd="/",
                env=launcher.env(),
                start_new_session=True,
            )
        finally:
            os.close(ctrl_r)
            os.close(status_w)
        self.ready = False

    def wait_ready(self, timeout_s: float = _SPAWN_TIMEOUT_S) -> None:
        """Block until the bootstrap reports ready; raise RuntimeError with its stderr if it dies first."""
        sel = selectors.DefaultSelector()
        sel.register(self.status_r, selectors.EVENT_READ)
        try:
            events = sel.select(timeout_s)
        finally:
            sel.close()
        byte = os.read(self.status_r, 1) if events else b""
        if byte == b"R":
            self.ready = True
            return
        self.kill()
        stderr = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        raise RuntimeError(
            f"sandbox did not start within {timeout_s:.0f}s (exit {self.proc.returncode}): {stderr.strip()[-2000:]}"
        )

    def kill(self) -> None:
        """Kill the sandbox and everything it started, then reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        if not self.launcher.use_bwrap:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.sweep()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            LOG.error("sandbox pid %d did not exit after SIGKILL", self.proc.pid)

    def sweep(self) -> None:
        """Kill whatever is left under this sandbox's uid or cgroup."""
        if self.cgroup is not None:
            self.cgroup.kill_all()
        elif self.launcher.drop_uid:
            kill_uid(self.uid)

    def close(self) -> None:
        for fd in (self.ctrl_w, self.status_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class _Collector:
    """Reads stdout/stderr keeping at most `cap` bytes of each, draining (and counting) the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data: dict[int, bytearray] = {}
        self.dropped: dict[int, int] = {}

    def feed(self, fd: int) -> bool:
        """Read once from `fd`; False at EOF."""
        try:
            chunk = os.read(fd, _READ_CHUNK)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        self._store(fd, chunk)
        return True

    def _store(self, fd: int, chunk: bytes) -> None:
        buf = self.data.setdefault(fd, bytearray())
        room = max(self.cap - len(buf), 0)
        if room:
            buf += chunk[:room]
        if len(chunk) > room:
            self.dropped[fd] = self.dropped.get(fd, 0) + len(chunk) - room

    def drain_nonblocking(self, fd: int) -> None:
        """Read whatever is already in the pipe without waiting for more."""
        try:
            os.set_blocking(fd, False)
        except OSError:
            return
        try:
            while True:
                try:
                    chunk = os.read(fd, _READ_CHUNK)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                self._store(fd, chunk)
        finally:
            os.set_blocking(fd, True)

    def text(self, fd: int) -> tuple[str, bool]:
        return bytes(self.data.get(fd, b"")).decode("utf-8", errors="replace"), fd in self.dropped


def _signal_note(returncode: int) -> str:
    signum = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if not signum:
        return ""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    hint = " (memory or process limit?)" if signum == signal.SIGKILL else ""
    return f"\n[sandbox] process killed by {name}{hint}\n"


@dataclass(frozen=True)
class Job:
    """One one-shot run: language, tool path (unused for python), program, stdin, wall-clock limit, output cap."""

    language: str
    tool: str
    code: bytes
    std_input: bytes
    timeout_s: float
    cap: int


def _run_oneshot(warm: _Warm, job: Job, options: IsolationOptions) -> RunResult:
    mib = 1024 * 1024
    header = " ".join(
        [
            job.language,
            str(math.ceil(job.timeout_s) + 1),
            str(options.memory_mb * mib),
            str(options.max_file_size_mb * mib),
            str(options.max_processes),
            str(options.max_open_files),
            job.tool,
        ]
    )
    proc = warm.proc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + job.timeout_s
    try:
        os.write(warm.ctrl_w, header.encode() + b"\n")
        view = memoryview(job.code)
        while view:
            written = os.write(warm.ctrl_w, view[: 1 << 20])
            view = view[written:]
    except BrokenPipeError:
        pass
    os.close(warm.ctrl_w)
    warm.ctrl_w = -1

    collector = _Collector(job.cap)
    out_fd, err_fd, in_fd = proc.stdout.fileno(), proc.stderr.fileno(), proc.stdin.fileno()
    sel = selectors.DefaultSelector()
    sel.register(out_fd, selectors.EVENT_READ)
    sel.register(err_fd, selectors.EVENT_READ)
    pending_input = memoryview(job.std_input)
    if pending_input:
        os.set_blocking(in_fd, False)
        sel.register(in_fd, selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    timed_out = False
    try:
        while len(sel.get_map()) > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in sel.select(remaining):
                fd = key.fd
                if fd == in_fd:
                    try:
                        written = os.write(fd, pending_input[: 1 << 16])
                        pending_input = pending_input[written:]
                    except (BrokenPipeError, BlockingIOError) as exc:
                        if isinstance(exc, BrokenPipeError):
                            pending_input = pending_input[:0]
                    if not pending_input:
                        sel.unregister(fd)
                        proc.stdin.close()
                elif not collector.feed(fd):
                    sel.unregister(fd)
    finally:
        sel.close()
    if not timed_out:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()) + 0.05)
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out:
        warm.kill()
    stdout, out_cut = collector.text(out_fd)
    stderr, err_cut = collector.text(err_fd)
    if timed_out:
        status = "timeout"
        stderr += f"\nExecution timed out after {job.timeout_s:g} seconds\n"
    else:
        status = "completed" if proc.returncode == 0 else "error"
        if proc.returncode:
            stderr += _signal_note(proc.returncode)
    return RunResult(status, stdout, stderr, out_cut, err_cut)


class _Slot:
    def __init__(self, index: int, uid: int, cgroup: Cgroup | None) -> None:
        self.index = index
        self.uid = uid
        self.cgroup = cgroup
        self.warm: _Warm | None = None
        self.spawn_error = ""


def slot_count(workers: int) -> int:
    """Slots (uids, each with a warm sandbox) for `workers` parallel runs: up to four times as many.

    Starting a sandbox takes several runs' time under load; spare slots let a request find a ready sandbox while
    the slots that just ran start their next one.
    """
    return min(_SPARE_SLOTS * workers, max(workers, _SESSION_UID_OFFSET))


class SlotPool:
    """Worker slots, each with its own uid (and cgroup) and one warm sandbox; at most `workers` run at once."""

    def __init__(
        self,
        launcher: Launcher,
        cgroups: CgroupFactory | None,
        workers: int,
        uid_base: int,
    ) -> None:
        self.launcher = launcher
        self.options = launcher.options
        self.cgroups = cgroups
        self.slots = [
            _Slot(i, uid_base + i, cgroups.create(f"u{uid_base + i}") if cgroups else None)
            for i in range(slot_count(workers))
        ]
        self.free: queue.Queue[_Slot] = queue.Queue()
        self.running = threading.BoundedSemaphore(workers)
        self.workers = workers
        self.refill = ThreadPoolExecutor(max_workers=len(self.slots), thread_name_prefix="sandbox-warm")
        self.closed = False
        for slot in self.slots:
            self.refill.submit(self._prepare, slot)

    def _spawn(self, slot: _Slot) -> None:
        warm = _Warm(self.launcher, slot.uid, slot.cgroup, "oneshot", [])
        warm.wait_ready()
        slot.warm = warm
        slot.spawn_error = ""

    def _prepare(self, slot: _Slot) -> None:
        if self.closed:
            return
        try:
            self._spawn(slot)
        except Exception as exc:  # keep the slot usable; the next request retries and reports the error
            slot.spawn_error = str(exc)
            slot.warm = None
            LOG.error("slot %d (uid %d): %s", slot.index, slot.uid, exc)
        self.free.put(slot)

    def run(self, job: Job, wait_s: float) -> RunResult:
        """Run `job` in the next free slot, waiting at most `wait_s` for one."""
        deadline = time.monotonic() + wait_s
        if not self.running.acquire(timeout=wait_s):
            raise SandboxBusyError(f"all {self.workers} sandbox workers stayed busy for {wait_s:.0f}s")
        try:
            try:
                slot = self.free.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise SandboxBusyError(f"all {len(self.slots)} sandbox slots stayed busy for {wait_s:.0f}s") from None
            return self._run_in(slot, job)
        finally:
            self.running.release()

    def _run_in(self, slot: _Slot, job: Job) -> RunResult:
        try:
            if slot.warm is None:
                try:
                    self._spawn(slot)
                except Exception as exc:
                    return RunResult("failed", "", f"sandbox could not start: {exc}\n")
            assert slot.warm is not None
            warm, slot.warm = slot.warm, None
            try:
                return _run_oneshot(warm, job, self.options)
            finally:
                warm.sweep()
                warm.close()
                if warm.proc.poll() is None:
                    warm.kill()
        finally:
            self.refill.submit(self._prepare, slot)

    def close(self) -> None:
        self.closed = True
        self.refill.shutdown(wait=True, cancel_futures=True)
        for slot in self.slots:
            if slot.warm is not None:
                slot.warm.kill()
                slot.warm.close()
            if slot.cgroup is not None:
                slot.cgroup.remove()


class _Session:
    def __init__(self, session_id: str, uid: int, cgroup: Cgroup | None, warm: _Warm) -> None:
        self.id = session_id
        self.uid = uid
        self.cgroup = cgroup
        self.warm = warm
        self.lock = threading.Lock()
        self.created = time.time()
        self.last_used = time.monotonic()
        self.fresh = True
        self.alive = True


class SessionManager:
    """Stateful python interpreters keyed by the X-Session-ID header, each in its own sandbox and uid."""

    def __init__(
        self,
        launcher: Launcher,
        cgroups: CgroupFactory | None,
        uid_base: int,
        max_sessions: int,
        idle_s: float,
    ) -> None:
        self.launcher = launcher
        self.options = launcher.options
        self.cgroups = cgroups
        self.free_uids = [uid_base + _SESSION_UID_OFFSET + i for i in range(max_sessions)]
        self.sessions: dict[str, _Session] = {}
        self.lock = threading.Lock()
        self.idle_s = idle_s
        self.max_sessions = max_sessions

    def _start(self, session_id: str) -> _Session:
        victim = None
        with self.lock:
            if not self.free_uids:
                idle = [s for s in self.sessions.values() if not s.lock.locked()]
                if idle:
                    victim = min(idle, key=lambda s: s.last_used)
                    self.sessions.pop(victim.id)
        if victim is not None:
            LOG.info("evicting idle session %s to make room", victim.id)
            self._teardown(victim)
        with self.lock:
            if not self.free_uids:
                raise SandboxBusyError(f"all {self.max_sessions} sessions are busy")
            uid = self.free_uids.pop()
        mib = 1024 * 1024
        cgroup = None
        try:
            cgroup = self.cgroups.create(f"u{uid}") if self.cgroups else None
            extra = [
                str(self.options.memory_mb * mib),
                str(self.options.max_file_size_mb * mib),
                str(self.options.max_processes),
                str(self.options.max_open_files),
            ]
            warm = _Warm(self.launcher, uid, cgroup, "session", extra)
            warm.wait_ready()
        except Exception:
            if cgroup is not None:
                cgroup.remove()
            with self.lock:
                self.free_uids.append(uid)
            raise
        return _Session(session_id, uid, cgroup, warm)

    def _stop_locked(self, session_id: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        threading.Thread(target=self._teardown, args=(session,), daemon=True).start()
        return True

    def _teardown(self, session: _Session) -> None:
        session.alive = False
        session.warm.kill()
        session.warm.close()
        if session.cgroup is not None:
            session.cgroup.remove()
        with self.lock:
            self.free_uids.append(session.uid)

    def delete(self, session_id: str) -> bool:
        with self.lock:
            return self._stop_locked(session_id)

    def list(self) -> dict[str, dict[str, object]]:
        with self.lock:
            return {
                s.id: {"created": s.created, "idle_s": round(time.monotonic() - s.last_used, 1), "uid": s.uid}
                for s in self.sessions.values()
            }

    def expire_idle(self) -> None:
        now = time.monotonic()
        with self.lock:
            for s in list(self.sessions.values()):
                if not s.lock.locked() and now - s.last_used > self.idle_s:
                    self._stop_locked(s.id)

    def run(self, session_id: str, code: bytes, timeout_s: float, cap: int) -> RunResult:
        """Run one cell in session `session_id`, starting the session if needed."""
        with self.lock:
            session = self.sessions.get(session_id)
        if session is None:
            try:
                new = self._start(session_id)
            except SandboxBusyError:
                raise
            except Exception as exc:  # a session that cannot start is a failed run, not a server error
                return RunResult("failed", "", f"sandbox session could not start: {exc}\n")
            with self.lock:
                session = self.sessions.setdefault(session_id, new)
            if session is not new:
                self._teardown(new)
        with session.lock:
            if not session.alive:
                return self.run(session_id, code, timeout_s, cap)
            session.last_used = time.monotonic()
            result = self._run_cell(session, code, timeout_s, cap)
            session.last_used = time.monotonic()
            return result

    def _run_cell(self, session: _Session, code: bytes, timeout_s: float, cap: int) -> RunResult:
        warm = session.warm
        fresh, session.fresh = session.fresh, False
        assert warm.proc.stdout is not None and warm.proc.stderr is not None
        out_fd, err_fd = warm.proc.stdout.fileno(), warm.proc.stderr.fileno()
        collector = _Collector(cap)
        deadline = time.monotonic() + timeout_s
        status_byte = b""
        with contextlib.suppress(BrokenPipeError):
            os.write(warm.ctrl_w, struct.pack(">Q", len(code)) + code)
        sel = selectors.DefaultSelector()
        for fd in (out_fd, err_fd, warm.status_r):
            sel.register(fd, selectors.EVENT_READ)
        timed_out = False
        try:
            while not status_byte:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in sel.select(remaining):
                    if key.fd == warm.status_r:
                        status_byte = os.read(warm.status_r, 1) or b"X"
                    elif not collector.feed(key.fd):
                        sel.unregister(key.fd)
        finally:
            sel.close()
        for fd in (out_fd, err_fd):
            collector.drain_nonblocking(fd)
        stdout, out_cut = collector.text(out_fd)
        stderr, err_cut = collector.text(err_fd)
        if timed_out or status_byte == b"X":
            with self.lock:
                if self.sessions.get(session.id) is session:
                    self._stop_locked(session.id)
            session.alive = False
            if timed_out:
                stderr += f"\nExecution timed out after {timeout_s:g} seconds; the session was restarted\n"
                return RunResult("timeout", stdout, stderr, out_cut, err_cut, new_session_created=True)
            stderr += "\n[sandbox] the session's interpreter exited; its state is lost\n"
            return RunResult("error", stdout, stderr, out_cut, err_cut, new_session_created=True)
        status = "completed" if status_byte == b"C" else "error"
        return RunResult(status, stdout, stderr, out_cut, err_cut, new_session_created=fresh)

    def close(self) -> None:
        with self.lock:
            sessions = list(self.sessions.values())
            self.sessions.clear()
        for session in sessions:
            self._teardown(session)


def periodic(interval_s: float, fn: Callable[[], None], stop: threading.Event) -> threading.Thread:
    """Call `fn` every `interval_s` until `stop` is set (errors are logged, not raised)."""

    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                fn()
            except Exception:
                LOG.exception("periodic task failed")

    thread = threading.Thread(target=loop, daemon=True, name="sandbox-periodic")
    thread.start()
    return thread
