#!/usr/bin/env bash
# Cross-checks against PyTorch (needs python3-torch):
# - export-pt: a tiny trained dense model loads with strict=True into nanoGPT's architecture (nanogpt_model.py)
#   and decodes the same 150 greedy characters as moewb-cli; --attn-bias decides which torch versions load it;
#   the safetensors export holds the same tensors;
# - import-pt: a nanoGPT train.py-style checkpoint (compiled-model prefixes, model_args, config) becomes a run
#   that decodes what PyTorch decodes from it.
set -euo pipefail
cli="$1"; py="${PYTHON:-python3}"; here="$(cd "$(dirname "$0")" && pwd)"; work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$py" - "$work/corpus.txt" <<'PY'
import random, sys
random.seed(3)
words = "the quick brown fox jumps over lazy dog and runs to a river where birds sing".split()
open(sys.argv[1], "w").write(" ".join(random.choice(words) for _ in range(3000)))
PY
"$cli" train --data "$work/corpus.txt" --run "$work/run" --ffn=dense --n_layer=2 --n_head=2 --n_embd=32 --block_size=32 \
  --max_iters=150 --eval_interval=150 --eval_iters=2 --log_interval=150 > /dev/null
flash="$("$py" -c "import torch.nn.functional as F; print(int(hasattr(F, 'scaled_dot_product_attention')))")"
right=(); wrong=(--attn-bias)
[ "$flash" = 1 ] || { right=(--attn-bias); wrong=(); }
"$cli" export-pt --checkpoint "$work/run/checkpoints/latest.pt" --out "$work/model.pt" "${right[@]}" > /dev/null
"$cli" export-pt --checkpoint "$work/run/checkpoints/latest.pt" --out "$work/other.pt" "${wrong[@]}" > /dev/null
# same_greedy_text CHECKPOINT STATE_DICT N_HEAD LENGTH: moewb and PyTorch decode the same characters after "the "
same_greedy_text() {
  local ours theirs
  ours="$("$cli" generate --checkpoint "$1" --prompt "the " --length "$4" --temperature 0 --no-cache)"
  theirs="$("$py" "$here/nanogpt_reference.py" "$2" "$3" "$work/corpus.txt" "the " "$4")"
  [ "${ours#the }" = "$theirs" ] || { printf 'moewb:   %s\npytorch: %s\n' "${ours#the }" "$theirs" >&2; exit 1; }
}
same_greedy_text "$work/run/checkpoints/latest.pt" "$work/model.pt" 2 150
echo "PyTorch nanoGPT reproduces moewb's greedy decoding (150 characters)"
if "$py" "$here/nanogpt_reference.py" "$work/other.pt" 2 "$work/corpus.txt" "the " 1 > /dev/null 2>&1; then
  echo "the export for the other torch generation (${wrong[*]:-without --attn-bias}) loaded strictly: it must not" >&2
  exit 1
fi
echo "--attn-bias matches this torch's model.py (strict loading fails the other way)"

"$cli" export-pt --checkpoint "$work/run/checkpoints/latest.pt" --out "$work/model.safetensors" > /dev/null
"$py" - "$work/model.safetensors" "$work/model.pt" <<'PY'
import json, struct, sys, torch
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]; header = json.loads(raw[8:8 + n]); data = raw[8 + n:]
assert n % 8 == 0, n
reference = {k: v for k, v in torch.load(sys.argv[2]).items() if not k.endswith('.attn.bias')}
names = [k for k in header if k != '__metadata__']
assert sorted(names) == sorted(reference), (sorted(names), sorted(reference))
for k in names:
    h = header[k]; b, e = h['data_offsets']
    t = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).view(h['shape'])
    assert h['dtype'] == 'F32' and torch.equal(t, reference[k]), k
print(f"safetensors export: {len(names)} tensors equal to the torch.load export")
PY

HERE="$here" "$py" - "$work/corpus.txt" "$work/nanogpt_ckpt.pt" "$work/nanogpt_sd.pt" <<'PY'
import os, sys, torch
sys.path.insert(0, os.environ['HERE'])
from nanogpt_model import GPT
chars = sorted(set(open(sys.argv[1]).read()))
torch.manual_seed(7)
m = GPT(len(chars), 48, 24, 3, 4, True)
for p in m.parameters():
    torch.nn.init.normal_(p, 0.0, 0.3)  # far from any initialisation moewb would draw
sd = m.state_dict()
torch.save({'model': {'_orig_mod.' + k: v for k, v in sd.items()},
            'model_args': dict(n_layer=3, n_head=4, n_embd=48, block_size=24, bias=True, vocab_size=len(chars),
                               dropout=0.0),
            'iter_num': 10, 'best_val_loss': torch.tensor(2.5),
            'config': {'learning_rate': 6e-4, 'max_iters': 40, 'batch_size': 8, 'dataset': 'x'}}, sys.argv[2])
torch.save(sd, sys.argv[3])
PY
"$cli" import-pt --pt "$work/nanogpt_ckpt.pt" --data "$work/corpus.txt" --run "$work/imported" > /dev/null
grep -q '"learning_rate": 0.0006' "$work/imported/config.json"
grep -q '"operation": "import-pt"' "$work/imported/run.json"  # the origin, which the Runs table shows
grep -q 'info    imported from nanogpt_ckpt.pt (nanoGPT)' "$work/imported/train.log"
same_greedy_text "$work/imported/checkpoints/latest.pt" "$work/nanogpt_sd.pt" 4 60
"$cli" resume --run "$work/imported" > /dev/null
echo "import-pt: a nanoGPT checkpoint decodes as in PyTorch (60 characters), takes its training settings and resumes"
