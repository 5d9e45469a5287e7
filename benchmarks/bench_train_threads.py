"""Training-step speed of the small BlobNet (batch 256, AdamW) with one and
two torch threads, alternating, with the busy cores of each measurement.

    python benchmarks/bench_train_threads.py [REPEATS]

Random inputs (the step's cost does not depend on them). benchmarks/RESULTS.md,
"Using the whole machine", has the figures it gave on the shared 2-core VM.
"""

from __future__ import annotations

import sys
import time

import torch

from blobmaster.checkpoint import model_config_for
from blobmaster.model import default_model
from blobmaster.train_config import TrainConfig
from blobmaster.train_support import make_optimizer

STEPS = 40
BATCH = 256


def main(repeats: int) -> None:
    net = default_model(seed=0, config=model_config_for("small")).train()
    optimizer = make_optimizer(net, TrainConfig(), torch.device("cpu"))
    x = torch.randn(BATCH, 256)

    def steps(n: int) -> None:
        for _ in range(n):
            logits, value = net.forward_logits(x)
            (logits.float().logsumexp(-1).mean() + value.float().mean()).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    for _ in range(repeats):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            steps(3)  # warm up at this thread count
            wall0, cpu0 = time.perf_counter(), time.process_time()
            steps(STEPS)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            load = open("/proc/loadavg").read().split()[0]
            print(
                f"threads {threads}: {STEPS * BATCH / wall:,.0f} examples/s, "
                f"busy cores {cpu / wall:.2f}, load {load}",
                flush=True,
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
