"""Pretrain a tiny transformer (a few hundred KB) and write its checkpoint file.

Run on a GPU, this makes the GPU-trained test fixture that tests load on the CPU:

    python bench/tiny_checkpoint.py --data ../shared/data/ml-100k --device cuda \
        --out tests/fixtures/ml-100k-tiny-transformer-cuda.safetensors
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TINY = {"embedding_dim": 16, "max_length": 20, "num_layers": 1, "num_heads": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/ml-100k")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from recgraft.data.loader import load_domain
    from recgraft.data.split import leave_one_out
    from recgraft.pretrain import pretrain

    split = leave_one_out(load_domain(args.data))
    trained = pretrain(split, "transformer", TINY, {"epochs": args.epochs, "seed": 0}, device=args.device)
    data = trained.to_bytes()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(json.dumps({"path": str(args.out), "bytes": len(data), "device": str(trained.device),
                      "test": {k: round(float(v), 4) for k, v in trained.test.items() if k in ("ndcg@10", "hr@10")}}))


if __name__ == "__main__":
    main()
