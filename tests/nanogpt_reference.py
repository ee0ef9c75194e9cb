# Cross-check against PyTorch: nanoGPT's GPT (model.py's architecture, written out here) loads the state_dict that
# `moewb-cli export-pt` wrote, with strict=True, and decodes greedily. Usage:
#   nanogpt_reference.py MODEL.pt N_HEAD DATASET PROMPT LENGTH   -> prints the generated characters
import math, sys, torch, torch.nn as nn, torch.nn.functional as F
sd = torch.load(sys.argv[1])
V, d = sd['transformer.wte.weight'].shape
block = sd['transformer.wpe.weight'].shape[0]
L = 1 + max(int(k.split('.')[2]) for k in sd if k.startswith('transformer.h.'))
nh = int(sys.argv[2]); bias = 'transformer.ln_f.bias' in sd
class LayerNorm(nn.Module):
    def __init__(s, n):
        super().__init__(); s.weight = nn.Parameter(torch.ones(n)); s.bias = nn.Parameter(torch.zeros(n)) if bias else None
    def forward(s, x): return F.layer_norm(x, s.weight.shape, s.weight, s.bias, 1e-5)
class Attn(nn.Module):
    def __init__(s):
        super().__init__(); s.c_attn = nn.Linear(d, 3*d, bias=bias); s.c_proj = nn.Linear(d, d, bias=bias)
    def forward(s, x):
        B, T, C = x.shape
        q, k, v = s.c_attn(x).split(d, dim=2)
        q, k, v = [t.view(B, T, nh, C//nh).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C//nh)
        att = att.masked_fill(torch.tril(torch.ones(T, T)).view(1,1,T,T) == 0, float('-inf')).softmax(-1)
        return s.c_proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))
class MLP(nn.Module):
    def __init__(s):
        super().__init__(); s.c_fc = nn.Linear(d, 4*d, bias=bias); s.c_proj = nn.Linear(4*d, d, bias=bias)
    def forward(s, x): return s.c_proj(F.gelu(s.c_fc(x)))
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.ln_1 = LayerNorm(d); s.attn = Attn(); s.ln_2 = LayerNorm(d); s.mlp = MLP()
    def forward(s, x): x = x + s.attn(s.ln_1(x)); return x + s.mlp(s.ln_2(x))
class GPT(nn.Module):
    def __init__(s):
        super().__init__()
        s.transformer = nn.ModuleDict(dict(wte=nn.Embedding(V, d), wpe=nn.Embedding(block, d),
                                           h=nn.ModuleList([Block() for _ in range(L)]), ln_f=LayerNorm(d)))
        s.lm_head = nn.Linear(d, V, bias=False); s.transformer.wte.weight = s.lm_head.weight
    def forward(s, idx):
        x = s.transformer.wte(idx) + s.transformer.wpe(torch.arange(idx.shape[1]))
        for b in s.transformer.h: x = b(x)
        return s.lm_head(s.transformer.ln_f(x))
m = GPT(); m.load_state_dict(sd, strict=True); m.eval()
text = open(sys.argv[3], encoding='utf-8').read(); chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
prompt, length = sys.argv[4], int(sys.argv[5])
idx = torch.tensor([[stoi[c] for c in prompt]])
with torch.no_grad():
    for _ in range(length):
        idx = torch.cat([idx, m(idx[:, -block:])[:, -1].argmax(-1, keepdim=True)], 1)
sys.stdout.write(''.join(chars[i] for i in idx[0].tolist())[len(prompt):])
