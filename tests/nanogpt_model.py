# nanoGPT's GPT (model.py's architecture, MIT, written out here so the tests need no checkout of it): the
# reference the cross-checks load moewb's exported weights into. Plain attention (model.py's no-flash path,
# identical in value); like model.py, torch < 2 (no scaled_dot_product_attention) registers the causal mask as
# the buffer attn.bias, which strict loading then requires. Dropout 0, tied embedding and LM head.
import math, torch, torch.nn as nn, torch.nn.functional as F


class LayerNorm(nn.Module):
    def __init__(s, n, bias):
        super().__init__()
        s.weight = nn.Parameter(torch.ones(n))
        s.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(s, x):
        return F.layer_norm(x, s.weight.shape, s.weight, s.bias, 1e-5)


FLASH = hasattr(F, 'scaled_dot_product_attention')


class Attention(nn.Module):
    def __init__(s, d, nh, bias, block):
        super().__init__()
        s.d, s.nh = d, nh
        s.c_attn = nn.Linear(d, 3 * d, bias=bias)
        s.c_proj = nn.Linear(d, d, bias=bias)
        if not FLASH:
            s.register_buffer("bias", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def forward(s, x):
        B, T, C = x.shape
        q, k, v = s.c_attn(x).split(s.d, dim=2)
        q, k, v = [t.view(B, T, s.nh, C // s.nh).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // s.nh)
        mask = torch.tril(torch.ones(T, T)).view(1, 1, T, T) if FLASH else s.bias[:, :, :T, :T]
        att = att.masked_fill(mask == 0, float('-inf')).softmax(-1)
        return s.c_proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(s, d, bias):
        super().__init__()
        s.c_fc = nn.Linear(d, 4 * d, bias=bias)
        s.c_proj = nn.Linear(4 * d, d, bias=bias)

    def forward(s, x):
        return s.c_proj(F.gelu(s.c_fc(x)))


class Block(nn.Module):
    def __init__(s, d, nh, bias, block):
        super().__init__()
        s.ln_1, s.attn = LayerNorm(d, bias), Attention(d, nh, bias, block)
        s.ln_2, s.mlp = LayerNorm(d, bias), MLP(d, bias)

    def forward(s, x):
        x = x + s.attn(s.ln_1(x))
        return x + s.mlp(s.ln_2(x))


class GPT(nn.Module):
    def __init__(s, V, d, block, L, nh, bias):
        super().__init__()
        s.block = block
        s.transformer = nn.ModuleDict(dict(wte=nn.Embedding(V, d), wpe=nn.Embedding(block, d),
                                           h=nn.ModuleList([Block(d, nh, bias, block) for _ in range(L)]),
                                           ln_f=LayerNorm(d, bias)))
        s.lm_head = nn.Linear(d, V, bias=False)
        s.transformer.wte.weight = s.lm_head.weight

    def forward(s, idx, targets=None):
        x = s.transformer.wte(idx) + s.transformer.wpe(torch.arange(idx.shape[1]))
        for b in s.transformer.h:
            x = b(x)
        logits = s.lm_head(s.transformer.ln_f(x))
        if targets is None:
            return logits
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def from_state_dict(sd, n_head, add_masks=False):
    """The GPT whose shapes the state_dict has, loaded with strict=True; add_masks supplies the attention-mask
    buffers torch < 2 needs when the file has none (for tests of training rather than of the file)."""
    V, d = sd['transformer.wte.weight'].shape
    block = sd['transformer.wpe.weight'].shape[0]
    L = 1 + max(int(k.split('.')[2]) for k in sd if k.startswith('transformer.h.'))
    m = GPT(V, d, block, L, n_head, 'transformer.ln_f.bias' in sd)
    if add_masks:
        sd = {**{k: v for k, v in m.state_dict().items() if k.endswith('.attn.bias')}, **sd}
    m.load_state_dict(sd, strict=True)
    return m
