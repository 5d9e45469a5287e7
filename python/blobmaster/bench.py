"""The self-play throughput benchmark (``blobmaster bench``, and
``benchmarks/bench_selfplay.py``, a thin wrapper): one command, one
machine, one Markdown report.

Measures, in this order:

1. raw BlobNet forward throughput (evaluations/s) at the configured batch
   size, with the torch thread count in use (no engine running);
2. self-play throughput for each preset (default: Light and Medium) at
   4 players x 5 cards with the default BlobNet: rounds/min, network
   evaluations/s, mean batch size, forward time per batch, Python time per
   batch outside the forward pass, time waiting for the engine, the
   batch-size histogram and the peak resident memory;
3. a scan over engine threads x games per thread (one preset, shorter runs);
4. raw forward throughput again at the mean batch sizes self-play reached,
   so the two can be compared directly.

Every self-play run happens in a fresh child process (``python -m
blobmaster.bench --child SPEC``), so its peak RSS is its own. Shards go to
a temporary folder and are deleted. Prints a Markdown report (also written
to --out if given). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

__all__ = ["main", "parse_args", "run_benchmark"]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in the package's folder (its checkout, if any), output captured."""
    return subprocess.run(
        ["git", *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent,
        timeout=10,
    )


def _git_commit() -> str:
    try:
        out = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        if out.returncode == 0:
            return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / (1024.0 * 1024.0)


# ---- child: one self-play run -------------------------------------------------


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    import blobmaster as bm
    from blobmaster.config import load_config
    from blobmaster.inference import Progress, run_selfplay
    from blobmaster.model import default_model, resolve_device, script_model
    from blobmaster.replay import ShardMetadata

    if spec.get("torch_threads"):
        torch.set_num_threads(spec["torch_threads"])
    device = resolve_device(spec["device"])
    preset = load_config(spec["preset"])
    model = script_model(default_model(seed=0)).to(device)
    kwargs = preset.engine_kwargs(
        threads=spec["threads"],
        games_per_thread=spec["games_per_thread"],
        max_batch=spec["batch"],
        tables=[(spec["players"], spec["cards"], 1.0)],
        seed=spec["seed"],
    )
    kwargs["rounds"] = None  # play until the time budget is spent
    engine = bm.SelfPlayEngine(**kwargs)
    # The warm-up lasts warmup_s and at least until one round per game in
    # flight has finished. All games start together, so rounds finish in
    # waves, about one warm-up apart at first: the measured window lasts
    # `seconds` and at least two warm-ups, so that it always spans whole
    # waves rather than the quiet time between two of them.
    in_flight = kwargs["threads"] * kwargs["games_per_thread"]
    warm: dict[str, float] = {}
    marks: list[tuple[float, int, float, int]] = []  # (elapsed, rounds, evaluations, batches)

    def sample(snap: Progress) -> None:
        marks.append((snap.elapsed_s, snap.rounds, snap.evals_per_s * snap.elapsed_s, snap.batches))
        if "end" not in warm and snap.elapsed_s >= spec["warmup_s"] and snap.rounds >= in_flight:
            warm["end"] = snap.elapsed_s
        if "end" in warm and snap.elapsed_s >= warm["end"] + max(spec["seconds"], 2 * warm["end"]):
            raise KeyboardInterrupt  # run_selfplay stops cleanly
        if snap.elapsed_s >= spec["warmup_s"] + spec["seconds"] + spec.get("max_extra_s", 1200):
            raise KeyboardInterrupt  # never warmed up: report what there is

    with tempfile.TemporaryDirectory(prefix="bench-selfplay-") as out:
        summary = run_selfplay(
            engine,
            model,
            device,
            out_dir=out,
            rounds_per_shard=1000,
            batch=spec["batch"],
            timeout_ms=preset.selfplay.timeout_ms,
            bf16=spec["bf16"],
            progress=sample,
            progress_interval_s=0.5,
            metadata=ShardMetadata(model="default:blobnet-seed0", search=preset.search.to_json()),
        )
    # Steady state: from the first sample after the warm-up to the last one.
    start = next((m for m in marks if m[0] >= warm.get("end", spec["warmup_s"])), marks[0])
    end = marks[-1]
    span = max(end[0] - start[0], 1e-9)
    batches = end[3] - start[3]
    result = summary.as_dict()
    result.update(
        preset=spec["preset"],
        search=preset.search.label(),
        threads=kwargs["threads"],
        games_per_thread=kwargs["games_per_thread"],
        batch=kwargs["max_batch"],
        torch_threads=torch.get_num_threads(),
        peak_rss_mb=_peak_rss_mb(),
        window_s=span,
        window_rounds=end[1] - start[1],
        steady_rounds_per_min=60.0 * (end[1] - start[1]) / span,
        steady_evals_per_s=(end[2] - start[2]) / span,
        steady_mean_batch=(end[2] - start[2]) / batches if batches else 0.0,
        total_rounds=int(summary.engine_stats.get("rounds", 0)),
    )
    return result


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One self-play run in a fresh process (its peak RSS is its own)."""
    cmd = [sys.executable, "-m", "blobmaster.bench", "--child", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"self-play run {spec} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- raw forward -------------------------------------------------------------


def forward_throughput(
    batch_sizes: list[int], device_name: str, seconds: float, bf16: bool
) -> list[dict[str, Any]]:
    import torch

    from blobmaster.model import default_model, resolve_device, script_model

    device = resolve_device(device_name)
    model = script_model(default_model(seed=0)).to(device)
    rows = []
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
    with torch.inference_mode(), autocast:
        for b in batch_sizes:
            x = torch.rand(b, 256, device=device)
            for _ in range(3):  # warm-up (TorchScript profiling runs, allocator)
                model(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            n, start = 0, time.perf_counter()
            while True:
                model(x)
                n += 1
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                elapsed = time.perf_counter() - start
                if elapsed >= seconds and n >= 5:
                    break
            rows.append(
                {
                    "batch": b,
                    "ms_per_batch": 1000.0 * elapsed / n,
                    "evals_per_s": b * n / elapsed,
                    "torch_threads": torch.get_num_threads(),
                    "device": str(device),
                }
            )
    return rows


# ---- report ------------------------------------------------------------------


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _selfplay_rows(
    results: list[dict[str, Any]], with_hist: bool
) -> tuple[list[str], list[list[str]]]:
    headers = [
        "preset", "threads", "games/thread", "rounds/min", "evals/s", "mean batch", "rounds measured",
        "forward ms/batch", "python ms/batch", "wait ms/batch", "forward share", "cache hits", "peak RSS MB",
    ]  # fmt: skip
    if with_hist:
        headers.append("batch sizes (batches)")
    rows = []
    for r in results:
        row = [
            f"{r['preset']} ({r['search']})",
            str(r["threads"]),
            str(r["games_per_thread"]),
            f"{r['steady_rounds_per_min']:.1f}",
            f"{r['steady_evals_per_s']:,.0f}",
            f"{r['steady_mean_batch']:.1f}",
            f"{r['window_rounds']} in {r['window_s']:.0f} s",
            f"{r['forward_ms_per_batch']:.2f}",
            f"{r['python_ms_per_batch']:.3f}",
            f"{r['wait_ms_per_batch']:.2f}",
            f"{100 * r['forward_share']:.0f}%",
            f"{100 * r['cache_hit_rate']:.1f}%",
            f"{r['peak_rss_mb']:.0f}",
        ]
        if with_hist:
            row.append(r["histogram"])
        rows.append(row)
    return headers, rows


def report(args: argparse.Namespace, machine: dict[str, str], forward: list[dict[str, Any]],
           runs: list[dict[str, Any]], scan: list[dict[str, Any]], forward_at_mean: list[dict[str, Any]]) -> str:  # fmt: skip
    parts = ["# Self-play benchmark", ""]
    parts.append(_table(["", ""], [[k, v] for k, v in machine.items()]))
    parts += [
        "",
        f"## Raw BlobNet forward (default BlobNet, {machine['parameters']} parameters, no engine running)",
        "",
    ]
    fwd_rows = [
        [
            str(r["batch"]),
            str(r["torch_threads"]),
            r["device"],
            f"{r['ms_per_batch']:.2f}",
            f"{r['evals_per_s']:,.0f}",
        ]
        for r in forward + forward_at_mean
    ]
    parts.append(_table(["batch", "torch threads", "device", "ms/batch", "evals/s"], fwd_rows))
    parts += [
        "",
        f"## Self-play, {args.players} players x {args.cards} cards, default BlobNet"
        f" (warm-up: {args.warmup:g} s and one round per game in flight; then at least {args.seconds:g} s"
        " and two warm-ups measured)",
        "",
    ]
    headers, rows = _selfplay_rows(runs, with_hist=True)
    parts.append(_table(headers, rows))
    if scan:
        parts += [
            "",
            f"## Scan: threads x games per thread ({args.scan_preset},"
            f" warm-up {args.scan_warmup:g} s+, measured {args.scan_seconds:g} s+)",
            "",
        ]
        headers, rows = _selfplay_rows(scan, with_hist=False)
        parts.append(_table(headers, rows))
    parts += [
        "",
        "rounds/min, evals/s and mean batch are steady-state rates over the measured",
        "window (after the warm-up); the other columns cover the whole run. forward =",
        "host-to-device copy, network, device-to-host copy; python = Python time per",
        "batch outside the forward pass; wait = time inside next_batch; forward share =",
        "forward time / wall time.",
        "",
    ]
    return "\n".join(parts)


class _Parser(argparse.ArgumentParser):
    """Bad options end with the package's one-line error and exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"blobmaster: error: bench: {message}", file=sys.stderr)
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="blobmaster bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument(
        "--presets", default="light,medium", help="comma-separated presets (default: light,medium)"
    )
    p.add_argument(
        "--seconds", type=float, default=30.0, help="measured seconds per preset run (default: 30)"
    )
    p.add_argument(
        "--warmup", type=float, default=10.0, help="warm-up seconds before measuring (default: 10)"
    )
    p.add_argument("--threads", type=int, default=0, help="engine threads (default 0: every core)")
    p.add_argument(
        "--games-per-thread", type=int, default=64, help="rounds in flight per thread (default: 64)"
    )
    p.add_argument("--batch", type=int, default=512, help="largest network batch (default: 512)")
    p.add_argument("--players", type=int, default=4)
    p.add_argument("--cards", type=int, default=5)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the network")
    p.add_argument(
        "--torch-threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--forward-seconds", type=float, default=2.0, help="time per raw forward measurement"
    )
    p.add_argument(
        "--scan-threads",
        default=None,
        help="threads to scan, e.g. 1,8,32 (default: 1 and every core; 0 is every core)",
    )
    p.add_argument(
        "--scan-games", default="16,64,256", help="games per thread to scan (default: 16,64,256)"
    )
    p.add_argument("--scan-preset", default="light", help="preset of the scan (default: light)")
    p.add_argument(
        "--scan-seconds",
        type=float,
        default=15.0,
        help="measured seconds per scan point (default: 15)",
    )
    p.add_argument(
        "--scan-warmup", type=float, default=5.0, help="warm-up seconds per scan point (default: 5)"
    )
    p.add_argument("--no-scan", action="store_true", help="skip the threads x games scan")
    p.add_argument(
        "--quick", action="store_true", help="a smoke run: few games in flight, short measurements"
    )
    p.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    p.add_argument("--json", type=Path, default=None, help="also write every number as JSON here")
    return p


