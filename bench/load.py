"""Sustained load: the realistic mix at a fixed offered rate against `paybao serve` (2 workers)
+ `paybao worker` on PostgreSQL, for 10 minutes by default.

Reports throughput, p50/p99/p99.9 latency per operation type, the error rate, and the memory
(RSS) of each process over time (it must stay flat); writes bench/results/load.json and a PNG
chart bench/results/load.png.

    python -m bench.load [--seconds 600] [--rate 40] [--clients 16]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from tests.reliability.crash import (
    Processes,
    child_pids,
    create_database,
    drop_database,
    free_port,
)

from bench.loadgen import NotifyReceiver, Outcome, Tally, drive, prepare
from paybao.bootstrap import build_platform
from paybao.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE_S = 5.0


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class MemorySampler:
    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        self.samples: list[dict[str, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.started = time.monotonic()

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_S):
            serve = self.processes.running["serve"].pid
            sample = {"t_s": round(time.monotonic() - self.started, 1)}
            sample["serve_supervisor"] = rss_mib(serve)
            # The supervisor's children: the uvicorn workers and multiprocessing's resource
            # tracker (a helper of the supervisor's, not a server: left out).
            workers = [pid for pid in child_pids(serve) if "resource_tracker" not in _cmdline(pid)]
            for index, child in enumerate(sorted(workers)):
                sample[f"serve_worker_{index}"] = rss_mib(child)
            sample["worker"] = rss_mib(self.processes.running["worker"].pid)
            self.samples.append(sample)


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def per_operation(outcomes: list[Outcome], seconds: float) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for kind in sorted({o.kind for o in outcomes}):
        mine = [o for o in outcomes if o.kind == kind]
        latencies = sorted(o.latency_ms for o in mine if o.status == "ok")
        failed = [o for o in mine if o.status == "gave_up"]
        table[kind] = {
            "count": len(mine),
            "ok": len(latencies),
            "per_s": round(len(latencies) / seconds, 2),
            "p50_ms": round(percentile(latencies, 0.50), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "p999_ms": round(percentile(latencies, 0.999), 1),
            "error_rate": round(len(failed) / max(len(mine), 1), 4),
        }
    return table


def rejections(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    """Business refusals per operation and code (insufficient funds, class limits, ...): not
    errors, but they are why `ok` is below `count`."""
    table: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        if outcome.status == "rejected":
            code = outcome.detail.get("sub_code") or outcome.detail.get("code") or "?"
            per_kind = table.setdefault(outcome.kind, {})
            per_kind[code] = per_kind.get(code, 0) + 1
    return table


def memory_growth(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """First-third versus last-third mean RSS of each process (start-up excluded)."""
    growth: dict[str, dict[str, float]] = {}
    if len(samples) < 6:
        return growth
    third = len(samples) // 3
    for name in samples[0]:
        if name == "t_s":
            continue
        early = [s.get(name, 0.0) for s in samples[third : 2 * third]]
        late = [s.get(name, 0.0) for s in samples[2 * third :]]
        early_mib, late_mib = sum(early) / len(early), sum(late) / len(late)
        growth[name] = {
            "early_mib": round(early_mib, 1),
            "late_mib": round(late_mib, 1),
            "growth_pct": round(100 * (late_mib - early_mib) / max(early_mib, 1), 1),
        }
    return growth


def draw_chart(outcomes: list[Outcome], samples: list[dict[str, float]], path: Path) -> None:
    """Two panels over the run's time: completed operations per second and p99 latency (each
    on its own scale: both start at zero); the RSS of each process (one scale from zero, so
    that flat lines look flat)."""
    width, height = 960, 620
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    start = min((o.started_at_s for o in outcomes), default=0.0)
    buckets: dict[int, list[float]] = {}
    for outcome in outcomes:
        if outcome.status == "ok":
            buckets.setdefault(int((outcome.started_at_s - start) // 10), []).append(
                outcome.latency_ms
            )
    keys = sorted(buckets)
    throughput = [(k * 10.0 + 5, len(buckets[k]) / 10) for k in keys]
    p99 = [(k * 10.0 + 5, percentile(sorted(buckets[k]), 0.99)) for k in keys]
    box = (70, 40, width - 190, 280)
    _panel(draw, box, "completed operations per second (10 s buckets)", [("ops/s", throughput)])
    _panel(draw, box, "", [("p99 ms", p99)], colours=["#c0392b"], right_axis=True)
    names = [n for n in (samples[0] if samples else {}) if n != "t_s"]
    series = [(n, [(s["t_s"], s.get(n, 0.0)) for s in samples]) for n in names]
    _panel(draw, (70, 350, width - 190, 580), "RSS MiB per process (sampled every 5 s)", series)
    draw.text((70 + (width - 260) // 2 - 20, 596), "seconds into the run", fill="black")
    image.save(path)


PALETTE = ["#1f5fbf", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"]


def _panel(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    title: str,
    series: list[tuple[str, list[tuple[float, float]]]],
    *,
    colours: list[str] = PALETTE,
    right_axis: bool = False,
) -> None:
    """Lines on one y scale from zero, ticks at 0, half and max on the left (or right) axis,
    seconds along the bottom, and a legend beside the panel naming each line's colour."""
    left, top, right, bottom = box
    points_all = [p for _name, points in series for p in points]
    if not points_all:
        return
    y_max = max(y for _x, y in points_all) * 1.1 or 1.0
    x_max = max(x for x, _y in points_all) or 1.0
    if title:
        draw.rectangle(box, outline="#888888")
        draw.text((left, top - 16), title, fill="black")
        for fraction in (0.0, 0.5, 1.0):
            x = left + fraction * (right - left)
            draw.text((x - 10, bottom + 4), f"{fraction * x_max:.0f}", fill="#555555")
    axis_x = right + 4 if right_axis else left - 60
    axis_colour = colours[0] if len(series) == 1 else "#555555"
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - fraction * (bottom - top)
        draw.text((axis_x, y - 6), f"{fraction * y_max:,.0f}", fill=axis_colour)
    legend_top = top + (120 if right_axis else 0)
    for index, (name, points) in enumerate(series):
        colour = colours[index % len(colours)]
        scaled = [
            (left + x / x_max * (right - left), bottom - y / y_max * (bottom - top))
            for x, y in points
        ]
        if len(scaled) > 1:
            draw.line(scaled, fill=colour, width=2)
        last = points[-1][1]
        draw.text((right + 60, legend_top + 14 * index), f"{name} ({last:,.0f})", fill=colour)


