"""Intake benchmark: topic submissions (征题) per second against the real server.

Run from the repository root (``make bench`` does)::

    .venv/bin/python benchmarks/intake.py [--backends sqlite,postgresql] [--seconds 15]

For each backend it starts the real ``mashangyi serve`` process on a fresh database
(migrated, demo city loaded), and a tiny aiohttp app that does one INSERT per request
(the ceiling for this machine, driver and backend). A load generator in its own
process drives each with ``--concurrency`` clients posting JSON topics, each client
with its own ``msy_device`` cookie. It prints a table, checks the issue's targets and
writes ``benchmarks/results/intake.json``. Only loopback addresses are used, every
run is bounded in time and in requests, and every subprocess is stopped on exit.

See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
HOST = "127.0.0.1"
RATE_LIMIT = "1000000/60"
TARGETS = {"sqlite": 400.0, "postgresql": 600.0}
TARGET_P99_MS = 150.0
DEMO_TOPICS = 8  # server/demo.py submits this many topics
CLK_TCK = os.sysconf("SC_CLK_TCK")

# --- realistic, varied resident text ---------------------------------------------------------

PLACES = [
    "幸福里小区",
    "书香苑社区",
    "河畔社区沿河步道",
    "3号楼单元门口",
    "老菜市场东门",
    "实验小学门口",
    "运河公园南入口",
    "王营村村委会旁",
    "漕运村文化广场",
    "丽景花园北区",
    "创业社区活动中心",
    "智谷大厦东侧",
    "蓝湾小区地下车库",
    "码头社区卫生服务站",
    "新河村桥头",
    "运东社区老年活动室",
]
ISSUES = [
    ("路灯不亮", "晚上出行看不清路，已经有老人摔倒"),
    ("电动车充电桩不够用", "晚上排队充电，有人在楼道私拉电线，存在火灾隐患"),
    ("下水道经常堵塞", "一下雨就积水，污水倒灌进一楼住户家里"),
    ("垃圾清运不及时", "垃圾桶满了溢到路上，天热蚊蝇很多，气味难闻"),
    ("停车位严重不足", "车辆占用消防通道，救护车进不来"),
    ("夜间施工噪音扰民", "晚上十一点以后还在施工，孩子和老人休息不好"),
    ("健身器材损坏", "单杠和漫步机松动生锈，孩子玩耍有安全隐患"),
    ("加装电梯进展缓慢", "申请材料交了一年多，一直没有审批结果"),
    ("道路坑洼不平", "雨天积水看不清，电动车经过容易摔倒"),
    ("公交站没有遮雨棚", "下雨天等车的老人和学生只能淋雨"),
    ("楼道堆放杂物", "堵住安全通道，物业劝说多次无效"),
    ("快递柜数量太少", "快递经常堆在门卫室，丢件时有发生"),
    ("井盖松动", "车辆压过发出很大声响，行人踩上去很危险"),
    ("绿化带长期无人修剪", "树枝挡住路口视线，转弯车辆看不见行人"),
    ("独居老人吃饭难", "子女不在身边，做饭不方便，希望有助餐服务"),
    ("上下学时段交通拥堵", "家长车辆乱停乱放，孩子过马路很危险"),
]
DURATIONS = ["一个多月", "半个多月", "好几个星期", "两个多月", "大半年", "十来天"]
ASKS = [
    "希望社区尽快协调有关部门处理。",
    "希望能派人来现场看一看，尽快解决。",
    "建议列入近期协商议事内容，听听大家的意见。",
    "请相关部门给个处理时间表，居民心里有个底。",
    "希望物业和社区一起想办法，别再拖了。",
    "已经向物业反映过多次，一直没有回音，只好在这里提。",
]
EXTRAS = [
    "附近住的大多是老人和孩子，情况比较急。",
    "周末人流量更大，问题更突出。",
    "邻居们在群里讨论了很久，大家意见比较一致。",
    "之前修过一次，但没多久又坏了，希望彻底解决。",
    "",
    "",
]


def make_topic(rng: random.Random) -> dict[str, str]:
    """One plausible resident submission; titles 6-40 characters, descriptions 30-300."""
    place = rng.choice(PLACES)
    issue, detail = rng.choice(ISSUES)
    description = (
        f"{place}{issue}已经{rng.choice(DURATIONS)}了，{detail}。"
        f"{rng.choice(EXTRAS)}{rng.choice(ASKS)}"
    )
    if rng.random() < 0.3:
        description += rng.choice(EXTRAS) + rng.choice(ASKS)
    return {"title": f"{place}{issue}", "description": description, "kind": "demand"}


# --- the load generator (its own process) ----------------------------------------------------


async def _loadgen(cfg: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    url: str = cfg["url"]
    concurrency: int = cfg["concurrency"]
    max_requests: int = cfg["max_requests"]
    tag = f"{os.getpid()}-{int(time.time())}"
    start = time.perf_counter()
    measure_start = start + cfg["warmup"]
    measure_end = measure_start + cfg["seconds"]
    issued = 0
    latencies: list[float] = []  # ms, 201s completed inside the window
    statuses: Counter[str] = Counter()  # every response, window or not
    window_errors: Counter[str] = Counter()
    ok_total = 0
    cookie_refused = 0
    bad_body = 0
    cpu_marks: dict[str, float] = {}

    async def marks() -> None:
        await asyncio.sleep(max(0.0, measure_start - time.perf_counter()))
        cpu_marks["start"] = time.process_time()
        print("EVENT measure_start", flush=True)
        await asyncio.sleep(max(0.0, measure_end - time.perf_counter()))
        cpu_marks["end"] = time.process_time()
        print("EVENT measure_end", flush=True)

    async def worker(i: int) -> None:
        nonlocal issued, ok_total, cookie_refused, bad_body
        rng = random.Random(f"{tag}-{i}")
        headers = {"Cookie": f"msy_device=bench-{tag}-{i:03d}", "Accept-Language": "zh-CN"}
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=timeout,
        ) as session:
            while time.perf_counter() < measure_end and issued < max_requests:
                issued += 1
                body = make_topic(rng)
                t0 = time.perf_counter()
                try:
                    async with session.post(url, json=body, headers=headers) as resp:
                        payload = await resp.read()
                        status = str(resp.status)
                        if "msy_device" in resp.headers.get("Set-Cookie", ""):
                            cookie_refused += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    payload, status = b"", type(exc).__name__
                t1 = time.perf_counter()
                statuses[status] += 1
                ok = status == "201" and b'"id"' in payload
                if status == "201" and not ok:
                    bad_body += 1
                ok_total += ok
                if measure_start <= t1 <= measure_end:
                    if ok:
                        latencies.append((t1 - t0) * 1000)
                    else:
                        window_errors[status if status != "201" else "201-bad-body"] += 1

    mark_task = asyncio.create_task(marks())
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    if not mark_task.done():  # stopped early by --max-requests
        mark_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await mark_task
    finished = time.perf_counter()
    cpu = time.process_time()
    window = min(finished, measure_end) - measure_start
    latencies.sort()
    return {
        "window_seconds": round(window, 3),
        "requests_issued": issued,
        "capped": issued >= max_requests,
        "ok_in_window": len(latencies),
        "errors_in_window": sum(window_errors.values()),
        "error_kinds_in_window": dict(window_errors),
        "statuses_all": dict(statuses),
        "ok_total": ok_total,
        "bad_201_bodies": bad_body,
        "device_cookie_not_seen": cookie_refused,
        "req_per_s": round(len(latencies) / window, 1) if window > 0 else 0.0,
        "p50_ms": _percentile(latencies, 50),
        "p90_ms": _percentile(latencies, 90),
        "p99_ms": _percentile(latencies, 99),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "loadgen_cpu_cores": round(
            (cpu_marks.get("end", cpu) - cpu_marks.get("start", 0.0)) / window, 2
        )
        if window > 0
        else None,
    }


def _percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceil
    return round(sorted_values[int(rank) - 1], 2)


def loadgen_main(raw: str) -> int:
    result = asyncio.run(_loadgen(json.loads(raw)))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# --- the ceiling: a bare aiohttp handler doing one INSERT (its own process) ------------------


def ceiling_main(db_url: str, port: int) -> int:
    from aiohttp import web
    from sqlalchemy import (
        Column,
        DateTime,
        Integer,
        MetaData,
        String,
        Table,
        Text,
        event,
        insert,
        text,
    )
    from sqlalchemy.ext.asyncio import create_async_engine

    engine_url = "sqlite+aiosqlite://" if db_url == "none" else db_url  # "none": never used
    is_sqlite = engine_url.startswith("sqlite")
    metadata_ = MetaData()
    rows = Table(
        "bench_intake",
        metadata_,
        Column("id", Integer, primary_key=True),
        Column("title", String(60), nullable=False),
        Column("description", Text, nullable=False),
        Column("kind", String(24), nullable=False),
        Column("device_id", String(64)),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    if is_sqlite:
        engine = create_async_engine(engine_url)

        # The same connection set-up and single-writer discipline as server/core/db.py.
        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            for pragma in (
                "journal_mode=WAL",
                "foreign_keys=ON",
                "busy_timeout=10000",
                "synchronous=NORMAL",
            ):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    else:
        engine = create_async_engine(engine_url, pool_size=10, max_overflow=10)
    lock = asyncio.Lock() if is_sqlite else contextlib.nullcontext()

    served = 0

    async def no_db(request: web.Request) -> web.Response:
        nonlocal served
        data = await request.json()
        served += 1
        return web.json_response({"id": served, "title": data["title"]}, status=201)

    async def submit(request: web.Request) -> web.Response:
        data = await request.json()
        async with lock, engine.begin() as conn:
            result = await conn.execute(
                insert(rows).values(
                    title=str(data["title"])[:60],
                    description=str(data["description"]),
                    kind=str(data["kind"]),
                    device_id=request.cookies.get("msy_device"),
                    created_at=datetime.now(UTC),
                )
            )
            new_id = result.inserted_primary_key[0]
        return web.json_response({"id": new_id}, status=201)

    async def health(request: web.Request) -> web.Response:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return web.json_response({"ok": True})

    async def lifecycle(app: web.Application) -> Any:
        async with engine.begin() as conn:
            await conn.run_sync(metadata_.create_all)
        yield
        await engine.dispose()

    async def no_db_health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    if db_url == "none":  # --http-baseline: aiohttp alone, no database at all
        app.router.add_post("/api/rooms/{code}/topics", no_db)
        app.router.add_get("/api/health", no_db_health)
    else:
        app.cleanup_ctx.append(lifecycle)
        app.router.add_post("/api/rooms/{code}/topics", submit)
        app.router.add_get("/api/health", health)
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)
    return 0


# --- process helpers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def proc_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children it has reaped."""
    total = 0.0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += sum(int(f) for f in fields[11:15]) / CLK_TCK  # incl. reaped children
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (OSError, ValueError):
            continue
    return total


