#!/usr/bin/env bash
# The proof that the loop learns (issue 5), on a 2-core CPU machine:
#
#   bash benchmarks/learning_proof.sh [RUN_DIR] [ITERATIONS] [DEALS]
#
# 1. `blobmaster loop RUN_DIR --config loop_proof --iterations ITERATIONS`
#    (4 players x 5 cards only, Light search, the small network: the proof's
#    settings, kept as measured now that loop_quick is the mixed-table loop;
#    about 65 s an iteration here, so 70 iterations fit in 90 minutes).
#    Resumable: run the script again after an interruption and it carries on.
# 2. The last network against the untrained first network, both at Light,
#    and against the heuristic player, each over DEALS duplicate deals
#    (4 seatings each, so 4 x DEALS rounds), with JSON reports in RUN_DIR.
# 3. `blobmaster report RUN_DIR` (PNG plots in RUN_DIR/report).
#
# Exits non-zero unless the last network's mean round score beats both
# opponents with non-overlapping 95% intervals. benchmarks/RESULTS.md
# records a run of it.
set -euo pipefail

run=${1:-runs/learning-proof}
iterations=${2:-70}
deals=${3:-2000}
threads=(--torch-threads 1)

start=$(date +%s)
blobmaster loop "$run" --config loop_proof --iterations "$iterations" "${threads[@]}"
loop_s=$(( $(date +%s) - start ))

final=$(printf '%s/iter-%04d/model.pt' "$run" "$iterations")
blobmaster eval --agent "model:$final:light" --agent "model:$run/init/model.pt:light" \
    --deals "$deals" --seed 2026 "${threads[@]}" --out "$run/proof-vs-untrained.json"
blobmaster eval --agent "model:$final:light" --agent heuristic \
    --deals "$deals" --seed 2027 "${threads[@]}" --out "$run/proof-vs-heuristic.json"
blobmaster report "$run"

python - "$run" "$loop_s" <<'EOF'
import json, sys

run, loop_s = sys.argv[1], int(sys.argv[2])
ok = True
print(f"loop wall time of this invocation: {loop_s / 60:.1f} min")
for name in ("untrained", "heuristic"):
    report = json.load(open(f"{run}/proof-vs-{name}.json"))
    net, other = report["agents"]
    pair = report["head_to_head"][0]
    separated = net["mean"] - net["ci95"] > other["mean"] + other["ci95"]
    ok &= separated
    print(
        f"vs {name}: network {net['mean']:.3f} ± {net['ci95']:.3f}, "
        f"{other['name']} {other['mean']:.3f} ± {other['ci95']:.3f} points/round "
        f"over {report['rounds']} rounds; paired difference {pair['mean_diff']:+.3f} ± {pair['ci95']:.3f}; "
        f"intervals {'do not overlap' if separated else 'OVERLAP'}"
    )
sys.exit(0 if ok else 1)
EOF
