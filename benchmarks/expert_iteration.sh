#!/usr/bin/env bash
# Expert iteration on 4 players x 5 cards (issue 10, goal 2): the network's
# own search, stronger than the network, teaches the next network.
#
#   bash benchmarks/expert_iteration.sh NET RUN_DIR [ROUNDS] [STEPS] [SEED] [LR]
#
# 1. `blobmaster selfplay --teacher model:NET:ismcts:200:0.7:1:network:policy=0.5`
#    plays ROUNDS rounds with that search on every seat (ISMCTS whose leaves
#    the network values, worlds weighed by the network's policy; about 5
#    rounds/s on 2 cores), recording its root visits as policy targets and
#    the round scores as value targets.
# 2. `blobmaster train --init-model NET` fine-tunes NET on those rounds only
#    for STEPS steps at peak learning rate LR.
# 3. The new network at Light, head to head against NET at Light (2000 deals,
#    seed 45) and against ISMCTS-1000 (1000 deals, seed 2028, the deals of
#    the teacher-proof evaluations).
#
# Each step is skipped when its output exists (a rerun after an interruption
# carries on; the teacher's shards are not resumed). Run it again with the
# new network as NET for the next generation.
set -euo pipefail

net=${1:?usage: expert_iteration.sh NET RUN_DIR [ROUNDS] [STEPS] [SEED] [LR]}
run=${2:?usage: expert_iteration.sh NET RUN_DIR [ROUNDS] [STEPS] [SEED] [LR]}
rounds=${3:-30000}
steps=${4:-4000}
seed=${5:-11}
lr=${6:-3e-4}
mkdir -p "$run"

start=$(date +%s)
if [[ ! -f "$run/teacher.done" ]]; then
    rm -rf "$run/teacher"
    blobmaster selfplay --threads 2 --torch-threads 2 --config loop_proof \
        --teacher "model:$net:ismcts:200:0.7:1:network:policy=0.5" \
        --rounds "$rounds" --seed "$seed" --out "$run/teacher"
    touch "$run/teacher.done"
fi
teacher_s=$(( $(date +%s) - start ))

start=$(date +%s)
if [[ ! -f "$run/net/model.pt" ]]; then
    blobmaster train --init-model "$net" --window 0 --window-examples 0 --steps "$steps" \
        --lr "$lr" --model-size small --torch-threads 2 --seed 0 --out "$run/net" "$run/teacher"
fi
train_s=$(( $(date +%s) - start ))

new="model:$run/net/model.pt:light"
blobmaster eval --agent "$new" --agent "model:$net:light" --deals 2000 --seed 45 \
    --torch-threads 2 --out "$run/vs-previous.json"
blobmaster eval --agent "$new" --agent ismcts:1000 --deals 1000 --seed 2028 \
    --torch-threads 2 --out "$run/vs-ismcts1000.json"

python - "$run" "$teacher_s" "$train_s" <<'EOF'
import json, sys

run, teacher_s, train_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print(f"teacher {teacher_s / 60:.1f} min + training {train_s / 60:.1f} min "
      f"(steps skipped in this invocation count 0)")
for name in ("previous", "ismcts1000"):
    report = json.load(open(f"{run}/vs-{name}.json"))
    new, other = report["agents"]
    pair = report["head_to_head"][0]
    made = new["bids_made"] / new["seat_rounds"]
    print(f"vs {name}: paired {pair['mean_diff']:+.3f} ± {pair['ci95']:.3f}; "
          f"new network bids made {made:.1%}")
EOF