def postgres_cpu_seconds() -> float:
    """CPU of every process named postgres on this machine (server and backends)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")] != "postgres":
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime, stime, and cutime + cstime: the postmaster reaps backends that have exited
        # (the pool's overflow connections), and their CPU must not vanish from the figure.
        total += sum(int(f) for f in fields[11:15]) / CLK_TCK
    return total


def machine_busy_seconds() -> float:
    """CPU seconds spent not idle by the whole machine, summed over cores."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts[:8]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / CLK_TCK


def calibrate() -> float:
    """Milliseconds for a fixed pure-Python loop (best of 5): how fast this CPU is right now.

    Shared virtual machines change speed from hour to hour; compare runs only with this
    figure beside them.
    """
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000, 1)


def busy_processes(seconds: float = 2.0, top: int = 5) -> tuple[float, list[str]]:
    """Cores in use by the whole machine over ``seconds``, and the busiest processes."""

    def snapshot() -> dict[int, tuple[str, float]]:
        found = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError):
                    stat = (entry / "stat").read_text()
                    fields = stat[stat.rindex(")") + 2 :].split()
                    cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    used = (int(fields[11]) + int(fields[12])) / CLK_TCK
                    found[int(entry.name)] = (cmd.strip()[:90], used)
        return found

    before, busy0, t0 = snapshot(), machine_busy_seconds(), time.monotonic()
    time.sleep(seconds)
    after, busy1, t1 = snapshot(), machine_busy_seconds(), time.monotonic()
    wall = t1 - t0
    usage = sorted(
        ((used - before[pid][1]) / wall, cmd)
        for pid, (cmd, used) in after.items()
        if pid in before and pid != os.getpid()
    )
    return (busy1 - busy0) / wall, [f"{c:.2f} cores  {cmd}" for c, cmd in usage[-top:][::-1] if c]


