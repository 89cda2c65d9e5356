"""Client CPU per request of async HTTP client stacks, for the generation client's `/v1/completions` posts.

    python benchmarks/http_client_bench.py [--requests 6000] [--repeats 5] [--concurrency 1,8,64]
                                           [--only aiohttp,pyreqwest,...] [--clients-dir /tmp/httpclients]
                                           [--install] [--skip-slots]

Every candidate posts the same pre-rendered JSON bodies (`generic/math-fewshot` over GSM8K-shaped items, rendered
as `throughput_bench.py` renders them) to a zero-latency `tests/fakes/queue_server.py` process with a fixed number
of workers, and parses each answer (`json.loads(raw)["choices"][0]["text"]`). Each candidate runs in its own
subprocess (a fresh interpreter per candidate and repeat; a new client and event loop per concurrency level, warmed
up with a few hundred requests so that connections are open before the clock starts). Reported: requests/s (wall,
first send to last answer) and client CPU per request (`time.process_time()` delta / requests, all threads, so a
Rust or libcurl runtime thread is counted). Candidates are interleaved across repeats (the order rotates); medians
are printed with the ratio of each candidate's median against plain aiohttp's median from the same run. At
concurrency 1 a third of `--requests` is posted (one round trip at a time; its wall time would dominate the run),
and httpx, which is slow, is capped at 1000 a level: the figures are per request, so counts do not skew them.

Then the fastest three candidates (by CPU per request at the highest concurrency; the raw floor left out) and plain
aiohttp run against a queueing server (`--slots 256 --latency 0.05`, ideal 5120/s) with 256 workers.

Third-party clients are looked up in `--clients-dir` (put on PYTHONPATH for their subprocess only, so the shared
environment is not touched); `--install` first runs `pip install --target <clients-dir>` for those that fail to
import. A candidate that cannot be imported is skipped with the reason. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SLOTS_CASE = (256, 0.05)  # slots, latency s: ideal 5120/s

Post = Callable[[bytes], Awaitable[bytes]]
Close = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Candidate:
    name: str
    dist: str  # distribution whose version is reported
    pip: str | None  # what `--install` installs into the clients dir; None: from the shared environment
    uvloop: bool = False
    floor: bool = False  # a reference floor, not a client to adopt
    max_requests: int | None = None  # a cap for a slow candidate (per-request figures are unaffected)


CANDIDATES = [
    Candidate("aiohttp", "aiohttp", None),
    Candidate("aiohttp+uvloop", "aiohttp", None, uvloop=True),
    Candidate("aiohttp-tuned", "aiohttp", None),
    Candidate("aiohttp-tuned+uvloop", "aiohttp", None, uvloop=True),
    Candidate("pyreqwest", "pyreqwest", "pyreqwest"),
    Candidate("rnet", "rnet", "rnet"),
    Candidate("curl_cffi", "curl_cffi", "curl_cffi"),
    Candidate("aiosonic", "aiosonic", "aiosonic"),
    Candidate("httpx", "httpx", "httpx", max_requests=1000),
    Candidate("raw-asyncio", "python", None, floor=True),
    Candidate("raw+uvloop", "uvloop", None, uvloop=True, floor=True),
]
BY_NAME = {c.name: c for c in CANDIDATES}
HEADERS = {"Content-Type": "application/json"}


# ---------------------------------------------------------------------------------------------------------------
# The candidates: each makes (post, close) for a base URL; post(body) returns the raw body of a 200 answer.


async def make_aiohttp(url: str, concurrency: int, tuned: bool) -> tuple[Post, Close]:
    import aiohttp

    target = url + "/completions"
    if tuned:
        # Settings only: no timers per request, no cookie jar, no decompression, fewer default headers.
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            headers=HEADERS,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=None, sock_read=None),
        )
    else:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), headers=HEADERS)

    async def post(body: bytes) -> bytes:
        async with session.post(target, data=body) as response:
            raw = await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            return raw

    return post, session.close


async def make_pyreqwest(url: str, concurrency: int) -> tuple[Post, Close]:
    client_mod: Any = importlib.import_module("pyreqwest.client")
    target = url + "/completions"
    client = client_mod.ClientBuilder().default_headers(HEADERS).build()

    async def post(body: bytes) -> bytes:
        response = await client.post(target).body_bytes(body).build().send()
        raw = await response.bytes()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return bytes(raw.to_bytes())

    return post, client.close


async def make_rnet(url: str, concurrency: int) -> tuple[Post, Close]:
    rnet: Any = importlib.import_module("rnet")
    target = url + "/completions"
    client = rnet.Client(headers=HEADERS)

    async def post(body: bytes) -> bytes:
        response = await client.post(target, body=body)
        raw = await response.bytes()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return bytes(raw)

    async def close() -> None:
        pass  # the client has no close; its pool goes with the process

    return post, close


async def make_curl_cffi(url: str, concurrency: int) -> tuple[Post, Close]:
    requests: Any = importlib.import_module("curl_cffi.requests")
    target = url + "/completions"
    session = requests.AsyncSession(max_clients=concurrency, headers=HEADERS)

    async def post(body: bytes) -> bytes:
        response = await session.post(target, data=body)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return bytes(response.content)

    return post, session.close


async def make_aiosonic(url: str, concurrency: int) -> tuple[Post, Close]:
    aiosonic: Any = importlib.import_module("aiosonic")
    target = url + "/completions"
    connector = aiosonic.TCPConnector(pool_configs={":default": {"size": concurrency, "max_conn_requests": None}})
    client = aiosonic.HTTPClient(connector=connector)

    async def post(body: bytes) -> bytes:
        response = await client.post(target, data=body, headers=HEADERS)
        raw = await response.content()
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return bytes(raw)

    async def close() -> None:
        await connector.cleanup()

    return post, close


async def make_httpx(url: str, concurrency: int) -> tuple[Post, Close]:
    httpx: Any = importlib.import_module("httpx")
    target = url + "/completions"
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    client = httpx.AsyncClient(limits=limits, headers=HEADERS, trust_env=False)

    async def post(body: bytes) -> bytes:
        response = await client.post(target, content=body)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return bytes(response.content)

    return post, client.aclose


class _RawConnection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection; answers must carry Content-Length (no chunked, no compression)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionResetError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:end]).split(b"\r\n")
        length = -1
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length < 0:
            self.waiter.set_exception(RuntimeError("raw client: answer without Content-Length"))
            return
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        status = int(head[0].split(b" ", 2)[1])
        if status != 200:
            self.waiter.set_exception(RuntimeError(f"HTTP {status}"))
        else:
            self.waiter.set_result(body)
        self.waiter = None


async def make_raw(url: str, concurrency: int) -> tuple[Post, Close]:
    """The floor: a pool of keep-alive connections, one request per connection at a time."""
    hostport = url.split("://", 1)[1].split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    path = "/" + url.split("://", 1)[1].split("/", 1)[1] + "/completions"
    prefix = (
        f"POST {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: "
    ).encode()
    loop = asyncio.get_running_loop()
    idle: list[_RawConnection] = []
    opened: list[_RawConnection] = []

    async def post(body: bytes) -> bytes:
        conn = idle.pop() if idle else None
        if conn is None or conn.closed:
            _, conn = await loop.create_connection(_RawConnection, host, int(port))
            opened.append(conn)
        assert conn.transport is not None
        waiter: asyncio.Future[bytes] = loop.create_future()
        conn.waiter = waiter
        conn.transport.write(b"%s%d\r\n\r\n%s" % (prefix, len(body), body))
        raw = await waiter
        idle.append(conn)
        return raw

    async def close() -> None:
        for conn in opened:
            if conn.transport is not None:
                conn.transport.close()

    return post, close


FACTORIES: dict[str, Callable[[str, int], Awaitable[tuple[Post, Close]]]] = {
    "aiohttp": lambda url, c: make_aiohttp(url, c, tuned=False),
    "aiohttp+uvloop": lambda url, c: make_aiohttp(url, c, tuned=False),
    "aiohttp-tuned": lambda url, c: make_aiohttp(url, c, tuned=True),
    "aiohttp-tuned+uvloop": lambda url, c: make_aiohttp(url, c, tuned=True),
    "pyreqwest": make_pyreqwest,
    "rnet": make_rnet,
    "curl_cffi": make_curl_cffi,
    "aiosonic": make_aiosonic,
    "httpx": make_httpx,
    "raw-asyncio": make_raw,
    "raw+uvloop": make_raw,
}


# ---------------------------------------------------------------------------------------------------------------
# The worker subprocess: one candidate, each concurrency level in turn.


async def drive(post: Post, bodies: list[bytes], concurrency: int) -> int:
    queue = list(reversed(bodies))
    answered = 0

    async def worker() -> None:
        nonlocal answered
        while queue:
            raw = await post(queue.pop())
            answered += bool(json.loads(raw)["choices"][0]["text"] is not None)  # parse it, as a client must

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answered


def server_call(url: str, method: str, path: str) -> dict[str, Any]:
    root = url.rsplit("/v1", 1)[0]
    request = urllib.request.Request(root + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


async def measure(name: str, url: str, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    post, close = await FACTORIES[name](url, concurrency)
    try:
        warm = min(len(bodies), max(200, concurrency))
        if await drive(post, bodies[:warm], concurrency) != warm:
            raise RuntimeError("warm-up: answers missing")
        server_call(url, "POST", "/reset")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        answered = await drive(post, bodies, concurrency)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        stats = server_call(url, "GET", "/stats")
    finally:
        await close()
    if answered != len(bodies) or stats["requests"] != len(bodies):
        raise RuntimeError(f"{answered} answers, server saw {stats['requests']}, expected {len(bodies)}")
    return {"concurrency": concurrency, "n": answered, "wall_s": wall, "cpu_s": cpu, "server_cpu_s": stats["cpu_s"]}


def new_loop(candidate: Candidate) -> asyncio.AbstractEventLoop:
    if candidate.uvloop:
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def version_of(candidate: Candidate) -> str:
    if candidate.dist == "python":
        return "py" + ".".join(map(str, sys.version_info[:3]))
    from importlib.metadata import version

    return version(candidate.dist)


def worker_main(name: str, url: str, bodies_path: str, levels: list[tuple[int, int]]) -> int:
    candidate = BY_NAME[name]
    bodies = [line.encode() for line in Path(bodies_path).read_text().splitlines()]
    for concurrency, count in levels:
        loop = new_loop(candidate)
        asyncio.set_event_loop(loop)
        try:
            result = loop.run_until_complete(measure(name, url, bodies[:count], concurrency))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        print(json.dumps(result), flush=True)
    return 0


def probe_main(name: str) -> int:
    """Import what the candidate needs (and nothing else); print its version."""
    candidate = BY_NAME[name]
    modules = {"pyreqwest": "pyreqwest.client", "curl_cffi": "curl_cffi.requests"}
    if candidate.dist not in ("python",):
        importlib.import_module(modules.get(candidate.dist, candidate.dist))
    if candidate.uvloop:
        importlib.import_module("uvloop")
    if candidate.name.startswith("aiohttp"):
        importlib.import_module("aiohttp")
    print(version_of(candidate))
    return 0


# ---------------------------------------------------------------------------------------------------------------
# The driver.


@dataclass
class Sample:
    rate: float
    cpu_us: float
    server_cpu_us: float


@dataclass
class Results:
    version: str
    runs: dict[int, list[Sample]] = field(default_factory=dict)

    def median(self, concurrency: int, attr: str) -> float:
        values = [getattr(s, attr) for s in self.runs.get(concurrency, [])]
        return statistics.median(values) if values else float("nan")

    def spread(self, concurrency: int) -> float:
        """(max - min) / median of the CPU per request."""
        values = [s.cpu_us for s in self.runs.get(concurrency, [])]
        return (max(values) - min(values)) / statistics.median(values) if values else float("nan")


def candidate_env(candidate: Candidate, clients_dir: Path) -> dict[str, str]:
    path = [str(ROOT)]
    if candidate.pip is not None:
        path.insert(0, str(clients_dir))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def probe(candidate: Candidate, clients_dir: Path) -> tuple[str | None, str]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--probe", candidate.name]
    env = candidate_env(candidate, clients_dir)
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode == 0:
        return done.stdout.strip(), ""
    lines = done.stderr.strip().splitlines()
    return None, lines[-1] if lines else f"exit {done.returncode}"


def install(candidate: Candidate, clients_dir: Path) -> str:
    assert candidate.pip is not None
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
    done = subprocess.run(
        [*argv, str(clients_dir), candidate.pip], capture_output=True, text=True, timeout=600, check=False
    )
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR")]
    return "" if done.returncode == 0 else (lines[-1] if lines else f"pip exit {done.returncode}")


class Server:
    def __init__(self, *args: str) -> None:
        self.argv = [sys.executable, "-m", "tests.fakes.queue_server", *args]
        self.url = ""

    def __enter__(self) -> Server:
        self.start()
        return self

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("URL "):
            raise RuntimeError(f"queue server did not start: {line!r}")
        self.url = line.split()[1]
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"queue server not on loopback: {self.url}")

    def restarted(self) -> bool:
        """Start it again if it has gone (something on this shared machine ended it); True if it had."""
        code = self.proc.poll()
        if code is None:
            return False
        print(f"  the queue server exited ({code}); starting it again and retrying", flush=True)
        self.start()
        return True

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def counts(candidate: Candidate, levels: list[int], requests: int) -> list[tuple[int, int]]:
    """Requests per level: a third at concurrency 1 (one round trip at a time: its wall time would dominate)."""
    result = []
    for c in levels:
        n = requests if c > 1 else max(requests // 3, 100)
        result.append((c, min(n, candidate.max_requests or n)))
    return result


def run_candidate(
    candidate: Candidate, server: Server, bodies: Path, levels: list[int], clients_dir: Path, requests: int
) -> list[dict[str, Any]]:
    try:
        return run_worker(candidate, server.url, bodies, levels, clients_dir, requests)
    except RuntimeError:
        if not server.restarted():
            raise
        return run_worker(candidate, server.url, bodies, levels, clients_dir, requests)


def run_worker(
    candidate: Candidate, url: str, bodies: Path, levels: list[int], clients_dir: Path, requests: int
) -> list[dict[str, Any]]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", candidate.name, url, str(bodies)]
    argv.append(",".join(f"{c}:{n}" for c, n in counts(candidate, levels, requests)))
    env = candidate_env(candidate, clients_dir)
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{candidate.name} failed ({done.returncode}): {done.stderr[-1500:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def record(results: Results, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        n = row["n"]
        sample = Sample(n / row["wall_s"], row["cpu_s"] / n * 1e6, row["server_cpu_s"] / n * 1e6)
        results.runs.setdefault(row["concurrency"], []).append(sample)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--only", default="", help="comma-separated candidates (aiohttp is always run)")
    parser.add_argument("--clients-dir", type=Path, default=Path(tempfile.gettempdir()) / "httpclients")
    parser.add_argument("--install", action="store_true", help="pip install --target the clients dir if missing")
    parser.add_argument("--skip-slots", action="store_true", help="skip the 256-slot queueing-server runs")
    parser.add_argument("--json", type=Path, help="write every sample (not only the medians) to this file")
    parser.add_argument("--worker", nargs=4, metavar=("NAME", "URL", "BODIES", "LEVELS"), help=argparse.SUPPRESS)
    parser.add_argument("--probe", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        return probe_main(args.probe)
    if args.worker:
        name, url, bodies_path, levels = args.worker
        pairs = [level.split(":") for level in levels.split(",")]
        return worker_main(name, url, bodies_path, [(int(c), int(n)) for c, n in pairs])

    levels = [int(c) for c in args.concurrency.split(",")]
    wanted = [c for c in CANDIDATES if not args.only or c.name == "aiohttp" or c.name in args.only.split(",")]
    started = time.monotonic()
    loads = [os.getloadavg()[0]]
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  ({os.cpu_count()} cores)")

    results: dict[str, Results] = {}
    slot_results: dict[str, Results] = {}
    for candidate in wanted:
        version, reason = probe(candidate, args.clients_dir)
        if version is None and args.install and candidate.pip is not None:
            reason = install(candidate, args.clients_dir) or reason
            version, reason = probe(candidate, args.clients_dir)
        if version is None:
            print(f"  skip {candidate.name}: {reason}")
            continue
        results[candidate.name] = Results(version)
    if "aiohttp" not in results:
        print("aiohttp, the reference, cannot be imported")
        return 1
    active = [c for c in wanted if c.name in results]

    sys.path.insert(0, str(HERE))
    throughput_bench: Any = importlib.import_module("throughput_bench")  # its make_items, render_bodies

    with tempfile.TemporaryDirectory(prefix="http-client-bench-") as tmp:
        data, bodies = Path(tmp) / "items.jsonl", Path(tmp) / "bodies.jsonl"
        throughput_bench.make_items(data, args.requests)
        throughput_bench.render_bodies(data, bodies)
        size = bodies.stat().st_size / args.requests
        plan = ", ".join(f"{n} at {c}" for c, n in counts(CANDIDATES[0], levels, args.requests))
        print(f"requests of about {size:.0f} bytes: {plan} in flight; {args.repeats} repeats")
        for candidate in active:
            if candidate.max_requests:
                print(f"  {candidate.name} capped at {candidate.max_requests} requests a level (it is slow)")

        with Server() as server:
            for repeat in range(args.repeats):
                shift = repeat % len(active)
                for candidate in active[shift:] + active[:shift]:
                    try:
                        rows = run_candidate(candidate, server, bodies, levels, args.clients_dir, args.requests)
                    except RuntimeError as error:
                        if candidate.name == "aiohttp":
                            raise
                        print(f"  drop {candidate.name}: {str(error).strip().splitlines()[-1]}")
                        active.remove(candidate)
                        continue
                    record(results[candidate.name], rows)
                    loads.append(os.getloadavg()[0])
                print(f"  repeat {repeat + 1}/{args.repeats} done ({time.monotonic() - started:.0f} s)", flush=True)

        base = results["aiohttp"]
        print(
            "\nZero-latency server: medians (rate = requests/s, cpu = client CPU us/request, spread = (max - min) /"
            " median of cpu, x = cpu / aiohttp's)"
        )
        head = "".join(f" | c={c:<3} rate    cpu  spread     x" for c in levels)
        print(f"{'candidate':<21} {'version':<9}{head} | server cpu")
        for candidate in active:
            res = results[candidate.name]
            cells = ""
            for c in levels:
                cpu, ref = res.median(c, "cpu_us"), base.median(c, "cpu_us")
                cells += f" | {res.median(c, 'rate'):8.0f} {cpu:6.1f} {res.spread(c):6.0%} {cpu / ref:5.2f}"
            server_cpu = statistics.median(s.server_cpu_us for runs in res.runs.values() for s in runs)
            print(f"{candidate.name:<21} {res.version:<9}{cells} | {server_cpu:5.1f}")

        if not args.skip_slots:
            slots, latency = SLOTS_CASE
            top = max(levels)
            ranked = sorted(
                (c for c in active if not c.floor and c.name != "aiohttp"),
                key=lambda c: results[c.name].median(top, "cpu_us"),
            )
            chosen = [BY_NAME["aiohttp"], *ranked[:3]]
            slot_results.update({c.name: Results(results[c.name].version) for c in chosen})
            ideal = slots / latency
            rounds = -(-args.requests // slots)
            reachable = args.requests / (rounds * latency)
            with Server("--slots", str(slots), "--latency", str(latency)) as server:
                for repeat in range(min(3, args.repeats)):
                    shift = repeat % len(chosen)
                    for candidate in chosen[shift:] + chosen[:shift]:
                        rows = run_candidate(candidate, server, bodies, [slots], args.clients_dir, args.requests)
                        record(slot_results[candidate.name], rows)
                        loads.append(os.getloadavg()[0])
            print(
                f"\nQueueing server, {slots} slots x {latency * 1000:.0f} ms, {slots} workers: ideal {ideal:.0f}/s, "
                f"best reachable with {args.requests} requests {reachable:.0f}/s (medians of {min(3, args.repeats)})"
            )
            for candidate in chosen:
                res = slot_results[candidate.name]
                rate, cpu = res.median(slots, "rate"), res.median(slots, "cpu_us")
                print(f"  {candidate.name:<21} {rate:6.0f} req/s ({rate / ideal:4.0%} of ideal)  cpu {cpu:6.1f} us/req")

    if args.json:
        every = {"zero-latency": results, "256 slots": slot_results}
        samples = {
            case: {name: {c: [vars(s) for s in runs] for c, runs in res.runs.items()} for name, res in group.items()}
            for case, group in every.items()
        }
        args.json.write_text(json.dumps({"samples": samples, "loads": loads}, indent=1))
    print(
        f"\nload average (1 min) during the run: min {min(loads):.2f} median {statistics.median(loads):.2f} "
        f"max {max(loads):.2f}; total {time.monotonic() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
