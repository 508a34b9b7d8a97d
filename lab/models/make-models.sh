#!/usr/bin/env bash
# Remakes the ∇x lab's default models with the project's own commands (see lab/models/README.md).
# Usage: lab/models/make-models.sh [all|softmax|cnn|cnn-pgd]. Each command's report (stderr: the epochs' last
# progress lines and the accuracies) goes to lab/models/<name>.log; checkpoints beside the models are removed.
set -euo pipefail
cd "$(dirname "$0")/../.."
which="${1:-all}"
nablax() { npx tsx src/cli/main.ts --threads 1 "$@"; }
# progress bars redraw with \r: keep each epoch's final line and the summaries
keep() { tr '\r' '\n' | grep -v '^$' | grep -v '| ETA [1-9]\|0% 0/469\|ETA -' > "$1" || true; }
if [[ $which == all || $which == softmax ]]; then
  nablax train --model softmax --data mnist-data --epochs 5 --seed 0 \
    --out lab/models/softmax.safetensors 2> >(keep lab/models/softmax.log)
fi
if [[ $which == all || $which == cnn ]]; then
  nablax train --model cnn --data mnist-data --epochs 3 --seed 0 \
    --out lab/models/cnn.safetensors 2> >(keep lab/models/cnn.log)
fi
if [[ $which == all || $which == cnn-pgd ]]; then
  nablax adv-train --model cnn --method pgd --eps 0.3 --steps 7 --step-size 0.1 --eps-warmup 1 \
    --data mnist-data --epochs 3 --seed 0 --robust-limit 1000 --eval-slice 0 \
    --out lab/models/cnn-pgd.safetensors 2> >(keep lab/models/cnn-pgd.log)
fi
rm -f lab/models/*.ckpt.safetensors lab/models/*.adv-state.json