def wait_for_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait up to ``limit`` seconds for the machine to go quiet; the last busy figure."""
    deadline = time.monotonic() + limit
    while True:
        busy, busiest = busy_processes(1.0)
        if busy <= threshold or time.monotonic() >= deadline:
            if busy > threshold:
                loud(
                    f"The machine is busy ({busy:.2f} cores) and did not go quiet in "
                    f"{limit:g} s; running anyway. Busiest:\n  " + "\n  ".join(busiest)
                )
            return round(busy, 2)
        print(f"  waiting for the machine to go quiet ({busy:.2f} cores busy) ...", flush=True)
        time.sleep(2)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


class Processes:
    """Every subprocess we start, stopped in reverse order however we leave."""

    def __init__(self) -> None:
        self.running: list[Proc] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> Proc:
        fh = log.open("wb")
        try:
            popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            fh.close()
        proc = Proc(name, popen, log)
        self.running.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGINT)  # aiohttp shuts down cleanly on SIGINT
            try:
                proc.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=10)
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.running)):
            with contextlib.suppress(Exception):
                self.stop(proc)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_healthy(proc: Proc, base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(
                f"{proc.name} exited with {proc.popen.returncode}:\n{tail(proc.log)}"
            )
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"{proc.name} did not answer /api/health in {timeout:.0f} s:\n{tail(proc.log)}"
    )


def run_cli(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def mashangyi_argv() -> list[str]:
    script = Path(sys.executable).parent / "mashangyi"
    if script.exists():
        return [str(script)]
    found = shutil.which("mashangyi")
    return [found] if found else [sys.executable, "-m", "server"]


# --- databases -------------------------------------------------------------------------------


def plain_pg_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def safe_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


async def _pg(url: str, sql: str, *args: Any) -> Any:
    import asyncpg

    conn = await asyncpg.connect(plain_pg_url(url), timeout=5)
    try:
        if sql.lstrip().upper().startswith("SELECT") or sql.lstrip().upper().startswith("SHOW"):
            return await conn.fetchval(sql, *args)
        return await conn.execute(sql, *args)
    finally:
        await conn.close()


def pg(url: str, sql: str, *args: Any) -> Any:
    return asyncio.run(_pg(url, sql, *args))


def pg_sessions(url: str) -> int:
    """Sessions the database has seen end (pg_stat_database.sessions, PostgreSQL 14+)."""
    try:
        sql = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        return int(pg(url, sql))
    except Exception:
        return 0


def reset_pg(url: str) -> None:
    """The bench database is shared scratch space: start from an empty public schema."""
    pg(url, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")


def scalar(backend: str, url: str, sql: str, *args: Any) -> Any:
    """One value from the backend's database (``?`` placeholders for SQLite, ``$1`` for PG)."""
    if backend == "postgresql":
        return pg(url, sql, *args)
    path = url.split(":///", 1)[1]
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        row = conn.execute(sql, args).fetchone()
        return row[0] if row else None


