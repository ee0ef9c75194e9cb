# nanoGPT train.py's inner loop on given weights and batches: its get_lr (linear warm-up, cosine decay),
# configure_optimizers (weight decay on tensors of two or more dimensions only, torch.optim.AdamW), gradient
# clipping with clip_grad_norm_, zero_grad(set_to_none=True); one micro-step per iteration, fp32 on the CPU.
# Usage: nanogpt_lockstep.py INIT.pt BATCHES.pt CONFIG.json  -> one training loss per line, before each step
import json, math, os, sys, torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nanogpt_model import from_state_dict

torch.set_num_threads(1)  # the reduction order of one thread, as close to moewb's as PyTorch gets
c = json.load(open(sys.argv[3]))
model = from_state_dict(torch.load(sys.argv[1]), c['n_head'], add_masks=True).train()
batches = torch.load(sys.argv[2])
params = [p for p in model.parameters() if p.requires_grad]
groups = [{'params': [p for p in params if p.dim() >= 2], 'weight_decay': c['weight_decay']},
          {'params': [p for p in params if p.dim() < 2], 'weight_decay': 0.0}]
opt = torch.optim.AdamW(groups, lr=c['learning_rate'], betas=(c['beta1'], c['beta2']))


def get_lr(it):
    if it < c['warmup_iters']:
        return c['learning_rate'] * (it + 1) / (c['warmup_iters'] + 1)
    if it > c['lr_decay_iters']:
        return c['min_lr']
    ratio = (it - c['warmup_iters']) / (c['lr_decay_iters'] - c['warmup_iters'])
    return c['min_lr'] + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (c['learning_rate'] - c['min_lr'])


for it in range(batches['x'].shape[0]):
    for g in opt.param_groups:
        g['lr'] = get_lr(it)
    _, loss = model(batches['x'][it], batches['y'][it])
    loss.backward()
    if c['grad_clip'] != 0.0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), c['grad_clip'])
    opt.step()
    opt.zero_grad(set_to_none=True)
    print(repr(loss.item()))