def _ints(parser: argparse.ArgumentParser, text: str, name: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        parser.error(f"{name} must be comma-separated integers, got {text!r}")
    if not values or any(v < 0 for v in values):
        parser.error(f"{name} must be non-negative integers, got {text!r}")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, checked (bad ones: usage and exit status 2). ``--quick``
    shortens every measurement; ``--threads 0`` (the default) and a 0 in
    ``--scan-threads`` mean every core."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.child:
        return args
    cpus = os.cpu_count() or 1
    if args.threads < 0:
        parser.error(f"--threads must be >= 0 (0: every core), got {args.threads}")
    for name in ("games_per_thread", "batch", "players", "cards"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("seconds", "warmup", "forward_seconds", "scan_seconds", "scan_warmup"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    args.threads = args.threads or cpus
    if args.quick:
        args.seconds, args.warmup, args.scan_seconds, args.scan_warmup = 4, 1, 3, 1
        args.forward_seconds = 0.3
        args.games_per_thread, args.scan_games = 8, "4,16"
    args.scan_thread_list = (
        sorted({t or cpus for t in _ints(parser, args.scan_threads, "--scan-threads")})
        if args.scan_threads
        else sorted({1, cpus})
    )
    args.scan_game_list = _ints(parser, args.scan_games, "--scan-games")
    if 0 in args.scan_game_list:
        parser.error("--scan-games must be >= 1")
    return args


def _machine(args: argparse.Namespace) -> dict[str, str]:
    import torch

    import blobmaster as bm
    from blobmaster.model import default_model, resolve_device

    device = resolve_device(args.device)
    return {
        "cpu": f"{_cpu_name()} ({os.cpu_count() or 1} logical cores)",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": f"{torch.__version__}, {torch.get_num_threads()} CPU threads",
        "blobmaster": f"{bm.__version__} ({bm._core.build_profile} build), commit {_git_commit()}",
        "python": platform.python_version(),
        "parameters": f"{default_model().num_parameters():,}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def _selfplay_runs(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The preset runs and the threads x games scan, each in a child process."""
    base = {
        "device": args.device,
        "torch_threads": args.torch_threads,
        "batch": args.batch,
        "players": args.players,
        "cards": args.cards,
        "seed": args.seed,
        "bf16": args.bf16,
    }
    runs = []
    for preset in [s.strip() for s in args.presets.split(",") if s.strip()]:
        print(
            f"self-play {preset}: {args.threads} threads, {args.warmup + args.seconds:g} s...",
            file=sys.stderr,
        )
        spec = dict(base, preset=preset, threads=args.threads, games_per_thread=args.games_per_thread,
                    warmup_s=args.warmup, seconds=args.seconds)  # fmt: skip
        runs.append(run_child(spec))
        print(f"  {runs[-1]['steady_rounds_per_min']:.1f} rounds/min", file=sys.stderr)
    scan = []
    if not args.no_scan:
        for t in args.scan_thread_list:
            for g in args.scan_game_list:
                print(f"scan {args.scan_preset}: {t} threads x {g} games...", file=sys.stderr)
                spec = dict(base, preset=args.scan_preset, threads=t, games_per_thread=g,
                            warmup_s=args.scan_warmup, seconds=args.scan_seconds)  # fmt: skip
                scan.append(run_child(spec))
    return runs, scan


def run_benchmark(args: argparse.Namespace) -> str:
    """Runs every measurement and returns the Markdown report (also written
    to ``args.out`` and, as JSON, to ``args.json`` when given)."""
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    machine = _machine(args)
    print(f"forward pass at batch {args.batch}...", file=sys.stderr)
    forward = forward_throughput([args.batch], args.device, args.forward_seconds, args.bf16)
    runs, scan = _selfplay_runs(args)
    means = sorted({max(1, round(r["steady_mean_batch"])) for r in runs} - {args.batch})
    forward_at_mean = (
        forward_throughput(means, args.device, args.forward_seconds, args.bf16) if means else []
    )
    text = report(args, machine, forward, runs, scan, forward_at_mean)
    if args.out:
        args.out.write_text(text)
    if args.json:
        numbers = {
            "machine": machine,
            "forward": forward + forward_at_mean,
            "runs": runs,
            "scan": scan,
        }
        args.json.write_text(json.dumps(numbers, indent=2))
    return text


def main(argv: list[str] | None = None) -> None:
    """``blobmaster bench`` / ``python -m blobmaster.bench`` / benchmarks/bench_selfplay.py."""
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    print(run_benchmark(args))


if __name__ == "__main__":
    main()