# --- one measured run ------------------------------------------------------------------------


@dataclass
class RunResult:
    backend: str
    target: str
    ok: bool
    error: str | None = None
    load: dict[str, Any] = field(default_factory=dict)
    server_cpu_cores: float | None = None
    postgres_cpu_cores: float | None = None
    machine_busy_cores: float | None = None
    other_cpu_cores: float | None = None
    busy_cores_before: float | None = None
    postgres_sessions_closed: int | None = None
    rows_expected: int | None = None
    rows_found: int | None = None
    profile: str | None = None
    notes: list[str] = field(default_factory=list)


def drive(
    procs: Processes,
    server: Proc,
    url: str,
    args: argparse.Namespace,
    result: RunResult,
    work: Path,
) -> None:
    """Run the load generator against ``url``; sample CPU over its measurement window."""
    result.busy_cores_before = wait_for_quiet(args.wait_idle)
    sessions_before = pg_sessions(args.pg_url) if result.backend == "postgresql" else None
    cfg = {
        "url": url,
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "seconds": args.seconds,
        "max_requests": args.max_requests,
    }
    argv = [sys.executable, str(Path(__file__).resolve()), "_loadgen", json.dumps(cfg)]
    log = work / f"loadgen-{result.target}.log"
    with log.open("wb") as err:
        gen = subprocess.Popen(
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL
        )
    proc = Proc("load generator", gen, log)
    procs.running.append(proc)
    marks: dict[str, tuple[float, float, float, float]] = {}
    profiler: subprocess.Popen[bytes] | None = None
    try:
        assert gen.stdout is not None
        for raw in gen.stdout:
            line = raw.decode().strip()
            if line.startswith("EVENT "):
                marks[line[6:]] = (
                    time.monotonic(),
                    proc_cpu_seconds(server.popen.pid),
                    postgres_cpu_seconds() if result.backend == "postgresql" else 0.0,
                    machine_busy_seconds(),
                )
                if line == "EVENT measure_start" and args.profile:
                    profiler = start_profiler(server, result, args)
            elif line.startswith("RESULT "):
                result.load = json.loads(line[7:])
        gen.wait(timeout=60)
        if gen.returncode != 0 or not result.load:
            raise RuntimeError(f"load generator failed ({gen.returncode}):\n{tail(log)}")
    finally:
        if gen.poll() is None:
            gen.kill()
            gen.wait()
        procs.running.remove(proc)
        if profiler is not None:
            try:
                profiler.wait(timeout=args.seconds + 30)
            except subprocess.TimeoutExpired:
                profiler.kill()
                profiler.wait()
    if sessions_before is not None:
        # Sessions that ended during the run, less our own query: the pool's churn.
        result.postgres_sessions_closed = pg_sessions(args.pg_url) - sessions_before - 1
    if "measure_start" in marks and "measure_end" in marks:
        t0, s0, p0, m0 = marks["measure_start"]
        t1, s1, p1, m1 = marks["measure_end"]
        wall = t1 - t0
        result.server_cpu_cores = round((s1 - s0) / wall, 2)
        result.machine_busy_cores = round((m1 - m0) / wall, 2)
        if result.backend == "postgresql":
            result.postgres_cpu_cores = round((p1 - p0) / wall, 2)
        ours = (s1 - s0 + p1 - p0) / wall + (result.load.get("loadgen_cpu_cores") or 0.0)
        result.other_cpu_cores = round(max(0.0, (m1 - m0) / wall - ours), 2)


