"""The plain http:// transport against a raw socket server that answers in the ways real servers do: Content-Length
and chunked bodies, kept-alive and closed connections, a Retry-After header, a connection the server closes while
idle, garbage, silence. Each case checks the answer or the error the client's retry logic relies on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from nemo_pipeline.inference._http import AiohttpTransport, PlainHttp, TransportError, transport_for

Reply = Callable[[bytes], bytes | None]  # the request head -> raw bytes to send (None: say nothing)


@contextlib.asynccontextmanager
async def _server(reply: Reply, close_after: bool = False) -> AsyncIterator[tuple[str, list[int]]]:
    """(base url, connections accepted): answers each request on a connection with reply(request head)."""
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                answer = reply(head)
                if answer is None:
                    await asyncio.sleep(3600)
                    break
                writer.write(answer)
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", accepted
    finally:
        server.close()


def _ok(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.mark.timeout(60)
def test_content_length_answers_reuse_one_connection():
    async def scenario():
        async with _server(lambda head: _ok(b'{"n": 1}')) as (url, accepted):
            http = PlainHttp(url, {"Content-Type": "application/json"}, 5.0, 5.0)
            answers = [await http.request("POST", f"{url}/completions", b"{}") for _ in range(5)]
            await http.aclose()
            return answers, len(accepted)

    answers, connections = _run(scenario())
    assert [(a.status, a.body) for a in answers] == [(200, b'{"n": 1}')] * 5
    assert connections == 1


@pytest.mark.timeout(60)
def test_chunked_answer_and_retry_after_header():
    chunked = (
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n4\r\n: 1}\r\n0\r\n\r\n'
    )

    async def scenario():
        async with _server(lambda head: chunked) as (url, _):
            http = PlainHttp(url, {}, 5.0, 5.0)
            answer = await http.request("POST", f"{url}/completions", b"{}")
            await http.aclose()
            return answer

    answer = _run(scenario())
    assert (answer.status, answer.body, answer.retry_after) == (429, b'{"a": 1}', "7")


@pytest.mark.timeout(60)
def test_a_connection_the_server_closes_is_not_reused():
    async def scenario():
        async with _server(lambda head: _ok(b"{}", "Connection: close\r\n"), close_after=True) as (url, accepted):
            http = PlainHttp(url, {}, 5.0, 5.0)
            for _ in range(3):
                assert (await http.request("GET", f"{url}/models", None)).status == 200
            await http.aclose()
            return len(accepted)

    assert _run(scenario()) == 3


@pytest.mark.timeout(60)
def test_an_idle_connection_closed_by_the_server_is_skipped():
    async def scenario():
        async with _server(lambda head: _ok(b"{}"), close_after=True) as (url, accepted):  # closes after answering
            http = PlainHttp(url, {}, 5.0, 5.0)
            await http.request("GET", f"{url}/models", None)
            await asyncio.sleep(0.2)  # the server's close arrives while the connection is idle
            answer = await http.request("GET", f"{url}/models", None)
            await http.aclose()
            return answer.status, len(accepted)

    assert _run(scenario()) == (200, 2)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (lambda head: b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP answer"),
        (lambda head: b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut', "closed the connection"),
    ],
)
def test_garbage_and_cut_answers_are_transport_errors(reply, message):
    async def scenario():
        async with _server(reply, close_after=True) as (url, _):
            http = PlainHttp(url, {}, 5.0, 5.0)
            try:
                await http.request("POST", f"{url}/completions", b"{}")
            finally:
                await http.aclose()

    with pytest.raises(TransportError, match=message):
        _run(scenario())


@pytest.mark.timeout(60)
def test_silence_times_out_and_refused_connections_fail():
    async def silent():
        async with _server(lambda head: None) as (url, _):
            http = PlainHttp(url, {}, 0.3, 5.0)
            try:
                await http.request("POST", f"{url}/completions", b"{}")
            finally:
                await http.aclose()

    with pytest.raises(asyncio.TimeoutError):
        _run(silent())

    async def refused():
        async with _server(lambda head: _ok(b"{}")) as (url, _):
            pass  # closed: nothing listens on the port any more
        await PlainHttp(url, {}, 5.0, 5.0).request("GET", f"{url}/models", None)

    with pytest.raises(TransportError, match="cannot connect"):
        _run(refused())


def test_https_goes_through_aiohttp():
    assert isinstance(transport_for("https://api.example.com/v1", {}, 5.0, 5.0), AiohttpTransport)
    assert isinstance(transport_for("http://node-3:5000/v1", {}, 5.0, 5.0), PlainHttp)
