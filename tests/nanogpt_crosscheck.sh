#!/usr/bin/env bash
# Trains a tiny dense model, exports it with export-pt, and checks that PyTorch's nanoGPT architecture loads it
# (strict) and decodes the same 150 greedy characters as moewb-cli's uncached generation. Needs python3-torch.
set -euo pipefail
cli="$1"; py="${PYTHON:-python3}"; here="$(cd "$(dirname "$0")" && pwd)"; work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$py" - "$work/corpus.txt" <<'PY'
import random, sys
random.seed(3)
words = "the quick brown fox jumps over lazy dog and runs to a river where birds sing".split()
open(sys.argv[1], "w").write(" ".join(random.choice(words) for _ in range(3000)))
PY
"$cli" train --data "$work/corpus.txt" --run "$work/run" --n_layer=2 --n_head=2 --n_embd=32 --block_size=32 \
  --max_iters=150 --eval_interval=150 --eval_iters=2 --log_interval=150 > /dev/null
"$cli" export-pt --checkpoint "$work/run/checkpoints/latest.pt" --out "$work/model.pt" > /dev/null
ours="$("$cli" generate --checkpoint "$work/run/checkpoints/latest.pt" --prompt "the " --length 150 \
  --temperature 0 --no-cache)"
theirs="$("$py" "$here/nanogpt_reference.py" "$work/model.pt" 2 "$work/corpus.txt" "the " 150)"
if [ "${ours#the }" != "$theirs" ]; then
  printf 'moewb:   %s\npytorch: %s\n' "${ours#the }" "$theirs" >&2
  exit 1
fi
echo "PyTorch nanoGPT reproduces moewb's greedy decoding (150 characters)"
