"""Webhooks under abuse (issue item 6): a burst of concurrent valid requests
from every provider, interleaved with oversized bodies, bad signatures,
malformed requests, slow clients (headers then a trickled or stalled body,
half a request and a hang) and clients that disconnect mid-request, all real
HTTP against a real `dlr worker` on the embedded broker, with signature
secrets set.

The endpoint must stay up (every request that waits for an answer gets one,
/health answers 200 throughout, the worker keeps its PID and logs no
traceback) and the raw topics must hold exactly what was acknowledged: every
request answered 200 is on its raw topic under its message key, and nothing
refused or cut short is on any raw topic."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import socket
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from yarl import URL

from streams.core import providers
from streams.core.generate import BASE, FORMATS, LIFECYCLES
from streams.kafka.broker import EmbeddedBroker
from streams.kafka.processes import WorkerProcess
from streams.serde import envelope
from streams.topics import raw_topic
from tests.e2e.conftest import (
    Form,
    gatewayapi_request,
    messente_request,
    request,
    sent_payload,
    vonage_request,
    wait_ready,
)
from tests.reliability.conftest import Workers
from tests.reliability.harness import raw_topics, read_all

pytestmark = pytest.mark.reliability

SECRETS = {
    "gatewayapi": "gatewayapi-abuse-token-0123456789",
    "messente": "messente-abuse-api-password-0123456789",
    "vonage": "vonage-abuse-signature-secret-0123456789",
}
MAX_BODY = 4096
ENV = {
    **{f"DLR_SECRET_{provider.upper()}": secret for provider, secret in SECRETS.items()},
    "DLR_VONAGE_SIGNATURE_METHOD": "sha256",
    "DLR_MAX_BODY_BYTES": str(MAX_BODY),
}
VALID = 2000  # valid requests in the burst, each with its own message id
CONCURRENCY = 200  # requests in flight at once
ABUSE_ID = 1_000_000  # message ids of the abusive requests in the burst start here
SLOW_ID = 2_000_000  # and those of the slow clients here
SLOW_EACH = 12  # raw-socket clients of each slow kind
TRICKLE_PAUSE = 0.15  # seconds between the pieces a trickling client sends
REFUSED = (400, 401, 405, 413)
# What a webhook may answer, by kind of request; no answer expected when empty.
ANSWERS: dict[str, frozenset[int]] = {
    "valid": frozenset({200}),
    "trickle": frozenset({200}),  # slow but complete: stored like any other
    "oversized": frozenset({413}),
    "oversized_chunked": frozenset({413}),
    "bad_signature": frozenset({401}),
    "malformed": frozenset({400}),
    "wrong_method": frozenset({405}),
    "bad_framing": frozenset({400}),
    "stall_body": frozenset(),  # headers and half the body, then silence until the burst is over
    "stall_head": frozenset(),  # half the request head, then silence
    "cut_body": frozenset(),  # headers and part of the body, then gone (FIN or RST)
    "gone": frozenset(),  # the whole request, then gone without reading the answer: may be stored
}
SLOW_KINDS = ("trickle", "stall_body", "stall_head", "cut_body", "gone", "bad_framing")
NEVER_STORED = {"stall_body", "stall_head", "cut_body", *(k for k, a in ANSWERS.items() if a and a <= set(REFUSED))}


@dataclass
class Call:
    """One request of the test and what became of it."""

    kind: str
    provider: str
    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    status: int | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def topic(self) -> str:
        return raw_topic(self.provider)

    @property
    def payload(self) -> bytes:
        """What a stored record of this request carries."""
        return sent_payload(self.method, self.path, self.body)

    def head(self, port: int, **extra: str) -> bytes:
        headers = {"Host": f"127.0.0.1:{port}", **self.headers, **extra}
        if self.method != "GET" and "Transfer-Encoding" not in headers:
            headers["Content-Length"] = str(len(self.body))
        lines = [f"{self.method} {self.path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
        return "\r\n".join(lines).encode()


# --- the requests ------------------------------------------------------------------------------------

WORDS = {provider: [step for cycle in cycles for step in cycle] for provider, cycles in LIFECYCLES.items()}


def receipt(provider: str, mid: int, rnd: random.Random) -> bytes:
    """A receipt of message `mid` in the provider's wire format."""
    word, _, code = rnd.choice(WORDS[provider]).partition(":")
    return FORMATS[provider](mid, word, code or None, BASE + dt.timedelta(seconds=mid))


