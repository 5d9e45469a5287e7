"""The GPU check behind ``benchmarks/gpu_check.sh``: self-play and training
on CUDA, measured.

It plays self-play with the default BlobNet on the GPU for a fixed time
(float32, then bf16 autocast when the GPU supports it) while a background
thread samples the GPU's busy fraction, then trains the default network on
the shards it just wrote, and prints:

* self-play network evaluations/s and the mean batch size (steady state,
  after the warm-up),
* the GPU busy fraction during self-play: the share of time a kernel was
  running, from NVML (``torch.cuda.utilization()``, which needs the
  ``nvidia-ml-py`` package: ``pip install -e '.[gpu]'``), else from
  ``nvidia-smi``; ``n/a`` when neither is there,
* training steps/s and examples/s (the default network, bf16 when supported).

Exit status: 0 when everything ran, 1 on any failure (the message says
which step), 3 when there is no CUDA GPU.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BusySampler", "main"]

EXIT_NO_GPU = 3


class BusySampler(threading.Thread):
    """Samples the GPU's utilization (percent of time a kernel ran over the
    driver's last sample period) every ``interval_s`` while ``recording``
    is set; :attr:`busy_fraction` is the mean of the samples, in [0, 1]."""

    def __init__(self, device: Any, interval_s: float = 0.2) -> None:
        super().__init__(name="gpu-busy-sampler", daemon=True)
        self.device = device
        self.interval_s = interval_s
        self.samples: list[float] = []
        self.recording = threading.Event()
        self._stop_event = threading.Event()
        self.source = self._pick_source()

    def _pick_source(self) -> str:
        import torch

        try:
            torch.cuda.utilization(self.device)
            return "nvml"
        except Exception:  # no pynvml / NVML: try the command-line tool
            pass
        if shutil.which("nvidia-smi") and self._smi() is not None:
            return "nvidia-smi"
        return "unavailable"

    def _smi(self) -> float | None:
        index = self.device.index or 0
        try:
            out = subprocess.run(
                [
                    "nvidia-smi",
                    f"--id={index}",
                    "--query-gpu=utilization.gpu",
                    "--format=csv,noheader,nounits",
                ],
                capture_output=True,
                text=True,
                timeout=5,
            )
            return float(out.stdout.strip().splitlines()[0])
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            return None

    def _sample(self) -> float | None:
        import torch

        if self.source == "nvml":
            return float(torch.cuda.utilization(self.device))
        if self.source == "nvidia-smi":
            return self._smi()
        return None

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            if self.recording.is_set():
                value = self._sample()
                if value is not None:
                    self.samples.append(value / 100.0)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    @property
    def busy_fraction(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


@dataclass
class SelfPlayResult:
    bf16: bool
    evals_per_s: float
    mean_batch: float
    busy: float | None
    busy_source: str
    rounds: int
    seconds: float


def _selfplay(args: argparse.Namespace, bf16: bool, out: Path) -> SelfPlayResult:
    import torch

    import blobmaster as bm
    from blobmaster.config import load_config
    from blobmaster.inference import Progress, run_selfplay
    from blobmaster.model import default_model
    from blobmaster.replay import ShardMetadata

    device = torch.device(args.device)
    preset = load_config(args.preset)
    kwargs = preset.engine_kwargs(
        threads=args.threads or (os.cpu_count() or 1),
        games_per_thread=args.games_per_thread,
        max_batch=args.batch,
        tables=[(args.players, args.cards, 1.0)],
        seed=args.seed,
    )
    kwargs["rounds"] = None  # play until the time is up
    sampler = BusySampler(device)
    sampler.start()
    marks: dict[str, tuple[float, float, int]] = {}  # elapsed, evaluations, batches

    def watch(snap: Progress) -> None:
        mark = (snap.elapsed_s, snap.evals_per_s * snap.elapsed_s, snap.batches)
        if "start" not in marks and snap.elapsed_s >= args.warmup:
            marks["start"] = mark
            sampler.recording.set()
        marks["end"] = mark
        if snap.elapsed_s >= args.warmup + args.seconds:
            raise KeyboardInterrupt  # run_selfplay stops cleanly and writes what is finished

    try:
        summary = run_selfplay(
            bm.SelfPlayEngine(**kwargs),
            default_model(seed=0),
            device,
            out_dir=out,
            rounds_per_shard=50,
            batch=args.batch,
            timeout_ms=preset.selfplay.timeout_ms,
            bf16=bf16,
            progress=watch,
            progress_interval_s=0.5,
            metadata=ShardMetadata(model="default:blobnet-seed0", search=preset.search.to_json()),
        )
    finally:
        sampler.stop()
    if "start" not in marks:
        raise RuntimeError("self-play ended before the warm-up was over")
    (t0, e0, b0), (t1, e1, b1) = marks["start"], marks["end"]
    span = max(t1 - t0, 1e-9)
    return SelfPlayResult(
        bf16=bf16,
        evals_per_s=(e1 - e0) / span,
        mean_batch=(e1 - e0) / (b1 - b0) if b1 > b0 else 0.0,
        busy=sampler.busy_fraction,
        busy_source=sampler.source,
        rounds=summary.rounds,
        seconds=span,
    )


def _train(args: argparse.Namespace, shards: Path, run_dir: Path) -> dict[str, Any]:
    from blobmaster.train import TrainConfig, train

    config = TrainConfig(
        model="default",
        steps=args.train_steps,
        batch_size=args.train_batch,
        warmup_steps=10,
        checkpoint_every=0,
        log_every=50,
        val_fraction=0.0,
        bf16=True,
    )
    summary = train(config, shards, run_dir, device=args.device)
    return {
        "steps_per_s": summary.steps / summary.elapsed_s if summary.elapsed_s > 0 else 0.0,
        "examples_per_s": summary.examples_per_s,
        "bf16": summary.bf16,
        "steps": summary.steps,
    }


def _busy_text(r: SelfPlayResult) -> str:
    if r.busy is None:
        return "n/a (pip install nvidia-ml-py, or put nvidia-smi on PATH)"
    return f"{100 * r.busy:.0f}% ({r.busy_source})"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpu_check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="cuda", help="cuda or cuda:N (default: cuda)")
    p.add_argument("--preset", default="light", help="search preset (default: light)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured self-play seconds")
    p.add_argument("--warmup", type=float, default=5.0, help="self-play warm-up seconds")
    p.add_argument("--threads", type=int, default=0, help="engine threads (0: every core)")
    p.add_argument("--games-per-thread", type=int, default=64)
    p.add_argument("--batch", type=int, default=512, help="largest network batch")
    p.add_argument("--players", type=int, default=4)
    p.add_argument("--cards", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-steps", type=int, default=200)
    p.add_argument("--train-batch", type=int, default=512)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print(
            f"gpu_check: no CUDA GPU: torch.cuda.is_available() is False "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'})",
            file=sys.stderr,
        )
        return EXIT_NO_GPU
    from blobmaster.model import resolve_device

    step = "setup"
    try:
        device = resolve_device(args.device)
        name = torch.cuda.get_device_name(device)
        bf16_ok = torch.cuda.is_bf16_supported()
        print(f"gpu_check: {name} ({device}), torch {torch.__version__}", file=sys.stderr)
        results = []
        with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
            shards = Path(tmp) / "shards"
            for bf16 in [False, True] if bf16_ok else [False]:
                step = f"self-play ({'bf16' if bf16 else 'fp32'})"
                print(f"gpu_check: {step}, {args.warmup + args.seconds:g} s...", file=sys.stderr)
                results.append(_selfplay(args, bf16, shards))
            step = "training"
            print(f"gpu_check: training, {args.train_steps} steps...", file=sys.stderr)
            trained = _train(args, shards, Path(tmp) / "train")
    except Exception as e:
        print(f"gpu_check: FAILED during {step}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"GPU: {name}; self-play {args.preset}, {args.players} players x {args.cards} cards")
    for r in results:
        print(
            f"self-play {'bf16' if r.bf16 else 'fp32'}: {r.evals_per_s:,.0f} evals/s, "
            f"mean batch {r.mean_batch:.1f}, GPU busy {_busy_text(r)} "
            f"({r.seconds:.0f} s measured, {r.rounds} rounds written)"
        )
    print(
        f"train (default BlobNet, batch {args.train_batch}{', bf16' if trained['bf16'] else ''}): "
        f"{trained['steps_per_s']:.1f} steps/s, {trained['examples_per_s']:,.0f} examples/s"
    )
    if not bf16_ok:
        print("bf16: not supported by this GPU (self-play measured in fp32 only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
