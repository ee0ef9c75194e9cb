// Shapes: d width, nh heads of hs, L cached positions (this one included), N experts of h hidden units, V vocabulary.
#include "core/model/cpu_decoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "core/model/blas.h"
#include "core/model/precision.h"

namespace moewb {

namespace {

const float* data_of(const torch::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

float gelu(float v) { return 0.5f * v * (1.0f + std::erf(v * static_cast<float>(M_SQRT1_2))); }

void layer_norm(const float* x, int64_t d, const LayerNormImpl& ln, float* out) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < d; ++i) mean += x[i];
  mean /= static_cast<double>(d);
  for (int64_t i = 0; i < d; ++i) var += (x[i] - mean) * (x[i] - mean);
  const auto inv = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(d) + 1e-5));
  const float *w = data_of(ln.weight), *b = data_of(ln.bias);
  for (int64_t i = 0; i < d; ++i) out[i] = (x[i] - static_cast<float>(mean)) * inv * w[i] + (b ? b[i] : 0.0f);
}

// y (out) = W x + b for a Linear's weight (out, in); `accumulate` adds to y instead.
void linear(const torch::nn::Linear& l, const float* x, float* y, bool accumulate = false) {
  const auto& w = l->weight;
  blas::gemv(w.size(0), w.size(1), w.data_ptr<float>(), w.size(1), x, accumulate ? 1.0f : 0.0f, y);
  if (const float* b = data_of(l->bias))
    for (int64_t i = 0; i < w.size(0); ++i) y[i] += b[i];
}

void softmax_in_place(float* v, int64_t n) {
  const float top = *std::max_element(v, v + n);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (v[i] = std::exp(v[i] - top));
  for (int64_t i = 0; i < n; ++i) v[i] /= sum;
}

struct Slot {
  int64_t expert;
  float weight;
};

// The experts this token reaches and their combine weights, in slot order, decided as route() decides them for
// one token (capacity never binds on one token). Slots of weight 0 are left out: they add nothing.
std::vector<Slot> route_one(MoEFeedForwardImpl& moe, const float* x, int64_t token, std::vector<float>& z) {
  const RoutingOptions& o = moe.routing;
  const int N = moe.n_experts;
  if (o.forced_expert >= 0) return {{o.forced_expert, 1.0f}};  // softmax: the one-hot mixture is this expert
  if (o.routing == RoutingMode::hash) {
    const int64_t e = hash_expert(token, N);
    if (e == o.disabled_expert) return {};
    return {{e, 1.0f}};
  }
  z.resize(static_cast<size_t>(N));
  const auto& w = moe.router->weight;
  blas::gemv(N, w.size(1), w.data_ptr<float>(), w.size(1), x, 0.0f, z.data());
  if (o.disabled_expert >= 0) z[static_cast<size_t>(o.disabled_expert)] = -std::numeric_limits<float>::infinity();
  std::vector<Slot> slots;
  if (o.routing == RoutingMode::sigmoid) {
    for (int e = 0; e < N; ++e) {
      const float gate = 1.0f / (1.0f + std::exp(-z[static_cast<size_t>(e)]));
      if (gate > o.sigmoid_tau) slots.push_back({e, gate});
    }
    return slots;
  }
  softmax_in_place(z.data(), N);
  if (o.routing == RoutingMode::softmax) {
    for (int e = 0; e < N; ++e)
      if (z[static_cast<size_t>(e)] > 0) slots.push_back({e, z[static_cast<size_t>(e)]});
    return slots;
  }
  std::vector<int64_t> order(static_cast<size_t>(N));
  std::iota(order.begin(), order.end(), 0);
  const auto k = static_cast<size_t>(std::min(o.top_k, N));
  std::partial_sort(order.begin(), order.begin() + static_cast<long>(k), order.end(), [&](int64_t a, int64_t b) {
    return z[static_cast<size_t>(a)] > z[static_cast<size_t>(b)];
  });
  float total = 0;
  for (size_t s = 0; s < k; ++s) total += z[static_cast<size_t>(order[s])];
  for (size_t s = 0; s < k; ++s) {
    const float p = z[static_cast<size_t>(order[s])];
    if (p > 0) slots.push_back({order[s], o.renormalize ? p / total : p});
  }
  return slots;
}