def signed(provider: str, line: bytes, index: int) -> Form:
    """The request the provider sends for `line`, signed where a secret is set."""
    if provider == "gatewayapi":
        return gatewayapi_request(line, index, SECRETS[provider])
    if provider == "messente":
        return messente_request(line, SECRETS[provider])
    if provider == "vonage":
        return vonage_request(line, index, SECRETS[provider])
    if "POST" not in providers.PROVIDERS[provider].webhook.methods:  # a GET: the query is the payload
        return "GET", f"/dlr/{provider}?{line.decode()}", b"", {}
    content_type = ("application/json" if line[:1] in (b"{", b"[") else "text/plain" if provider == "smpp"
                    else "application/x-www-form-urlencoded")
    return "POST", f"/dlr/{provider}", line, {"Content-Type": content_type}


def valid(provider: str, mid: int, rnd: random.Random, kind: str = "valid") -> Call:
    return Call(kind, provider, *signed(provider, receipt(provider, mid, rnd), mid))


def oversized(provider: str, mid: int, rnd: random.Random, size: int) -> Call:
    """A well signed receipt padded over the limit: only its size is wrong."""
    line = receipt(provider, mid, rnd)
    if "POST" not in providers.PROVIDERS[provider].webhook.methods:  # a GET: the query is the payload
        return Call("oversized", provider, "GET", f"/dlr/{provider}?{line.decode()}&pad={'x' * MAX_BODY}", b"", {})
    method, path, body, headers = signed(provider, line, mid)
    padded = body + b" " * (size - len(body))
    if "Signature" in headers:
        _, _, padded, headers = gatewayapi_request(padded, 1, SECRETS[provider])  # v1: HMAC of the padded body
    elif provider == "messente":
        _, _, padded, headers = messente_request(padded, SECRETS[provider])
    return Call("oversized", provider, method, path, padded, headers)


def bad_signature(provider: str, mid: int, rnd: random.Random) -> Call:
    """A receipt signed with the wrong secret, or signed and then altered, or unsigned."""
    line = receipt(provider, mid, rnd)
    how = rnd.randrange(3)
    if how == 0:  # the wrong secret
        wrong = {**SECRETS, provider: "not-the-secret"}
        form = (gatewayapi_request(line, mid, wrong[provider]) if provider == "gatewayapi"
                else messente_request(line, wrong[provider]) if provider == "messente"
                else vonage_request(line, mid, wrong[provider]))
        return Call("bad_signature", provider, *form)
    method, path, body, headers = signed(provider, line, mid)
    if how == 1:  # signed, then altered (the signature stays the original's)
        if provider == "gatewayapi" and "X-Gwapi-Signature" in headers:
            body = body.replace(b'"id":', b'"id":9', 1)  # a claim the token does not vouch for
        else:
            body = re.sub(rb'"status":\s*"', b'"status":"X', body, count=1)
        return Call("bad_signature", provider, method, path, body, headers)
    unsigned = {k: v for k, v in headers.items() if "signature" not in k.lower()}
    if provider == "vonage":
        body = re.sub(rb',\s*"sig":\s*"[0-9a-f]+"', b"", body)
    return Call("bad_signature", provider, method, path, body, unsigned)


def malformed(mid: int, rnd: random.Random) -> Call:
    """A request the edge refuses with 400 or 405 before anything is written."""
    line = receipt("smpp", mid, rnd)
    text = {"Content-Type": "text/plain"}
    return rnd.choice([
        Call("malformed", "smpp", "POST", "/dlr/smpp", line.replace(b"text:", b"text:C\xf3digo"), text),  # Latin-1
        Call("malformed", "smpp", "POST", "/dlr/smpp", b" \r\n ", text),  # blank body
        Call("malformed", "labsmobile", "GET", "/dlr/labsmobile", b"", {}),  # no query
        Call("malformed", "labsmobile", "GET",
             f"/dlr/labsmobile?{receipt('labsmobile', mid, rnd).decode()}&desc=Env%EDado", b"", {}),
        Call("wrong_method", "gatewayapi", "GET", f"/dlr/gatewayapi?id={mid}", b"", {}),
        Call("wrong_method", "vonage", "PUT", "/dlr/vonage", receipt("vonage", mid, rnd),
             {"Content-Type": "application/json"}),
    ])


