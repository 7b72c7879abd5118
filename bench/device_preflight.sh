#!/usr/bin/env bash
# A one-minute check of every GPU code path before the full suite (bench/device_suite.sh):
# the tiny fixture, the CLI's pretrain -> transfer -> evaluate on CUDA, and torchrun.
#
#   bench/device_preflight.sh DATA_DIR OUT_DIR
set -u
DATA=$1 OUT=$2
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
export PYTHONUNBUFFERED=1 RECGRAFT_HOME=${RECGRAFT_HOME:-$(mktemp -d)/home}
status=0
check() { local name=$1; shift; local t=$(date +%s); if "$@"; then echo "ok   $name ($(( $(date +%s) - t ))s)"; else echo "FAIL $name"; status=1; fi; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
check fixture timeout 120 $PY bench/tiny_checkpoint.py --data "$DATA/ml-100k" --device "$DEVICE" \
    --out "$OUT/ml-100k-tiny-transformer-$DEVICE.safetensors"
check pretrain timeout 120 $PY -m recgraft pretrain --data "$DATA/ml-100k" --encoder transformer --device "$DEVICE" \
    --set encoder.max_length=50 --set train.epochs=2 --json
check transfer timeout 120 $PY -m recgraft transfer --from ml-100k-transformer --data "$DATA/ml-100k" --strategy finetune \
    --device "$DEVICE" --epochs 2 --train-fraction 0.1 --json
check evaluate timeout 60 $PY -m recgraft evaluate ml-100k-transformer-finetune --data "$DATA/ml-100k" --json
check torchrun timeout 120 $PY -m torch.distributed.run --nproc-per-node 1 -m recgraft pretrain --data "$DATA/ml-100k" \
    --encoder transformer --device "$DEVICE" --set encoder.max_length=50 --set train.epochs=3 --name torchrun-smoke --json
$PY -m recgraft registry list
exit $status