def run(args: argparse.Namespace) -> dict[str, Any]:
    admin_url = args.admin_url.rstrip("/")
    name = f"paybao_load_{os.getpid()}"
    url = create_database(admin_url, name)
    work = Path(tempfile.mkdtemp(prefix="paybao-load-"))
    receiver = NotifyReceiver().start()
    platform = build_platform(
        Settings(database_url=url, data_dir=work / "data", sandbox=True), migrate=True
    )
    platform.ledger.open_platform_accounts()
    codes = int(args.rate * args.seconds)
    setup = prepare(
        platform,
        buyers=args.buyers,
        notify_url=receiver.url,
        auth_codes=codes,
        device_share=args.device_share,
    )
    platform.close()
    env = {
        **os.environ,
        "PAYBAO_DATABASE_URL": url,
        "PAYBAO_DATA_DIR": str(work / "data"),
        "PAYBAO_SANDBOX": "1",
        "PAYBAO_RUN_WORKER_IN_SERVER": "0",
        # Each simulated buyer makes hundreds of money-outs an hour, far beyond a person's
        # velocity limit; risk control's other rules still run (and cost what they cost).
        "PAYBAO_RISK_OPS_PER_HOUR_MAX": "1000000",
    }
    processes = Processes(env, free_port(), work)
    processes.start("serve")
    processes.start("worker")
    processes.wait_healthy()
    sampler = MemorySampler(processes)
    sampler.thread.start()
    started = time.monotonic()
    tally = drive(
        f"http://127.0.0.1:{processes.port}",
        setup,
        seconds=args.seconds,
        clients=args.clients,
        rate_per_s=args.rate,
        tally=Tally(),
    )
    elapsed_s = time.monotonic() - started
    sampler.stop.set()
    processes.stop_all()
    receiver.stop()
    ok = [o for o in tally.outcomes if o.status == "ok"]
    result = {
        "database": "postgresql",
        "seconds": round(elapsed_s, 1),
        "offered_per_s": args.rate,
        "device_share": args.device_share,
        "completed_per_s": round(len(ok) / elapsed_s, 2),
        "error_rate": round(
            sum(o.status == "gave_up" for o in tally.outcomes) / max(len(tally.outcomes), 1), 4
        ),
        "operations": per_operation(tally.outcomes, elapsed_s),
        "rejections": rejections(tally.outcomes),
        "memory": memory_growth(sampler.samples),
        "retries": tally.retries,
    }
    RESULTS.mkdir(exist_ok=True)
    draw_chart(tally.outcomes, sampler.samples, args.chart)
    if not args.keep:
        drop_database(admin_url, name)
        shutil.rmtree(work, ignore_errors=True)
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=40, help="offered operations per second")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--buyers", type=int, default=20)
    parser.add_argument(
        "--device-share",
        type=float,
        default=0.5,
        help="share (0..1) of wallet operations confirmed by the device, not the password",
    )
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--json", type=Path, default=RESULTS / "load.json")
    parser.add_argument("--chart", type=Path, default=RESULTS / "load.png")
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
