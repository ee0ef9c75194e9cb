#include "core/model/gpt.h"

#include <cmath>

#include "core/model/cpu_decoder.h"
#include "core/model/randomness.h"

namespace moewb {

namespace F = torch::nn::functional;

namespace {
constexpr double kInitStd = 0.02;  // nanoGPT _init_weights

void init_linear(torch::nn::Linear& l, double std = kInitStd) {
  normal_init(l->weight, std);
  torch::NoGradGuard no_grad;
  if (l->bias.defined()) l->bias.zero_();
}

double residual_std(const Config& c) { return kInitStd / std::sqrt(2.0 * c.n_layer); }

// Scaled dot-product attention where query i (of T) sits at absolute position past + i among the Tk keys.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double dropout_p) {
  const int64_t T = q.size(2), Tk = k.size(2), past = Tk - T;
#if TORCH_VERSION_MAJOR >= 2
  // its dropout draws from the default generator, so a trainer's own CPU source takes the explicit path
  const bool draws_from_default = dropout_p > 0 && q.device().is_cpu() && random_source_installed();
  if ((past == 0 || T == 1) && !draws_from_default)
    return at::scaled_dot_product_attention(q, k, v, {}, dropout_p, /*is_causal=*/past == 0 && T > 1);
#endif
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  if (T == 1) {
    // one new position (cached generation): elementwise products beat batched matmul's reshapes at this size
    auto weights = torch::softmax((k * q).sum(-1, /*keepdim=*/true).mul_(scale), 2);  // (B, nh, Tk, 1)
    weights = dropout(weights, dropout_p);
    return (weights * v).sum(2, /*keepdim=*/true);  // (B, nh, 1, hs)
  }
  auto att = torch::matmul(q, k.transpose(-2, -1)) * scale;
  auto allowed = torch::ones({T, Tk}, q.options().dtype(torch::kBool)).tril(past);  // (T, Tk)
  att = att.masked_fill(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  att = torch::softmax(att, -1);
  att = dropout(att, dropout_p);
  return torch::matmul(att, v);  // (B, nh, T, hs)
}
}  // namespace

// ---------------------------------------------------------------------------------------------------
LayerNormImpl::LayerNormImpl(int d, bool with_bias) {
  weight = register_parameter("weight", torch::ones({d}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({d}));
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x, {weight.size(0)}, weight, bias, 1e-5);
}

// ---------------------------------------------------------------------------------------------------
CausalSelfAttentionImpl::CausalSelfAttentionImpl(const Config& c)
    : n_head(c.n_head), n_embd(c.n_embd), block_size(c.block_size), dropout_p(c.dropout) {
  c_attn = register_module("c_attn", torch::nn::Linear(torch::nn::LinearOptions(n_embd, 3 * n_embd).bias(c.bias)));
  c_proj = register_module("c_proj", torch::nn::Linear(torch::nn::LinearOptions(n_embd, n_embd).bias(c.bias)));
  init_linear(c_attn);
  init_linear(c_proj, residual_std(c));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x, torch::Tensor* cache_k,
                                               torch::Tensor* cache_v, int64_t past) {
  const int64_t B = x.size(0), T = x.size(1), hs = n_embd / n_head;
  auto qkv = c_attn->forward(x).view({B, T, 3, n_head, hs}).permute({2, 0, 3, 1, 4}).unbind(0);
  auto q = qkv[0], k = qkv[1], v = qkv[2];  // each (B, nh, T, hs)
  if (cache_k) {
    if (!cache_k->defined()) {
      *cache_k = torch::empty({B, n_head, block_size, hs}, k.options());
      *cache_v = torch::empty({B, n_head, block_size, hs}, v.options());
    }
    cache_k->narrow(2, past, T).copy_(k);
    cache_v->narrow(2, past, T).copy_(v);
    k = cache_k->narrow(2, 0, past + T);
    v = cache_v->narrow(2, 0, past + T);
  }
  auto y = attend(q, k, v, is_training() ? dropout_p : 0.0);
  y = y.transpose(1, 2).contiguous().view({B, T, n_embd});
  y = c_proj->forward(y);
  return is_training() ? dropout(y, dropout_p) : y;
}

// ---------------------------------------------------------------------------------------------------
MLPImpl::MLPImpl(const Config& c) : dropout_p(c.dropout) {
  c_fc = register_module("c_fc", torch::nn::Linear(torch::nn::LinearOptions(c.n_embd, 4 * c.n_embd).bias(c.bias)));
  c_proj = register_module("c_proj", torch::nn::Linear(torch::nn::LinearOptions(4 * c.n_embd, c.n_embd).bias(c.bias)));
  init_linear(c_fc);
  init_linear(c_proj, residual_std(c));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  auto y = c_proj->forward(F::gelu(c_fc->forward(x)));
  return is_training() ? dropout(y, dropout_p) : y;
}

// ---------------------------------------------------------------------------------------------------
BlockImpl::BlockImpl(const Config& c) {
  ln_1 = register_module("ln_1", LayerNorm(c.n_embd, c.bias));
  attn = register_module("attn", CausalSelfAttention(c));
  ln_2 = register_module("ln_2", LayerNorm(c.n_embd, c.bias));
  if (c.is_moe()) moe = register_module("moe", MoEFeedForward(c, c.n_layer));
  else mlp = register_module("mlp", MLP(c));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& idx, std::vector<RouterOutput>* capture,
                                 torch::Tensor* cache_k, torch::Tensor* cache_v, int64_t past) {
  auto y = x + attn->forward(ln_1->forward(x), cache_k, cache_v, past);
  auto normed = ln_2->forward(y);
  return y + (moe ? moe->forward(normed, idx, capture) : mlp->forward(normed));
}

// ---------------------------------------------------------------------------------------------------
GPTImpl::GPTImpl(const Config& c, int vocab) : config(c), vocab_size(vocab) {
  wte = register_module("wte", torch::nn::Embedding(vocab, c.n_embd));
  wpe = register_module("wpe", torch::nn::Embedding(c.block_size, c.n_embd));
  for (int i = 0; i < c.n_layer; ++i) h.push_back(register_module("h" + std::to_string(i), Block(c)));
  ln_f = register_module("ln_f", LayerNorm(c.n_embd, c.bias));
  normal_init(wte->weight, kInitStd);
  normal_init(wpe->weight, kInitStd);
}

torch::Tensor GPTImpl::run_blocks(torch::Tensor x, const torch::Tensor& idx, std::vector<RouterOutput>* capture,
                                  KVCache* cache) {
  if (cache && cache->k.empty()) cache->k.resize(h.size()), cache->v.resize(h.size());
  for (size_t i = 0; i < h.size(); ++i)
    x = h[i]->forward(x, idx, capture, cache ? &cache->k[i] : nullptr, cache ? &cache->v[i] : nullptr,
                      cache ? cache->filled : 0);
  return F::linear(ln_f->forward(x), wte->weight);  // tied LM head: (B, T, V)
}

GPTOutput GPTImpl::forward(const torch::Tensor& idx, const torch::Tensor& targets,
                           std::vector<RouterOutput>* capture) {
  const auto T = idx.size(1);
  TORCH_CHECK(T <= config.block_size, "sequence of length ", T, " exceeds the context of ", config.block_size);
  auto pos = torch::arange(T, idx.options());
  auto x = wte->forward(idx) + wpe->forward(pos);
  if (is_training()) x = dropout(x, config.dropout);
  std::vector<RouterOutput> local_capture;
  if (!capture && targets.defined() && config.is_moe()) capture = &local_capture;
  const size_t first = capture ? capture->size() : 0;
  GPTOutput out;
  out.logits = run_blocks(x, idx, capture, nullptr);
  if (targets.defined()) {
    out.ce = F::cross_entropy(out.logits.view({-1, vocab_size}), targets.reshape({-1}));
    out.loss = out.ce;
    for (size_t i = first; capture && i < capture->size(); ++i) out.loss = out.loss + (*capture)[i].aux_loss;
  }
  return out;
}

torch::Tensor GPTImpl::forward_cached(const torch::Tensor& idx, KVCache& cache, std::vector<RouterOutput>* capture) {
  const auto past = cache.length(), t = idx.size(1);
  TORCH_CHECK(past + t <= config.block_size, "cache of ", past, " + ", t, " positions exceeds the context");
  if (t == 1 && idx.size(0) == 1 && !is_training()) return decode_one(idx, cache, capture);
  auto pos = torch::arange(past, past + t, idx.options());
  auto x = wte->forward(idx) + wpe->forward(pos);  // generation runs in eval mode: no dropout
  auto logits = run_blocks(x, idx, capture, &cache);
  cache.filled += t;
  return logits;
}

namespace {
torch::Tensor linear_row(const torch::Tensor& x, const torch::nn::Linear& l) {
  return row_linear(x, l->weight, l->bias);
}
}  // namespace

torch::Tensor GPTImpl::decode_one(const torch::Tensor& idx, KVCache& cache, std::vector<RouterOutput>* capture) {
  if (!capture && cpu_decode_serves(*this)) return cpu_decode_one(*this, idx.data_ptr<int64_t>()[0], cache);
  const int64_t pos = cache.filled, d = config.n_embd, nh = config.n_head, hs = d / nh;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
  if (cache.k.empty()) cache.k.resize(h.size()), cache.v.resize(h.size());
  auto x = wte->weight.index_select(0, idx.view({1})) + wpe->weight.narrow(0, pos, 1);  // (1, d)
  for (size_t i = 0; i < h.size(); ++i) {
    Block& block = h[i];
    CausalSelfAttention& attn = block->attn;
    if (!cache.k[i].defined()) {
      cache.k[i] = torch::empty({1, nh, config.block_size, hs}, x.options());
      cache.v[i] = torch::empty({1, nh, config.block_size, hs}, x.options());
    }
    auto qkv = linear_row(block->ln_1->forward(x), attn->c_attn);           // (1, 3d)
    auto keys = cache.k[i].select(0, 0), values = cache.v[i].select(0, 0);  // (nh, block, hs)
    keys.select(1, pos).copy_(qkv.narrow(1, d, d).view({nh, hs}));
    values.select(1, pos).copy_(qkv.narrow(1, 2 * d, d).view({nh, hs}));
    auto q = qkv.narrow(1, 0, d).view({nh, 1, hs}) * scale;
    auto weights = at::softmax(at::bmm(q, keys.narrow(1, 0, pos + 1).transpose(1, 2)), -1);  // (nh, 1, L)
    auto y = at::bmm(weights, values.narrow(1, 0, pos + 1)).view({1, d});                   // heads side by side
    x = x + linear_row(y, attn->c_proj);
    auto normed = block->ln_2->forward(x);
    if (block->moe) {
      x = x + block->moe->forward(normed.view({1, 1, d}), idx, capture).view({1, d});
    } else {
      x = x + linear_row(at::gelu(linear_row(normed, block->mlp->c_fc)), block->mlp->c_proj);
    }
  }
  cache.filled += 1;
  return row_linear(ln_f->forward(x), wte->weight).view({1, 1, vocab_size});
}

int64_t GPTImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

GPT share_weights(const GPT& model, const Config& config) {
  GPT twin(config, model->vocab_size);
  torch::NoGradGuard no_grad;
  auto from = model->parameters(), to = twin->parameters();
  for (size_t i = 0; i < from.size(); ++i) to[i].set_data(from[i]);  // shares storage, device and dtype
  for (size_t l = 0; l < model->h.size(); ++l) {
    if (!model->h[l]->moe) continue;
    twin->h[l]->moe->routing.disabled_expert = model->h[l]->moe->routing.disabled_expert;
    twin->h[l]->moe->routing.forced_expert = model->h[l]->moe->routing.forced_expert;
  }
  twin->train(model->is_training());
  return twin;
}

GPT without_capacity(const GPT& model) {
  if (!model->config.is_moe() || !model->config.use_capacity) return model;
  Config c = model->config;
  c.use_capacity = false;
  return share_weights(model, c);
}

CapacityScope::CapacityScope(GPT model, bool on) : model_(std::move(model)) {
  for (auto& block : model_->h) {
    if (!block->moe) continue;
    saved_.push_back(block->moe->routing.use_capacity);
    block->moe->routing.use_capacity = on && saved_.back();
  }
}

CapacityScope::~CapacityScope() {
  size_t i = 0;
  for (auto& block : model_->h)
    if (block->moe) block->moe->routing.use_capacity = saved_[i++];
}

std::string nanogpt_key(const std::string& key) {
  // h0.attn -> transformer.h.0.attn, as nn.ModuleDict and nn.ModuleList name them
  if (key.size() > 1 && key[0] == 'h' && std::isdigit(static_cast<unsigned char>(key[1])))
    return "transformer.h." + key.substr(1);
  return "transformer." + key;
}

}  // namespace moewb
