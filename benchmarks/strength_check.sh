#!/usr/bin/env bash
# The fixed strength check of issue 10 (4 players x 5 cards, duplicate deals,
# two seats each): a candidate agent head to head against a baseline agent
# and against ISMCTS-1000 (the goals' reference), on the deal sets every
# figure in benchmarks/RESULTS.md since the 300k network uses.
#
#   bash benchmarks/strength_check.sh CANDIDATE BASELINE OUT_DIR [SCALE]
#
# CANDIDATE and BASELINE are agent specs (`model:runs/x/model.pt:light`, ...).
# Head to head: seeds 45 and 46, 2000 deals each; against ISMCTS-1000: seeds
# 2028 and 44, 1000 deals each (SCALE, default 1, multiplies the deals: 0.25
# for a quick look). Each match's report goes to OUT_DIR as JSON and is
# skipped when present, so an interrupted check carries on. The summary pools
# the two deal sets of each pairing: the mean of the two paired differences,
# its 95% half-width sqrt(a^2 + b^2) / 2 (independent deal sets).
set -euo pipefail

candidate=${1:?usage: strength_check.sh CANDIDATE BASELINE OUT_DIR [SCALE]}
baseline=${2:?usage: strength_check.sh CANDIDATE BASELINE OUT_DIR [SCALE]}
out=${3:?usage: strength_check.sh CANDIDATE BASELINE OUT_DIR [SCALE]}
scale=${4:-1}
mkdir -p "$out"

deals() { python3 -c "import sys; print(max(1, round($1 * float(sys.argv[1]))))" "$scale"; }

match() {  # match NAME OPPONENT SEED DEALS
    local report="$out/$1.json"
    [[ -f "$report" ]] && return
    blobmaster eval -a "$candidate" -a "$2" --players 4 --cards 5 --deals "$4" --seed "$3" \
        --no-progress --out "$report" > /dev/null
}

match h2h-45 "$baseline" 45 "$(deals 2000)"
match h2h-46 "$baseline" 46 "$(deals 2000)"
match ismcts1000-2028 ismcts:1000 2028 "$(deals 1000)"
match ismcts1000-44 ismcts:1000 44 "$(deals 1000)"

python3 - "$out" <<'PY'
import json
import math
import sys

out = sys.argv[1]


def load(name):
    with open(f"{out}/{name}.json") as f:
        report = json.load(f)
    pair, me = report["head_to_head"][0], report["agents"][0]
    return report, pair["mean_diff"], pair["ci95"], me["bids_made"] / me["seat_rounds"]


for label, names in (("head to head", ("h2h-45", "h2h-46")),
                     ("vs ISMCTS-1000", ("ismcts1000-2028", "ismcts1000-44"))):
    rows = [load(n) for n in names]
    for name, (report, diff, ci, made) in zip(names, rows):
        print(f"{name:16s} {report['agents'][0]['name']} v {report['agents'][1]['name']}: "
              f"{diff:+.3f} ± {ci:.3f}  bids made {made:.1%}  ({report['rounds_per_s']:.1f} rounds/s)")
    mean = sum(r[1] for r in rows) / 2
    half = math.sqrt(sum(r[2] ** 2 for r in rows)) / 2
    print(f"{label:16s} pooled: {mean:+.3f} ± {half:.3f}")
PY
