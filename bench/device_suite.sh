#!/usr/bin/env bash
# The GPU benchmark suite, prepared to run once on a borrowed GPU inside a fixed budget.
#
#   bench/device_suite.sh DATA_DIR OUT_DIR [BUDGET_SECONDS]
#
# DATA_DIR holds ml-1m/ and ml-100k/. Stages, each cut off so the whole ends within the budget:
#   1. a tiny transformer on ML-100K: the GPU-trained test fixture (SKIP_FIXTURE=1: made by the preflight)
#   2. the ML-1M transformer with default settings, alone on the GPU (seconds per epoch, time to best)
#   3. lstm and gan on ML-1M, while the transformer's ML-1M -> ML-100K transfer grid runs
#   4. the lstm and gan transfer grids
# Results land in OUT_DIR: pretrain-ml-1m-cuda.jsonl, transfer-results.jsonl, transfer-table.md,
# transfer-ndcg.png, the fixture, and the ML-1M transformer checkpoint as a registry bundle.
set -u
DATA=$1 OUT=$2 BUDGET=${3:-420}
START=$(date +%s)
left() { echo $((BUDGET - $(date +%s) + START)); }
log() { echo "[$(($(date +%s) - START))s] $*"; }
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
SOURCE_MINUTES=${SOURCE_MINUTES:-2.5}
SIDE_MINUTES=${SIDE_MINUTES:-1.5}
SEEDS=${SEEDS:-0 1 2}
read -r -a TRANSFER_ARGS <<< "${TRANSFER_ARGS:-}"  # e.g. "--epochs 2" for a smoke test
export PYTHONUNBUFFERED=1 RECGRAFT_HOME=${RECGRAFT_HOME:-$(mktemp -d)/home}
REGISTRY=sqlite:///$RECGRAFT_HOME/registry.db
WORK=$(mktemp -d)
TRANSFORMER_STRATEGIES=(scratch direct fusion finetune "finetune:encoder_lr_scale=0.1"
    "finetune:head_first_epochs=5,encoder_lr_scale=0.1" "finetune:encoder_lr_scale=1.0" "finetune:source_mix=1.0")
SIDE_STRATEGIES=(scratch direct fusion finetune)

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
$PY -c "import torch, recgraft; print('torch', torch.__version__, 'recgraft', recgraft.__version__)"

log "1. tiny fixture"
[ -n "${SKIP_FIXTURE:-}" ] || timeout 90 $PY bench/tiny_checkpoint.py --data "$DATA/ml-100k" --device "$DEVICE" \
    --out "$OUT/ml-100k-tiny-transformer-$DEVICE.safetensors"

log "2. ML-1M transformer, default settings, ${SOURCE_MINUTES} min cap"
timeout $(($(left) - 60)) $PY bench/pretrain_movielens.py --data "$DATA/ml-1m" --encoders transformer \
    --device "$DEVICE" --set "train.max_minutes=$SOURCE_MINUTES" --home "$RECGRAFT_HOME" --out "$WORK/pretrain-transformer.jsonl"
$PY -m recgraft registry export ml-1m-transformer "$OUT/ml-1m-transformer-$DEVICE.tar" || true

transfer_grid() {  # encoder, fractions..., then "--" and strategies
    local encoder=$1; shift
    local fractions=(); while [ "$1" != "--" ]; do fractions+=("$1"); shift; done; shift
    for fraction in "${fractions[@]}"; do for seed in $SEEDS; do
        OMP_NUM_THREADS=1 timeout $(($(left) - 25)) $PY bench/transfer_movielens.py --source "$DATA/ml-1m" \
            --target "$DATA/ml-100k" --source-checkpoint "ml-1m-$encoder" --registry "$REGISTRY" --device "$DEVICE" \
            --encoders "$encoder" --fractions "$fraction" --seeds "$seed" --strategies "$@" "${TRANSFER_ARGS[@]}" \
            --out "$WORK/transfer-$encoder-$fraction-$seed" > "$WORK/transfer-$encoder-$fraction-$seed.log" 2>&1 &
    done; done
}

log "3. lstm and gan on ML-1M, transformer transfer grid"
for encoder in lstm gan; do
    OMP_NUM_THREADS=2 timeout $(($(left) - 120)) $PY bench/pretrain_movielens.py --data "$DATA/ml-1m" --encoders $encoder \
        --device "$DEVICE" --set "train.max_minutes=$SIDE_MINUTES" --home "$RECGRAFT_HOME" --out "$WORK/pretrain-$encoder.jsonl" &
done
side_pids=$(jobs -p)
transfer_grid transformer 0.05 0.1 0.25 1.0 -- "${TRANSFORMER_STRATEGIES[@]}"
for pid in $side_pids; do wait "$pid"; done

log "4. lstm and gan transfer grids"
transfer_grid lstm 0.1 1.0 -- "${SIDE_STRATEGIES[@]}"
transfer_grid gan 0.1 1.0 -- "${SIDE_STRATEGIES[@]}"

wait
log "collecting"
cat "$WORK"/pretrain-*.jsonl > "$OUT/pretrain-ml-1m-$DEVICE.jsonl" 2>/dev/null
for f in "$WORK"/transfer-*.log; do echo "== $f"; grep -v "^epoch\|^\s*$" "$f" | tail -n 12; done
$PY bench/transfer_movielens.py --merge "$WORK"/transfer-*/ --out "$WORK/transfer" > /dev/null
cp "$WORK/transfer/results.jsonl" "$OUT/transfer-results.jsonl"
cp "$WORK/transfer/table.md" "$OUT/transfer-table.md"
cp "$WORK/transfer/ndcg.png" "$OUT/transfer-ndcg.png" 2>/dev/null
cat "$OUT/pretrain-ml-1m-$DEVICE.jsonl" "$OUT/transfer-table.md"
log "done"
