"""Live-room fanout benchmark: many viewers in one deliberation, comments at a steady
rate, then a burst of votes from those viewers; the same viewer scenario against a bare
one-packet-per-comment python-socketio server (benchmarks/live_reference.py) for
comparison.

    .venv/bin/python benchmarks/live_fanout.py                # make bench runs it
    .venv/bin/python benchmarks/live_fanout.py --quick        # smoke run, figures mean nothing

The server under test is the real app (`mashangyi serve`, one process, PostgreSQL, the
embedded socket.io manager) in a subprocess pinned to CPU 0; the load generator is another
process pinned to CPU 1 with lean clients that speak engine.io/socket.io over raw
websockets (no python-socketio client), so it costs little per viewer. Server CPU is read
from /proc/<pid>/stat over the measuring window only. Method notes: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")
LATENCY_TARGET_MS = 500.0
CPU_TARGET = 1.0


# --- the lean client --------------------------------------------------------------------------


class Lean:
    """One socket.io connection on /live over a raw websocket: pings answered, acks matched,
    comments counted by a substring search (only sampled viewers parse JSON)."""

    def __init__(self, sample: bool, latencies: list[float]) -> None:
        self.sample = sample
        self.latencies = latencies
        self.comments = 0
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_ack = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.task: asyncio.Task[None] | None = None

    async def connect(
        self, http: aiohttp.ClientSession, base: str, auth: dict[str, Any], cookie: str = ""
    ) -> None:
        url = base.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await http.ws_connect(url, headers={"Cookie": cookie} if cookie else None)
        opened = await self.ws.receive_str()
        assert opened.startswith("0"), opened
        await self.ws.send_str("40/live," + json.dumps(auth))
        while True:
            reply = await self.ws.receive_str()
            if reply.startswith("40/live"):
                break
            if reply.startswith("44/live"):
                raise RuntimeError(f"refused: {reply}")
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data: str = msg.data
            if data == "2":
                await self.ws.send_str("3")
            elif data.startswith("42/live,"):
                if self.sample:
                    now = time.time()
                    event, payload = json.loads(data[8:])
                    bodies = (
                        [c["body"] for c in payload.get("comments", [])]
                        if event == "batch"
                        else [payload["body"]]
                        if event == "comment"
                        else []
                    )
                    for body in bodies:
                        if body.startswith("b:"):
                            self.latencies.append((now - float(body.split(":")[2])) * 1000)
                            self.comments += 1
                else:
                    self.comments += data.count('"b:')
            elif data.startswith("43/live,"):
                rest = data[8:]
                cut = rest.index("[")
                future = self.acks.pop(int(rest[:cut]), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(rest[cut:])[0])

    async def call(self, event: str, payload: dict[str, Any]) -> Any:
        assert self.ws is not None
        self.next_ack += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[self.next_ack] = future
        await self.ws.send_str(f"42/live,{self.next_ack}" + json.dumps([event, payload]))
        return await asyncio.wait_for(future, 30)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def connect_many(
    http: aiohttp.ClientSession,
    base: str,
    deliberation: int,
    n: int,
    prefix: str,
    sample_every: int,
    latencies: list[float],
) -> list[Lean]:
    clients: list[Lean] = []
    gate = asyncio.Semaphore(40)

    async def one(i: int) -> None:
        async with gate:
            c = Lean(sample_every > 0 and i % sample_every == 0, latencies)
            await c.connect(
                http, base, {"deliberation": deliberation, "device": f"{prefix}{i:07d}"}
            )
            clients.append(c)

    await asyncio.gather(*(one(i) for i in range(n)))
    return clients


# --- the generator (runs in its own process) ----------------------------------------------------


async def generate(spec: dict[str, Any]) -> dict[str, Any]:
    base, deliberation = spec["base"], spec["deliberation"]
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        viewers = await connect_many(
            http, base, deliberation, spec["viewers"], "viewer", spec["sample_every"], latencies
        )
        posters = await connect_many(http, base, deliberation, spec["posters"], "poster", 0, [])
        await asyncio.sleep(1.0)  # presence batches settle
        cpu0 = time.process_time()
        print("MEASURE_START", flush=True)
        sent, refused, seq = 0, 0, 0
        interval = 1.0 / spec["rate"]
        start = time.monotonic()
        pending: list[asyncio.Task[Any]] = []
        ack_ms: list[float] = []

        async def post(poster: Lean, body: str) -> Any:
            sent_at = time.monotonic()
            reply = await poster.call("comment", {"op": "post", "body": body})
            ack_ms.append((time.monotonic() - sent_at) * 1000)
            return reply

        while time.monotonic() - start < spec["seconds"]:
            body = f"b:{seq}:{time.time():.6f}"
            pending.append(asyncio.create_task(post(posters[seq % len(posters)], body)))
            seq += 1
            await asyncio.sleep(max(0.0, start + seq * interval - time.monotonic()))
        acks = await asyncio.gather(*pending)
        sent = sum(1 for a in acks if a.get("ok"))
        refused = len(acks) - sent
        await asyncio.sleep(1.5)  # the last batches arrive
        print("MEASURE_END", flush=True)
        gen_cpu = (time.process_time() - cpu0) / (time.monotonic() - start)
        counts = [v.comments for v in viewers]
        result: dict[str, Any] = {
            "viewers": len(viewers),
            "posters": len(posters),
            "sent": sent,
            "refused": refused,
            "lost_viewers": sum(1 for c in counts if c < sent),
            "min_received": min(counts) if counts else 0,
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies) if latencies else float("nan"),
            "samples": len(latencies),
            "ack_p50_ms": percentile(ack_ms, 50),
            "ack_p99_ms": percentile(ack_ms, 99),
            "generator_cores": gen_cpu,
        }
        if spec.get("votes"):
            result["votes"] = await vote_phase(http, spec, base, deliberation, viewers)
        for c in viewers + posters:
            await c.close()
    return result


async def vote_phase(
    http: aiohttp.ClientSession,
    spec: dict[str, Any],
    base: str,
    deliberation: int,
    viewers: list[Lean],
) -> dict[str, Any]:
    """The step's own viewers vote (an audience voting, not a second audience); voters
    beyond the viewer count connect as extra viewers first."""
    host = Lean(False, [])
    await host.connect(http, base, {"deliberation": deliberation}, cookie=spec["cookie"])
    made = await host.call(
        "poll", {"op": "create", "question": "基准投票", "options": ["同意", "反对", "再议"]}
    )
    poll = made["poll"]
    options = [o["id"] for o in poll["options"]]
    assert (await host.call("poll", {"op": "open", "id": poll["id"]}))["ok"]
    extra = max(0, spec["votes"] - len(viewers))
    added = await connect_many(http, base, deliberation, extra, "voter", 0, [])
    voters = viewers[: spec["votes"]] + added
    rate = spec["votes_per_second"]
    start = time.monotonic()
    tasks = []
    ack_ms: list[float] = []

    async def cast(voter: Lean) -> Any:
        sent_at = time.monotonic()
        reply = await voter.call(
            "poll", {"op": "vote", "id": poll["id"], "choices": [random.choice(options)]}
        )
        ack_ms.append((time.monotonic() - sent_at) * 1000)
        return reply

    print("VOTES_START", flush=True)
    for i, voter in enumerate(voters):
        tasks.append(asyncio.create_task(cast(voter)))
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    offered = time.monotonic() - start
    acks = await asyncio.gather(*tasks)
    elapsed = time.monotonic() - start
    print("VOTES_END", flush=True)
    accepted = sum(1 for a in acks if a.get("ok"))
    # A second vote from some of the same identities: each must be refused.
    again = await asyncio.gather(
        *(
            v.call("poll", {"op": "vote", "id": poll["id"], "choices": [options[0]]})
            for v in voters[:200]
        )
    )
    closed = await host.call("poll", {"op": "close", "id": poll["id"]})
    for v in added:
        await v.close()
    await host.close()
    return {
        "sent": len(voters),
        "accepted": accepted,
        "seconds": elapsed,
        "per_second": accepted / elapsed,
        "offered_seconds": offered,
        "ack_p50_ms": percentile(ack_ms, 50),
        "ack_p99_ms": percentile(ack_ms, 99),
        "stored_ballots": closed["poll"]["tally"]["ballots"],
        "exact": closed["poll"]["tally"]["ballots"] == accepted
        and sum(closed["poll"]["tally"]["votes"].values()) == accepted,
        "duplicates_refused": sum(1 for a in again if a.get("error", {}).get("code") == "conflict"),
        "duplicates_sent": len(again),
    }


# --- orchestration ----------------------------------------------------------------------------


def pin(cpu: int) -> Any:
    def pre() -> None:
        if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
            os.sched_setaffinity(0, {cpu})

    return pre


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server not healthy after 60 s")


def run_step(base: str, server_pid: int, spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--generate", json.dumps(spec)],
        stdout=subprocess.PIPE,
        preexec_fn=pin(1),
        text=True,
    )
    assert proc.stdout is not None
    cpu_start = wall_start = 0.0
    cpu_cores = vote_cores = float("nan")
    vote_cpu_start = vote_wall_start = 0.0
    profiler: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {}
    for line in proc.stdout:
        if line.startswith("MEASURE_START"):
            cpu_start, wall_start = cpu_seconds(server_pid), time.monotonic()
        elif line.startswith("MEASURE_END"):
            cpu_cores = (cpu_seconds(server_pid) - cpu_start) / (time.monotonic() - wall_start)
        elif line.startswith("VOTES_START"):
            vote_cpu_start, vote_wall_start = cpu_seconds(server_pid), time.monotonic()
            if os.environ.get("BENCH_PROFILE_VOTES"):  # developers: py-spy the vote burst
                profiler = subprocess.Popen(
                    [
                        *("py-spy", "record", "-p", str(server_pid), "-f", "raw", "-r", "250"),
                        *("-o", os.environ["BENCH_PROFILE_VOTES"], "--nonblocking"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
        elif line.startswith("VOTES_END"):
            vote_cores = (cpu_seconds(server_pid) - vote_cpu_start) / (
                time.monotonic() - vote_wall_start
            )
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
        elif line.startswith("{"):
            result = json.loads(line)
    if proc.wait() != 0 or not result:
        raise SystemExit(f"the load generator failed for {spec['viewers']} viewers")
    result["server_cores"] = cpu_cores
    if "votes" in result:
        result["votes"]["server_cores"] = vote_cores
    return result


def meets(r: dict[str, Any]) -> bool:
    return bool(
        r["p99_ms"] <= LATENCY_TARGET_MS
        and r["server_cores"] <= CPU_TARGET
        and r["lost_viewers"] == 0
        and r["refused"] == 0
    )


async def start_live(
    http: aiohttp.ClientSession, base: str, username: str, password: str, deliberation: int
) -> tuple[str, dict[str, str], str]:
    """Log the demo chief in, replace the one-time password, start the session live:
    the staff cookie, the CSRF header and the session's staff API URL."""
    r = await http.post(base + "/api/auth/login", json={"username": username, "password": password})
    login = await r.json()
    headers = {"X-CSRF-Token": login["csrf_token"]}
    new = "Bench-Live-2026!"
    r = await http.post(
        base + "/api/auth/password", json={"current": password, "new": new}, headers=headers
    )
    assert r.status in (200, 204), await r.text()
    r = await http.post(base + "/api/auth/login", json={"username": username, "password": new})
    login = await r.json()
    cookie = f"msy_session={r.cookies['msy_session'].value}"
    headers = {"X-CSRF-Token": login["csrf_token"]}
    url = f"{base}/api/staff/deliberations/{deliberation}"
    version = (await (await http.get(url)).json())["version"]
    r = await http.post(url + "/moves", json={"to": "live", "version": version}, headers=headers)
    assert r.status == 200, await r.text()
    return cookie, headers, url