def start_profiler(
    server: Proc, result: RunResult, args: argparse.Namespace
) -> subprocess.Popen[bytes] | None:
    spy = Path(sys.executable).parent / "py-spy"
    exe = str(spy) if spy.exists() else shutil.which("py-spy")
    if exe is None:
        result.notes.append("--profile: py-spy not found (pip install py-spy); not profiled")
        return None
    args.profile_dir.mkdir(parents=True, exist_ok=True)
    out = args.profile_dir / f"intake-profile-{result.backend}-{result.target}.txt"
    result.profile = str(out)
    argv = [exe, "record", "--pid", str(server.popen.pid), "--duration", str(int(args.seconds))]
    # --gil: only the thread holding the GIL is sampled, i.e. where the Python CPU goes.
    argv += ["--rate", "200", "--gil", "--format", "raw", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_server(backend: str, db_url: str, args: argparse.Namespace, procs: Processes) -> RunResult:
    result = RunResult(backend, "server", ok=False)
    with tempfile.TemporaryDirectory(prefix=f"msy-bench-{backend}-") as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MASHANGYI_")}
        env.update(
            MASHANGYI_DATA_DIR=str(data_dir),
            MASHANGYI_RECORDINGS_DIR=str(work / "recordings"),
            MASHANGYI_RATE_LIMIT_DEVICE=RATE_LIMIT,
            MASHANGYI_RATE_LIMIT_IP=RATE_LIMIT,
        )
        if backend == "postgresql":
            reset_pg(db_url)
            env["MASHANGYI_DATABASE_URL"] = db_url
            sql_url = db_url
        else:
            sql_url = f"sqlite:///{data_dir / 'mashangyi.db'}"  # the server's default
        cli = mashangyi_argv()
        run_cli([*cli, "migrate"], env)
        run_cli([*cli, "demo"], env)
        room_id = int(json.loads((data_dir / "demo.json").read_text("utf-8"))["room_id"])
        placeholder = "$1" if backend == "postgresql" else "?"
        code = scalar(backend, sql_url, f"SELECT code FROM rooms WHERE id = {placeholder}", room_id)
        before = int(scalar(backend, sql_url, "SELECT count(*) FROM topics"))
        port = free_port()
        base = f"http://{HOST}:{port}"
        server = procs.start(
            "mashangyi serve",
            [*cli, "serve", "--host", HOST, "--port", str(port), "--quiet"],
            env,
            work / "server.log",
        )
        try:
            wait_healthy(server, base)
            with urllib.request.urlopen(f"{base}/api/rooms/{code}", timeout=5) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"GET /api/rooms/{code} answered {resp.status}")
            drive(procs, server, f"{base}/api/rooms/{code}/topics", args, result, work)
        finally:
            procs.stop(server)
        result.rows_expected = before + int(result.load.get("ok_total", 0))
        result.rows_found = int(scalar(backend, sql_url, "SELECT count(*) FROM topics"))
        if before != DEMO_TOPICS:
            result.notes.append(f"demo left {before} topics (expected {DEMO_TOPICS})")
        log = tail(server.log, 40)
        if "Traceback" in log or " ERROR " in log:
            result.notes.append("server log has errors:\n" + log)
    result.ok = True
    return result


def run_ceiling(backend: str, db_url: str, args: argparse.Namespace, procs: Processes) -> RunResult:
    result = RunResult(backend, "ceiling" if backend != "none" else "http only", ok=False)
    with tempfile.TemporaryDirectory(prefix=f"msy-bench-{backend}-ceiling-") as tmp:
        work = Path(tmp)
        if backend == "none":
            engine_url = sql_url = "none"
        elif backend == "postgresql":
            reset_pg(db_url)
            engine_url = "postgresql+asyncpg://" + plain_pg_url(db_url).partition("://")[2]
            sql_url = db_url
        else:
            engine_url = f"sqlite+aiosqlite:///{work / 'ceiling.db'}"
            sql_url = f"sqlite:///{work / 'ceiling.db'}"
        port = free_port()
        base = f"http://{HOST}:{port}"
        argv = [sys.executable, str(Path(__file__).resolve()), "_ceiling", engine_url, str(port)]
        env = dict(os.environ)
        server = procs.start("ceiling app", argv, env, work / "ceiling.log")
        try:
            wait_healthy(server, base)
            drive(procs, server, f"{base}/api/rooms/BENCH/topics", args, result, work)
        finally:
            procs.stop(server)
        if backend != "none":
            result.rows_expected = int(result.load.get("ok_total", 0))
            result.rows_found = int(scalar(backend, sql_url, "SELECT count(*) FROM bench_intake"))
    result.ok = True
    return result


