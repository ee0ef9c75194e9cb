# Cross-check against PyTorch: nanoGPT's GPT (nanogpt_model.py) loads the state_dict that `moewb-cli export-pt`
# wrote, with strict=True, and decodes greedily. Usage:
#   nanogpt_reference.py MODEL.pt N_HEAD DATASET PROMPT LENGTH   -> prints the generated characters
import os, sys, torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nanogpt_model import from_state_dict

m = from_state_dict(torch.load(sys.argv[1]), int(sys.argv[2])).eval()
text = open(sys.argv[3], encoding='utf-8').read(); chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
prompt, length = sys.argv[4], int(sys.argv[5])
idx = torch.tensor([[stoi[c] for c in prompt]])
with torch.no_grad():
    for _ in range(length):
        idx = torch.cat([idx, m(idx[:, -m.block:])[:, -1].argmax(-1, keepdim=True)], 1)
sys.stdout.write(''.join(chars[i] for i in idx[0].tolist())[len(prompt):])