// y = the MoE layer's output for normalised x (d).
void moe_layer(MoEFeedForwardImpl& moe, const float* x, int64_t token, int64_t d, float* y, std::vector<float>& z,
               std::vector<float>& hidden) {
  auto slots = route_one(moe, x, token, z);
  const int64_t h = moe.hidden, N = moe.n_experts;
  const float* w1 = moe.c_fc->weight.data_ptr<float>();
  const float* b1 = data_of(moe.c_fc->bias);
  hidden.resize(static_cast<size_t>(std::max(h, d)));
  float* u = hidden.data();
  if (moe.shape == ExpertShape::linear) {
    // the experts' d x d maps mixed, then GELU and the shared projection
    std::vector<float> mixed(static_cast<size_t>(d), 0.0f);
    for (const Slot& s : slots) {
      blas::gemv(h, d, w1 + s.expert * h * d, d, x, 0.0f, u);
      for (int64_t i = 0; i < h; ++i) mixed[static_cast<size_t>(i)] += s.weight * (u[i] + (b1 ? b1[s.expert * h + i] : 0));
    }
    for (auto& v : mixed) v = gelu(v);
    linear(moe.c_proj, mixed.data(), y);
    return;
  }
  std::fill(y, y + d, 0.0f);
  const float* w2 = moe.c_proj->weight.data_ptr<float>();  // (d, N*h): expert e's columns [e*h, (e+1)*h)
  if (moe.routing.routing == RoutingMode::softmax && moe.routing.forced_expert < 0) {
    // every expert: two products over all N*h hidden units, as the dense FFN makes, not 2N small ones
    hidden.resize(static_cast<size_t>(N * h));
    u = hidden.data();
    blas::gemv(N * h, d, w1, d, x, 0.0f, u);
    std::vector<float> weight(static_cast<size_t>(N), 0.0f);
    for (const Slot& s : slots) weight[static_cast<size_t>(s.expert)] = s.weight;
    for (int64_t i = 0; i < N * h; ++i) u[i] = weight[static_cast<size_t>(i / h)] * gelu(u[i] + (b1 ? b1[i] : 0));
    blas::gemv(d, N * h, w2, N * h, u, 0.0f, y);
    slots.clear();
  }
  for (const Slot& s : slots) {
    blas::gemv(h, d, w1 + s.expert * h * d, d, x, 0.0f, u);
    for (int64_t i = 0; i < h; ++i) u[i] = s.weight * gelu(u[i] + (b1 ? b1[s.expert * h + i] : 0));
    blas::gemv(d, h, w2 + s.expert * h, N * h, u, 1.0f, y);
  }
  if (const float* b2 = data_of(moe.c_proj->bias))
    for (int64_t i = 0; i < d; ++i) y[i] += b2[i];
}

}  // namespace

bool cpu_decode_serves(const GPTImpl& model) {
  const auto& w = model.wte->weight;
  return !model.is_training() && w.device().is_cpu() && w.scalar_type() == torch::kFloat &&
         matmul_dtype(w) == torch::kFloat;
}

torch::Tensor cpu_decode_one(GPTImpl& model, int64_t token, KVCache& cache) {
  const Config& c = model.config;
  const int64_t d = c.n_embd, nh = c.n_head, hs = d / nh, block = c.block_size, pos = cache.filled;
  TORCH_CHECK(pos < block, "cache of ", pos, " + 1 positions exceeds the context");
  if (cache.k.empty()) cache.k.resize(model.h.size()), cache.v.resize(model.h.size());
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  std::vector<float> x(static_cast<size_t>(d)), normed(static_cast<size_t>(d)), qkv(static_cast<size_t>(3 * d)),
      heads(static_cast<size_t>(d)), scores(static_cast<size_t>(pos + 1)), y(static_cast<size_t>(d)), z, hidden;
  const float *wte = model.wte->weight.data_ptr<float>(), *wpe = model.wpe->weight.data_ptr<float>();
  for (int64_t i = 0; i < d; ++i) x[static_cast<size_t>(i)] = wte[token * d + i] + wpe[pos * d + i];
  for (size_t l = 0; l < model.h.size(); ++l) {
    BlockImpl& block_l = *model.h[l];
    if (!cache.k[l].defined()) {
      cache.k[l] = torch::empty({1, nh, block, hs}, model.wte->weight.options());
      cache.v[l] = torch::empty({1, nh, block, hs}, model.wte->weight.options());
    }
    float *keys = cache.k[l].data_ptr<float>(), *values = cache.v[l].data_ptr<float>();  // (nh, block, hs)
    layer_norm(x.data(), d, *block_l.ln_1, normed.data());
    linear(block_l.attn->c_attn, normed.data(), qkv.data());
    for (int64_t head = 0; head < nh; ++head) {
      float* k_row = keys + (head * block + pos) * hs;
      float* v_row = values + (head * block + pos) * hs;
      std::copy_n(qkv.data() + d + head * hs, hs, k_row);
      std::copy_n(qkv.data() + 2 * d + head * hs, hs, v_row);
      // scores against the L cached keys, softmax, then the values' weighted sum
      const float* q = qkv.data() + head * hs;
      blas::gemv(pos + 1, hs, keys + head * block * hs, hs, q, 0.0f, scores.data());
      for (auto& s : scores) s *= scale;
      softmax_in_place(scores.data(), pos + 1);
      float* out = heads.data() + head * hs;
      std::fill(out, out + hs, 0.0f);
      for (int64_t t = 0; t <= pos; ++t) {
        const float p = scores[static_cast<size_t>(t)];
        const float* v = values + (head * block + t) * hs;
        for (int64_t j = 0; j < hs; ++j) out[j] += p * v[j];
      }
    }
    linear(block_l.attn->c_proj, heads.data(), x.data(), /*accumulate=*/true);
    layer_norm(x.data(), d, *block_l.ln_2, normed.data());
    if (block_l.moe) {
      moe_layer(*block_l.moe, normed.data(), token, d, y.data(), z, hidden);
      for (int64_t i = 0; i < d; ++i) x[static_cast<size_t>(i)] += y[static_cast<size_t>(i)];
    } else {
      const auto& fc = block_l.mlp->c_fc;
      hidden.resize(static_cast<size_t>(fc->weight.size(0)));
      linear(fc, normed.data(), hidden.data());
      for (auto& v : hidden) v = gelu(v);
      linear(block_l.mlp->c_proj, hidden.data(), x.data(), /*accumulate=*/true);
    }
  }
  layer_norm(x.data(), d, *model.ln_f, normed.data());
  auto logits = torch::empty({1, 1, model.vocab_size}, model.wte->weight.options());
  blas::gemv(model.vocab_size, d, wte, d, normed.data(), 0.0f, logits.data_ptr<float>());  // tied head
  cache.filled += 1;
  return logits;
}

}  // namespace moewb