# --- reporting -------------------------------------------------------------------------------


def machine_facts(pg_url: str | None) -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    versions = {}
    for package in ("aiohttp", "sqlalchemy", "aiosqlite", "asyncpg", "mashangyi"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    facts: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
    }
    if pg_url:
        with contextlib.suppress(Exception):
            facts["postgresql"] = pg(pg_url, "SHOW server_version")
            facts["postgresql_synchronous_commit"] = pg(pg_url, "SHOW synchronous_commit")
    return facts


def server_code() -> dict[str, Any]:
    """Which server code the benchmark ran: where it imports from, the commit, local changes."""
    found: dict[str, Any] = {"pythonpath": os.environ.get("PYTHONPATH")}
    with contextlib.suppress(Exception):
        found["package_dir"] = subprocess.run(
            [sys.executable, "-c", "import server, os; print(os.path.dirname(server.__file__))"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    with contextlib.suppress(Exception):
        git = ["git", "-C", found.get("package_dir") or str(ROOT)]
        found["git_commit"] = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        found["uncommitted_changes"] = [line[3:] for line in changed]
    return found


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(results: list[RunResult]) -> None:
    header = ("backend", "target", "req/s", "p50 ms", "p99 ms", "errors", "server CPU cores")
    rows = []
    for r in results:
        if not r.ok:
            rows.append((r.backend, r.target, "FAILED", "-", "-", "-", "-"))
            continue
        rows.append(
            (
                r.backend,
                r.target,
                fmt(r.load.get("req_per_s")),
                fmt(r.load.get("p50_ms")),
                fmt(r.load.get("p99_ms")),
                fmt(r.load.get("errors_in_window")),
                fmt(r.server_cpu_cores, 2),
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))


def check_targets(results: list[RunResult]) -> list[dict[str, Any]]:
    verdicts = []
    ceilings = {
        r.backend: r.load.get("req_per_s") for r in results if r.ok and r.target == "ceiling"
    }
    for r in results:
        if r.target != "server" or not r.ok:
            continue
        rps, p99 = r.load.get("req_per_s") or 0.0, r.load.get("p99_ms")
        errors = r.load.get("errors_in_window", 0)
        want = TARGETS[r.backend]
        verdicts.append(
            {
                "backend": r.backend,
                "req_per_s": rps,
                "req_per_s_target": want,
                "req_per_s_met": rps >= want,
                "p99_ms": p99,
                "p99_ms_target": TARGET_P99_MS,
                "p99_met": p99 is not None and p99 <= TARGET_P99_MS,
                "no_errors": errors == 0,
                "met": rps >= want and p99 is not None and p99 <= TARGET_P99_MS and errors == 0,
                # Robust to the machine's speed, which varies on shared hosts.
                "share_of_ceiling": round(rps / ceiling, 3)
                if (ceiling := ceilings.get(r.backend))
                else None,
            }
        )
    return verdicts


def loud(message: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n{message}\n{bar}", file=sys.stderr)


def summarise_profile(path: Path, top: int = 25) -> list[str]:
    """Inclusive and self sample shares per function from py-spy's raw (collapsed) output."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = [_frame_name(f) for f in stack.split(";")]
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    if not total:
        return ["(no samples)"]
    lines = [f"{total} samples; inclusive share (top {top}):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines.append(f"self share (top {top}):")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    ours = [(name, n) for name, n in inclusive.most_common() if "(server/" in name]
    lines.append("the server's own functions, inclusive share:")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in ours[:top]]
    return lines


def _frame_name(frame: str) -> str:
    """``func (path/to/file.py:123)`` -> ``func (file.py)`` with a short package path."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3."):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured warm-up per run")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients")
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="hard cap on requests per run"
    )
    parser.add_argument(
        "--only", choices=("server", "ceiling"), help="run one target instead of both"
    )
    parser.add_argument(
        "--http-baseline",
        action="store_true",
        help="also measure a bare aiohttp handler with no database (what HTTP alone costs)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the server with py-spy during the window (slows it; results go to "
        "intake-profile.json, not intake.json)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=120.0,
        help="before each run, wait up to this many seconds for other load to stop",
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "mashangyi-bench-profiles",
        help="where --profile writes py-spy's raw stacks (default: %(default)s)",
    )
    parser.add_argument("--note", help="free text stored in the JSON (what was measured, why)")
    parser.add_argument("--output", type=Path, help="JSON path (default benchmarks/results/)")
    args = parser.parse_args(argv)
    args.pg_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in args.backends:
        if b not in TARGETS:
            parser.error(f"unknown backend {b!r} (sqlite, postgresql)")
    if not 1 <= args.concurrency <= 1000:
        parser.error("--concurrency must be 1-1000")
    if not 1 <= args.seconds <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--seconds must be 1-600 and --warmup 0-60")
    if args.output is None:
        name = "intake-profile.json" if args.profile else "intake.json"
        args.output = RESULTS_DIR / name
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])
    pg_url = args.pg_url
    print(
        f"码上议 intake benchmark: {args.concurrency} clients, {args.warmup:g} s warm-up, "
        f"{args.seconds:g} s measured, backends {', '.join(args.backends)}"
    )
    print(
        f"Rate limiter ON in the server, raised to {RATE_LIMIT} per device and per IP "
        "(MASHANGYI_RATE_LIMIT_DEVICE/IP) so it never refuses the benchmark."
    )
    started = datetime.now(UTC)
    procs = Processes()
    results: list[RunResult] = []
    skipped: dict[str, str] = {}
    targets = [args.only] if args.only else ["server", "ceiling"]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    pg_reachable = False
    idle_busy, busiest = busy_processes()
    speed_before = calibrate()
    code = server_code()
    changed = code.get("uncommitted_changes") or []
    print(
        f"Server code: {code.get('package_dir')} at {str(code.get('git_commit'))[:12]}"
        + (f" plus {len(changed)} uncommitted file(s)" if changed else "")
    )
    print(f"CPU speed check: {speed_before} ms for a fixed Python loop (lower is faster)")
    if idle_busy > 0.25:
        loud(
            f"The machine is not idle: {idle_busy:.2f} cores busy before the benchmark. "
            "Figures will be low and noisy. Busiest processes:\n  " + "\n  ".join(busiest)
        )
    try:
        for backend in args.backends:
            if backend == "postgresql":
                try:
                    pg(pg_url, "SELECT 1")
                    pg_reachable = True
                except Exception as exc:
                    reason = f"PostgreSQL at {safe_url(pg_url)} unreachable: {exc!r}"
                    print(f"\nSKIP postgresql: {reason}")
                    skipped[backend] = reason
                    continue
            for target in targets:
                print(f"\n[{backend} / {target}] running ...", flush=True)
                runner = run_server if target == "server" else run_ceiling
                try:
                    result = runner(backend, pg_url, args, procs)
                except Exception as exc:
                    result = RunResult(backend, target, ok=False, error=str(exc))
                    loud(f"{backend} / {target} FAILED: {exc}")
                results.append(result)
                if result.ok:
                    report_run(result)
        if args.http_baseline:
            print("\n[no database / http only] running ...", flush=True)
            try:
                result = run_ceiling("none", "none", args, procs)
            except Exception as exc:
                result = RunResult("none", "http only", ok=False, error=str(exc))
                loud(f"http-only baseline FAILED: {exc}")
            results.append(result)
            if result.ok:
                report_run(result)
        if pg_reachable:
            with contextlib.suppress(Exception):
                reset_pg(pg_url)  # leave the shared scratch database empty
    finally:
        procs.stop_all()

    speed_after = calibrate()
    print(f"\nCPU speed check: {speed_before} ms before, {speed_after} ms after")
    if max(speed_before, speed_after) > 1.15 * min(speed_before, speed_after):
        loud("The CPU's speed changed by more than 15% during the benchmark: figures are noisy")
    print()
    print_table(results)
    verdicts = check_targets(results)
    print(
        f"\nTargets (issue): SQLite ≥ {TARGETS['sqlite']:.0f}/s, PostgreSQL ≥ "
        f"{TARGETS['postgresql']:.0f}/s, p99 ≤ {TARGET_P99_MS:.0f} ms, no errors"
    )
    for v in verdicts:
        print(
            f"  {v['backend']:<10} {'MET' if v['met'] else 'NOT MET':<8} "
            f"req/s {v['req_per_s']:.1f} (≥ {v['req_per_s_target']:.0f}: "
            f"{'yes' if v['req_per_s_met'] else 'no'}), "
            f"p99 {fmt(v['p99_ms'])} ms (≤ {TARGET_P99_MS:.0f}: "
            f"{'yes' if v['p99_met'] else 'no'}), errors: {'none' if v['no_errors'] else 'YES'}"
        )
        if v["share_of_ceiling"] is not None:
            print(f"  {'':<10} the server does {100 * v['share_of_ceiling']:.0f}% of its ceiling")
    for r in results:
        if r.ok and r.load.get("errors_in_window"):
            loud(
                f"{r.backend} / {r.target}: {r.load['errors_in_window']} ERRORS in the measured "
                f"window {r.load['error_kinds_in_window']}; the figures above are not clean"
            )
    if args.profile:
        for r in results:
            if r.profile and Path(r.profile).exists():
                print(f"\nProfile of {r.backend} / {r.target} ({r.profile}):")
                print("\n".join(summarise_profile(Path(r.profile))))

    report = {
        "benchmark": "intake: POST /api/rooms/{code}/topics (JSON, no photos)",
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "note": args.note,
        "server_code": code,
        "cwd": str(ROOT),
        "settings": {
            "concurrency": args.concurrency,
            "warmup_seconds": args.warmup,
            "measured_seconds": args.seconds,
            "max_requests_per_run": args.max_requests,
            "rate_limits": {"device": RATE_LIMIT, "ip": RATE_LIMIT, "limiter": "on (memory)"},
            "postgresql_url": safe_url(pg_url),
            "profiled": bool(args.profile),
            "wait_idle_seconds": args.wait_idle,
        },
        "machine": {
            **machine_facts(pg_url if pg_reachable else None),
            "busy_cores_before_start": round(idle_busy, 2),
            "python_loop_ms_before": speed_before,
            "python_loop_ms_after": speed_after,
            "busiest_processes_before_start": busiest,
        },
        "targets": {
            "sqlite_req_per_s": TARGETS["sqlite"],
            "postgresql_req_per_s": TARGETS["postgresql"],
            "p99_ms": TARGET_P99_MS,
        },
        "verdicts": verdicts,
        "skipped": skipped,
        "runs": [asdict(r) for r in results],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"\nWrote {os.path.relpath(args.output, ROOT)}")
    if not any(r.ok for r in results):
        loud("no backend ran")
        return 1
    return 0