def burst(rnd: random.Random) -> list[Call]:
    """The valid requests (round-robin over the providers) with the abuse
    shuffled in among them: six abusive requests for every forty valid."""
    names = providers.names()
    calls = [valid(names[i % len(names)], 1 + i, rnd) for i in range(VALID)]
    mid = ABUSE_ID
    for i in range(VALID // 40):
        mid += 1
        calls.append(oversized(names[i % len(names)], mid, rnd, rnd.choice([MAX_BODY + 1, 4 * MAX_BODY, 1 << 20])))
        mid += 1
        calls.append(Call("oversized_chunked", "smpp", "POST", "/dlr/smpp", receipt("smpp", mid, rnd) + b" " * 9000,
                          {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"}))
        for provider in SECRETS:
            mid += 1
            calls.append(bad_signature(provider, mid, rnd))
        mid += 1
        calls.append(malformed(mid, rnd))
    rnd.shuffle(calls)
    return calls


def slow_clients(rnd: random.Random) -> list[Call]:
    names = providers.names()
    out = []
    for i, kind in enumerate(k for k in SLOW_KINDS for _ in range(SLOW_EACH)):
        mid = SLOW_ID + i
        call = valid(names[i % len(names)], mid, rnd, kind)
        if kind in ("stall_body", "cut_body") and call.method == "GET":  # these need a body
            call = valid("smpp", mid, rnd, kind)
        if kind == "bad_framing":
            call = Call(kind, "smpp", "POST", "/dlr/smpp", receipt("smpp", mid, rnd),
                        {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        out.append(call)
    return out


# --- the clients -------------------------------------------------------------------------------------


async def send(session: aiohttp.ClientSession, port: int, call: Call) -> None:
    """One request on the shared keep-alive pool; a chunked one streams its body."""
    data: bytes | AsyncIterator[bytes] | None = call.body or None
    headers = dict(call.headers)
    if headers.pop("Transfer-Encoding", None):
        data = pieces(call.body, 3000)
    started = time.perf_counter()
    try:
        async with session.request(call.method, URL(f"http://127.0.0.1:{port}{call.path}", encoded=True),
                                   data=data, headers=headers) as response:
            await response.read()
            call.status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        call.error = type(exc).__name__
    call.seconds = time.perf_counter() - started


async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(body), size):
        yield body[at:at + size]


async def slow(port: int, call: Call, burst_over: asyncio.Event) -> None:
    """One raw-socket client of `call.kind` (see ANSWERS): what it sends, then
    what it waits for."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = call.head(port, Connection="close")
    first_part = {
        "trickle": head if call.method == "POST" else b"",
        "stall_body": head + call.body[: len(call.body) // 2],
        "stall_head": head[: len(head) // 2],
        "cut_body": head + call.body[: len(call.body) // 3],
        "gone": head + call.body,
        "bad_framing": head + b"zz\r\n" + call.body + b"\r\n0\r\n\r\n",  # a chunk size that is not hex
    }[call.kind]
    try:
        writer.write(first_part)
        await writer.drain()
        if call.kind == "trickle":  # the rest (a POST's body, a GET's head) in ten pieces with pauses
            rest = (head + call.body)[len(first_part):]
            for at in range(0, len(rest), max(1, len(rest) // 10)):
                writer.write(rest[at:at + max(1, len(rest) // 10)])
                await writer.drain()
                await asyncio.sleep(TRICKLE_PAUSE)
        if call.kind in ("stall_body", "stall_head"):
            await burst_over.wait()
            call.error = await still_held(reader)
        elif call.kind == "cut_body":
            await asyncio.sleep(0.05)
            if len(call.body) % 2:  # RST instead of FIN for about half of them
                writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                           struct.pack("ii", 1, 0))
        elif ANSWERS[call.kind]:
            answer = await asyncio.wait_for(reader.read(), 30)
            status = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
            call.status = int(status.group(1)) if status else None
            call.error = None if status else f"no HTTP answer: {answer[:60]!r}"
    except (OSError, TimeoutError) as exc:
        call.error = type(exc).__name__
    finally:
        call.seconds = time.perf_counter() - started
        writer.close()


async def still_held(reader: asyncio.StreamReader) -> str:
    """Whether the server still waits on a stalled client ("held") or gave up on it."""
    try:
        data = await asyncio.wait_for(reader.read(1), 0.01)
    except TimeoutError:
        return "held"
    return "answered" if data else "closed by server"


@dataclass
class Probes:
    """/health asked every 0.1 s while the burst runs, on its own connection."""

    answers: list[int]
    seconds: list[float]


async def probe_health(port: int, until: asyncio.Event, probes: Probes) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while not until.is_set():
            started = time.perf_counter()
            try:
                async with session.get(f"http://127.0.0.1:{port}/health") as response:
                    probes.answers.append(response.status)
            except (aiohttp.ClientError, TimeoutError):
                probes.answers.append(0)
            probes.seconds.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)


async def drive(port: int, calls: list[Call], slowpokes: list[Call], probes: Probes) -> float:
    """The slow clients and /health probes running while the burst goes
    through at CONCURRENCY in flight; the burst's duration."""
    burst_over = asyncio.Event()
    health = asyncio.create_task(probe_health(port, burst_over, probes))
    slow_tasks = [asyncio.create_task(slow(port, call, burst_over)) for call in slowpokes]
    await asyncio.sleep(0.2)  # the slow clients hold their connections before the burst starts
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(session: aiohttp.ClientSession, call: Call) -> None:
        async with gate:
            await send(session, port, call)

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(one(session, call) for call in calls))
    elapsed = time.perf_counter() - started
    burst_over.set()
    await asyncio.gather(health, *slow_tasks)
    return elapsed


# --- what the broker holds -----------------------------------------------------------------------------


def stored(bootstrap: str) -> tuple[Counter[tuple[str, bytes]], dict[tuple[str, bytes], bytes | None]]:
    """Every record on the raw topics as (topic, payload), and each one's key."""
    copies: Counter[tuple[str, bytes]] = Counter()
    keys: dict[tuple[str, bytes], bytes | None] = {}
    for rec in read_all(bootstrap, raw_topics(), timeout=60):
        raw = envelope.read(rec.value, rec.timestamp_us)
        assert raw["transport"] == "http" and raw_topic(raw["provider"]) == rec.topic, raw
        copies[(rec.topic, raw["payload"])] += 1
        keys[(rec.topic, raw["payload"])] = rec.key
    return copies, keys


def message_key(call: Call) -> bytes | None:
    key = providers.message_key(call.provider, call.payload, providers.Options(received_at=0))  # as the webhook
    return None if key is None else key.encode()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def answers_by_kind(calls: list[Call]) -> str:
    table: dict[str, Counter[str]] = {}
    for call in calls:
        table.setdefault(call.kind, Counter())[str(call.status or call.error or "none")] += 1
    return " ".join(f"{kind}={dict(sorted(got.items()))}" for kind, got in table.items())


def server_counts(port: int) -> dict[str, int]:
    """The worker's own dlr_webhook_requests_total, by answer code."""
    text = request(port, "GET", "/metrics").text
    out: Counter[str] = Counter()
    for code, value in re.findall(r'^dlr_webhook_requests_total\{[^}]*code="(\d+)"[^}]*\} (\S+)$', text, re.M):
        out[code] += int(float(value))
    return dict(sorted(out.items()))


# --- the test ------------------------------------------------------------------------------------------


@pytest.mark.timeout(110)
def test_webhooks_stay_up_under_abuse_and_store_every_acknowledged_request(
        broker: EmbeddedBroker, workers: Workers, report: Callable[[str], None]) -> None:
    rnd = random.Random(6)
    calls = burst(rnd)
    slowpokes = slow_clients(rnd)
    worker: WorkerProcess = workers.new("w1", ENV).start()
    worker.wait_web(60)
    wait_ready(worker)
    assert worker.process is not None
    pid = worker.process.pid

    probes = Probes([], [])
    elapsed = asyncio.run(drive(worker.web_port, calls, slowpokes, probes))
    time.sleep(0.5)  # the server notices the stalled clients leaving
    after = request(worker.web_port, "GET", "/health").status
    server = server_counts(worker.web_port)
    copies, keys = stored(broker.bootstrap)
    everything = calls + slowpokes

    unanswered = [c for c in everything if ANSWERS[c.kind] and c.status is None]
    wrong_answer = [c for c in everything if c.status is not None and c.status not in ANSWERS[c.kind]]
    acked = [c for c in everything if c.status == 200]
    missing = [c for c in acked if copies[(c.topic, c.payload)] == 0]
    wrong_key = [c for c in acked if (c.topic, c.payload) in keys and keys[(c.topic, c.payload)] != message_key(c)]
    refused_stored = [c for c in everything if c.kind in NEVER_STORED and (c.topic, c.payload) in copies]
    may_be_stored = {(c.topic, c.payload) for c in everything if c.status == 200 or c.kind == "gone"}
    stray = [tp for tp in copies if tp not in may_be_stored]  # on a topic, never acknowledged
    duplicates = sum(n - 1 for n in copies.values())
    gone_stored = sum(1 for c in slowpokes if c.kind == "gone" and (c.topic, c.payload) in copies)
    log = worker.log_path.read_text(errors="replace")
    tracebacks = log.count("Traceback") + log.count("Crashed reason=")
    errors_logged = log.count("[ERROR]")
    server_errors = {code: n for code, n in server.items() if code.startswith("5")}
    same_process = worker.alive and worker.process is not None and worker.process.pid == pid

    valid_seconds = [c.seconds for c in calls if c.kind == "valid" and c.status == 200]
    codes = Counter(str(c.status or c.error) for c in everything)
    report(f"webhooks abuse: requests={len(everything)} by answer {dict(sorted(codes.items()))}; burst of "
           f"{len(calls)} ({VALID} valid) at {CONCURRENCY} in flight in {elapsed:.1f}s "
           f"({len(calls) / elapsed:.0f} req/s); slow clients={len(slowpokes)} "
           f"({', '.join(f'{k} {SLOW_EACH}' for k in SLOW_KINDS)})")
    report(f"webhooks abuse: by kind {answers_by_kind(everything)}")
    report(f"webhooks abuse: acked={len(acked)} found on topic={len(acked) - len(missing)} missing={len(missing)} "
           f"wrong key={len(wrong_key)} refused or cut short but stored={len(refused_stored)} "
           f"stored never acked={len(stray)} duplicates={duplicates} "
           f"gone-after-sending stored={gone_stored}/{SLOW_EACH}")
    report(f"webhooks abuse: valid latency p50={percentile(valid_seconds, 0.5) * 1000:.0f}ms "
           f"p99={percentile(valid_seconds, 0.99) * 1000:.0f}ms max={max(valid_seconds, default=0) * 1000:.0f}ms; "
           f"/health during burst {dict(Counter(probes.answers))} (max {max(probes.seconds, default=0) * 1000:.0f}ms), "
           f"after {after}; worker's own counts by code {server}; same_process={same_process} "
           f"tracebacks={tracebacks} errors_logged={errors_logged}")

    def show(bad: list[Call]) -> list[tuple[str, str, str, int | None, str | None]]:
        return [(c.kind, c.method, c.path[:60], c.status, c.error) for c in bad[:5]]

    assert not unanswered, show(unanswered)
    assert not wrong_answer, show(wrong_answer)
    assert len(acked) == VALID + SLOW_EACH  # the burst's valid requests and the trickling clients
    assert not missing, show(missing)
    assert not wrong_key, show(wrong_key)
    assert not refused_stored, show(refused_stored)
    assert not stray, stray[:5]
    assert probes.answers and set(probes.answers) == {200}, Counter(probes.answers)
    assert after == 200
    assert not server_errors, server  # the worker answered (or would have answered) 5xx: a bug of ours
    assert same_process and tracebacks == 0 and errors_logged == 0, worker.log_tail(60)