async def prepare(base: str, username: str, password: str, deliberation: int) -> str:
    """The demo session started live by its chief: the chief's cookie."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        cookie, _, _ = await start_live(http, base, username, password, deliberation)
        return cookie


async def reset_database(url: str, tmp: Path) -> None:
    from sqlalchemy import text

    from server.core.db import Database
    from server.settings import Settings

    db = Database(Settings.from_env({"MASHANGYI_DATABASE_URL": url}, base_dir=tmp).database_url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1/msy_bench_live",
        help="PostgreSQL database whose schema is DROPPED and recreated",
    )
    parser.add_argument("--steps", default="1000,2000,3000,4000", help="viewer counts to try")
    parser.add_argument("--reference-steps", default="125,250,500,1000,2000")
    parser.add_argument("--rate", type=float, default=50.0, help="comments per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window per step")
    parser.add_argument("--votes", type=int, default=3000, help="distinct voters")
    parser.add_argument(
        "--votes-per-second",
        type=float,
        default=2000.0,
        help="offered vote rate; above the 1,000/s target so the figure is the server's pace",
    )
    parser.add_argument(
        "--votes-at",
        type=int,
        default=3000,
        help="the viewer step whose viewers vote (the last step if not among --steps)",
    )
    parser.add_argument(
        "--batch-ms", type=int, default=None, help="MASHANGYI_LIVE_BATCH_MS for the server"
    )
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: figures mean nothing")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/live_fanout.json"))
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(asyncio.run(generate(json.loads(args.generate)))), flush=True)
        return
    if args.quick:
        args.steps, args.reference_steps, args.seconds, args.votes = "40", "40", 2.0, 60
        args.rate = 10.0
        args.votes_per_second = 200.0
    # 5 comments per 30 s per identity: enough posters that none goes over at this rate.
    posters = max(4, int(args.rate * 30 / 4))

    tmp = Path(tempfile.mkdtemp(prefix="msy-live-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASHANGYI_")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env.update(
        MASHANGYI_DATA_DIR=str(tmp / "var"),
        MASHANGYI_RECORDINGS_DIR=str(tmp / "rec"),
        MASHANGYI_DATABASE_URL=args.database_url,
        MASHANGYI_PUBLIC_BASE_URL=base,
        MASHANGYI_LOG_LEVEL="WARNING",
        MASHANGYI_REMINDER_SECONDS="0",
    )
    if args.batch_ms is not None:
        env["MASHANGYI_LIVE_BATCH_MS"] = str(args.batch_ms)
    print(f"码上议 live fanout benchmark; load {os.getloadavg()[0]:.2f}")
    asyncio.run(reset_database(args.database_url, tmp))
    for command in (["migrate"], ["demo"]):
        subprocess.run([str(BIN / "mashangyi"), *command], env=env, check=True, capture_output=True)
    demo = json.loads((tmp / "var" / "demo.json").read_text("utf-8"))
    chief = next(x for x in demo["logins"] if x["username"] == "chief.xingfu")
    deliberation = int(demo["deliberation_id"])

    results: dict[str, Any] = {"mashangyi": [], "reference": [], "load_before": os.getloadavg()[0]}
    server = subprocess.Popen(
        [str(BIN / "mashangyi"), "serve", "--port", str(port), "--quiet"],
        env=env,
        preexec_fn=pin(0),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(base, server)
        cookie = asyncio.run(prepare(base, "chief.xingfu", chief["password"], deliberation))
        steps = [int(s) for s in args.steps.split(",") if s]
        vote_step = args.votes_at if args.votes_at in steps else steps[-1]
        for n in steps:
            spec = {
                "base": base,
                "deliberation": deliberation,
                "viewers": n,
                "posters": posters,
                "rate": args.rate,
                "seconds": args.seconds,
                "sample_every": 10,
                "cookie": cookie,
                "votes": args.votes if n == vote_step else 0,
                "votes_per_second": args.votes_per_second,
            }
            r = run_step(base, server.pid, spec)
            results["mashangyi"].append(r)
            print(
                f"  mashangyi {n:>5} viewers: p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, "
                f"server {r['server_cores']:.2f} cores, lost {r['lost_viewers']}; post acked "
                f"p50 {r['ack_p50_ms']:.0f} ms, p99 {r['ack_p99_ms']:.0f} ms",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(30)

    if not args.skip_reference:
        ref = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks/live_reference.py"), str(port)],
            preexec_fn=pin(0),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(base, ref)
            for n in [int(s) for s in args.reference_steps.split(",")]:
                spec = {
                    "base": base,
                    "deliberation": 1,
                    "viewers": n,
                    "posters": posters,
                    "rate": args.rate,
                    "seconds": args.seconds,
                    "sample_every": 10,
                    "votes": 0,
                }
                r = run_step(base, ref.pid, spec)
                results["reference"].append(r)
                print(
                    f"  reference {n:>5} viewers: p50 {r['p50_ms']:.0f} ms, "
                    f"p99 {r['p99_ms']:.0f} ms, "
                    f"server {r['server_cores']:.2f} cores, lost {r['lost_viewers']}",
                    flush=True,
                )
                if not meets(r):
                    break  # past its capacity
        finally:
            ref.terminate()
            ref.wait(30)

    ours = max((r["viewers"] for r in results["mashangyi"] if meets(r)), default=0)
    theirs = max((r["viewers"] for r in results["reference"] if meets(r)), default=0)
    results["capacity"] = {"mashangyi": ours, "reference": theirs}
    print(
        "\n| server | viewers | posters | comments/s | p50 ms | p99 ms | max ms"
        " | server cores | generator cores | lost |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("mashangyi", "reference"):
        for r in results[name]:
            print(
                f"| {name} | {r['viewers']} | {r['posters']} | {r['sent'] / args.seconds:.0f} | "
                f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['max_ms']:.0f} | "
                f"{r['server_cores']:.2f} | "
                f"{r['generator_cores']:.2f} | {r['lost_viewers']} |"
            )
    votes = next((r["votes"] for r in results["mashangyi"] if r.get("votes")), None)
    print(
        f"\nCapacity at p99 ≤ {LATENCY_TARGET_MS:.0f} ms, ≤ {CPU_TARGET} core, nothing lost: "
        f"mashangyi {ours} viewers (of those tried), reference {theirs}"
        + (f", ratio {ours / theirs:.1f}×" if theirs else "")
    )
    if votes:
        print(
            f"Votes ({vote_step} viewers voting, offered {args.votes_per_second:.0f}/s): "
            f"{votes['accepted']}/{votes['sent']} accepted at {votes['per_second']:.0f}/s, "
            f"stored tally exact: {votes['exact']}, second votes refused "
            f"{votes['duplicates_refused']}/{votes['duplicates_sent']}; offered in "
            f"{votes['offered_seconds']:.2f} s, server {votes['server_cores']:.2f} cores, "
            f"acked p50 {votes['ack_p50_ms']:.0f} ms, "
            f"p99 {votes['ack_p99_ms']:.0f} ms"
        )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps({**results, "args": vars(args)}, indent=1, default=str))
    print(f"Wrote {args.output}")
    if args.quick:
        assert results["mashangyi"] and results["mashangyi"][-1]["sent"] > 0
        assert (
            votes is not None
            and votes["exact"]
            and votes["duplicates_refused"] == votes["duplicates_sent"]
        )


if __name__ == "__main__":
    main()