def report_run(r: RunResult) -> None:
    load = r.load
    print(
        f"  {load['ok_in_window']} × 201 in {load['window_seconds']} s = {load['req_per_s']}/s; "
        f"p50 {fmt(load['p50_ms'])} ms, p90 {fmt(load['p90_ms'])} ms, "
        f"p99 {fmt(load['p99_ms'])} ms, max {fmt(load['max_ms'])} ms"
    )
    cpu = f"  CPU cores: server {fmt(r.server_cpu_cores, 2)}"
    if r.postgres_cpu_cores is not None:
        cpu += f", postgres {fmt(r.postgres_cpu_cores, 2)}"
    if r.postgres_sessions_closed:
        cpu += f" ({r.postgres_sessions_closed} connections opened and closed during the run)"
    cpu += (
        f", load generator {fmt(load.get('loadgen_cpu_cores'), 2)}, "
        f"whole machine {fmt(r.machine_busy_cores, 2)} of {len(os.sched_getaffinity(0))}"
    )
    cpu += f" (other processes {fmt(r.other_cpu_cores, 2)})"
    print(cpu)
    if (r.other_cpu_cores or 0) > 0.25:
        r.notes.append(
            f"other processes used {r.other_cpu_cores} cores during the window: "
            "the machine was shared, figures are pessimistic"
        )
    print(f"  responses (all, incl. warm-up): {load['statuses_all']}")
    if load.get("capped"):
        r.notes.append("stopped early: --max-requests reached")
    if load.get("device_cookie_not_seen"):
        r.notes.append(f"{load['device_cookie_not_seen']} responses set a new msy_device cookie")
    if load.get("bad_201_bodies"):
        r.notes.append(f"{load['bad_201_bodies']} 201 responses without an id")
    if r.rows_expected is None:
        pass
    elif r.rows_found != r.rows_expected:
        r.notes.append(f"rows in the database {r.rows_found} != expected {r.rows_expected}")
    else:
        print(f"  rows in the database: {r.rows_found} (as expected)")
    for note in r.notes:
        loud(f"{r.backend} / {r.target}: {note}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_loadgen":
        sys.exit(loadgen_main(sys.argv[2]))
    if len(sys.argv) > 1 and sys.argv[1] == "_ceiling":
        sys.exit(ceiling_main(sys.argv[2], int(sys.argv[3])))
    sys.exit(main(sys.argv[1:]))
