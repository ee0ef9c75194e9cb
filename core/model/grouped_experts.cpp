// Shapes: S tokens, K slots per token, N experts of h hidden units, R kept assignments (grouped rows), d width.
#include "core/model/grouped_experts.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/model/blas.h"
#include "core/model/moe_timing.h"
#include "core/model/precision.h"

namespace moewb {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

ExpertRows ExpertRows::group(const Tensor& experts, const Tensor& kept, int n_experts) {
  TORCH_CHECK(experts.device().is_cpu() && experts.dim() == 2, "ExpertRows::group: experts (S, K) on the CPU");
  const auto e = experts.to(torch::kInt64).contiguous();
  const Tensor keep = kept.defined() ? kept.to(torch::kBool).contiguous() : Tensor();
  const int64_t slots = e.numel();
  const int64_t* expert = e.data_ptr<int64_t>();
  const bool* is_kept = keep.defined() ? keep.data_ptr<bool>() : nullptr;
  ExpertRows g;
  g.slots_per_token = e.size(1);
  g.counts.assign(static_cast<size_t>(n_experts), 0);
  for (int64_t j = 0; j < slots; ++j)
    if (!is_kept || is_kept[j]) ++g.counts[static_cast<size_t>(expert[j])];
  std::vector<int64_t> next(static_cast<size_t>(n_experts), 0);  // each expert's next free row
  int64_t rows = 0;
  for (int i = 0; i < n_experts; ++i) next[static_cast<size_t>(i)] = rows, rows += g.counts[static_cast<size_t>(i)];
  g.token = torch::empty({rows}, torch::kInt64);
  g.row_of_slot = torch::empty({slots}, torch::kInt64);
  int64_t* token = g.token.data_ptr<int64_t>();
  int64_t* row_of_slot = g.row_of_slot.data_ptr<int64_t>();
  for (int64_t j = 0; j < slots; ++j) {  // in slot order: stable within an expert
    if (is_kept && !is_kept[j]) {
      row_of_slot[j] = -1;
      continue;
    }
    const int64_t r = next[static_cast<size_t>(expert[j])]++;
    token[r] = j / g.slots_per_token;
    row_of_slot[j] = r;
  }
  return g;
}

bool grouped_experts_serve(const Tensor& x) {
  const auto t = x.scalar_type();
  return x.device().is_cpu() && (t == torch::kFloat || t == torch::kDouble) && matmul_dtype(x) == t;
}

namespace {

// The experts spread over the threads, whole: the largest first, each to the thread with the fewest rows so far,
// so the threads stay balanced when the router loads the experts unevenly. Each product runs single-threaded
// (BLAS starts no threads of its own within a parallel region). At cpu-quick's top-2 this takes 0.8x the time of
// splitting every expert's rows between the threads (each thread then streams every expert's weights), and
// about 0.6x the time of one expert after another with BLAS threading each product. fn(expert, first row, rows).
template <typename F>
void for_each_expert(const std::vector<int64_t>& counts, const F& fn) {
  const auto experts = static_cast<int64_t>(counts.size());
  std::vector<int64_t> offsets(counts.size() + 1, 0), by_size(counts.size());
  for (size_t e = 0; e < counts.size(); ++e) offsets[e + 1] = offsets[e] + counts[e], by_size[e] = static_cast<int64_t>(e);
  std::stable_sort(by_size.begin(), by_size.end(), [&](int64_t a, int64_t b) { return counts[a] > counts[b]; });
  const auto threads = static_cast<size_t>(std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), experts)));
  std::vector<std::vector<int64_t>> share(threads);
  std::vector<int64_t> load(threads, 0);
  for (int64_t e : by_size) {
    const auto t = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    share[t].push_back(e);
    load[t] += counts[static_cast<size_t>(e)];
  }
  at::parallel_for(0, static_cast<int64_t>(threads), 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      for (int64_t e : share[static_cast<size_t>(t)]) fn(e, offsets[static_cast<size_t>(e)], counts[static_cast<size_t>(e)]);
  });
}

// Rows of (n x width) buffers in parallel; each row written by exactly one thread.
template <typename F>
void for_each_row(int64_t n, int64_t width, const F& fn) {
  at::parallel_for(0, n, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

template <typename T>
Tensor gather_rows(const Tensor& src, const Tensor& token) {
  const int64_t rows = token.numel(), width = src.size(1);
  Tensor out = torch::empty({rows, width}, src.options());
  const T* from = src.data_ptr<T>();
  T* to = out.data_ptr<T>();
  const int64_t* tok = token.data_ptr<int64_t>();
  for_each_row(rows, width, [&](int64_t r) { std::memcpy(to + r * width, from + tok[r] * width, width * sizeof(T)); });
  return out;
}

// out[s] = sum over kept k of weight[s, k] * rows[row_of_slot[s*K + k]], in slot order.
template <typename T>
Tensor combine(const Tensor& rows, const Tensor& weights, const Tensor& row_of_slot, int64_t S, int64_t K) {
  const int64_t width = rows.size(1);
  Tensor out = torch::empty({S, width}, rows.options());
  const T* y = rows.data_ptr<T>();
  const T* w = weights.data_ptr<T>();
  const int64_t* slot_row = row_of_slot.data_ptr<int64_t>();
  T* o = out.data_ptr<T>();
  for_each_row(S, width, [&](int64_t s) {
    T* dst = o + s * width;
    std::fill(dst, dst + width, T(0));
    for (int64_t k = 0; k < K; ++k) {
      const int64_t r = slot_row[s * K + k];
      if (r < 0) continue;
      const T scale = w[s * K + k];
      const T* src = y + r * width;
      for (int64_t i = 0; i < width; ++i) dst[i] += scale * src[i];
    }
  });
  return out;
}

struct GroupedExpertsFunction : torch::autograd::Function<GroupedExpertsFunction> {
  // b1 and w2 are optional rather than undefined tensors: LibTorch records every tensor argument as an input
  static Tensor forward(AutogradContext* ctx, const Tensor& x_in, const Tensor& weights_in, const Tensor& w1_in,
                        const c10::optional<Tensor>& b1, const c10::optional<Tensor>& w2_in, const ExpertRows& g) {
    const auto x = x_in.contiguous(), weights = weights_in.contiguous(), w1 = w1_in.contiguous();
    const auto w2 = w2_in ? w2_in->contiguous() : Tensor();
    const Tensor b1_in = b1 ? b1->contiguous() : Tensor();
    const int64_t S = x.size(0), d = x.size(1), K = g.slots_per_token, R = g.rows();
    const auto N = static_cast<int64_t>(g.counts.size());
    const int64_t h = w1.size(0) / N;
    Tensor hidden = torch::empty({R, h}, x.options()), out_rows;
    std::optional<MoePhaseTimer> timer(std::in_place, MoePhase::experts, x.device());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "grouped_experts_forward", [&] {
      const Tensor xs = gather_rows<scalar_t>(x, g.token);
      const scalar_t *X = xs.data_ptr<scalar_t>(), *W1 = w1.data_ptr<scalar_t>();
      scalar_t* H = hidden.data_ptr<scalar_t>();
      const scalar_t* B1 = b1_in.defined() ? b1_in.data_ptr<scalar_t>() : nullptr;
      for_each_expert(g.counts, [&](int64_t e, int64_t at, int64_t n) {
        if (n == 0) return;
        if (B1)
          for (int64_t r = at; r < at + n; ++r) std::memcpy(H + r * h, B1 + e * h, h * sizeof(scalar_t));
        blas::gemm(false, true, n, h, d, X + at * d, d, W1 + e * h * d, d, B1 ? 1 : 0, H + at * h, h);
      });
      if (!w2.defined()) {
        out_rows = hidden;
        return;
      }
      const Tensor act = at::gelu(hidden);  // recomputed by the backward pass rather than kept
      out_rows = torch::empty({R, d}, x.options());
      const scalar_t *A = act.data_ptr<scalar_t>(), *W2 = w2.data_ptr<scalar_t>();
      scalar_t* Y = out_rows.data_ptr<scalar_t>();
      for_each_expert(g.counts, [&](int64_t e, int64_t at, int64_t n) {
        if (n > 0) blas::gemm(false, true, n, d, h, A + at * h, h, W2 + e * h, N * h, 0, Y + at * d, d);
      });
    });
    timer.emplace(MoePhase::combine, x.device());
    Tensor out;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "grouped_experts_combine",
                               [&] { out = combine<scalar_t>(out_rows, weights, g.row_of_slot, S, K); });
    // the rows' outputs only serve the gradient of the combine weights (none in hash routing)
    ctx->save_for_backward({x, weights, w1, w2, hidden, weights_in.requires_grad() ? out_rows : Tensor()});
    ctx->saved_data["token"] = g.token;
    ctx->saved_data["row_of_slot"] = g.row_of_slot;
    ctx->saved_data["counts"] = c10::IValue(c10::IntArrayRef(g.counts));
    ctx->saved_data["bias"] = b1_in.defined();
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    MoePhaseTimer timer(MoePhase::backward, torch::kCPU);
    const auto saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &weights = saved[1], &w1 = saved[2], &w2 = saved[3], &hidden = saved[4],
                 &out_rows = saved[5];
    const Tensor token = ctx->saved_data["token"].toTensor();
    const Tensor row_of_slot = ctx->saved_data["row_of_slot"].toTensor();
    const std::vector<int64_t> counts = ctx->saved_data["counts"].toIntVector();
    const bool bias = ctx->saved_data["bias"].toBool();
    const Tensor grad = grad_outputs[0].contiguous();  // (S, width)
    const int64_t S = x.size(0), d = x.size(1), K = weights.size(1), R = token.numel(), width = grad.size(1);
    const auto N = static_cast<int64_t>(counts.size());
    const int64_t h = w1.size(0) / N;
    Tensor grad_x, grad_weights, grad_w1, grad_b1, grad_w2;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "grouped_experts_backward", [&] {
      const scalar_t *G = grad.data_ptr<scalar_t>(), *w = weights.data_ptr<scalar_t>();
      const int64_t* slot_row = row_of_slot.data_ptr<int64_t>();
      // d weight[s, k] = <grad[s], output row of slot (s, k)>; a refused slot contributed nothing
      if (ctx->needs_input_grad(1)) {
        grad_weights = torch::zeros({S, K}, weights.options());
        scalar_t* gw = grad_weights.data_ptr<scalar_t>();
        const scalar_t* Y = out_rows.data_ptr<scalar_t>();
        for_each_row(S, width * K, [&](int64_t s) {
          for (int64_t k = 0; k < K; ++k) {
            const int64_t r = slot_row[s * K + k];
            if (r < 0) continue;
            scalar_t dot = 0;
            for (int64_t i = 0; i < width; ++i) dot += G[s * width + i] * Y[r * width + i];
            gw[s * K + k] = dot;
          }
        });
      }
      // each row's gradient: its token's, scaled by the row's combine weight
      Tensor grad_rows = torch::empty({R, width}, grad.options());
      scalar_t* GY = grad_rows.data_ptr<scalar_t>();
      for_each_row(S, width * K, [&](int64_t s) {
        for (int64_t k = 0; k < K; ++k) {
          const int64_t r = slot_row[s * K + k];
          if (r < 0) continue;
          const scalar_t scale = w[s * K + k];
          for (int64_t i = 0; i < width; ++i) GY[r * width + i] = scale * G[s * width + i];
        }
      });
      Tensor grad_hidden = grad_rows;
      if (w2.defined()) {
        const Tensor act = at::gelu(hidden);
        const scalar_t *A = act.data_ptr<scalar_t>(), *W2 = w2.data_ptr<scalar_t>();
        grad_w2 = torch::empty_like(w2);
        Tensor grad_act = torch::empty({R, h}, grad.options());
        scalar_t *GW2 = grad_w2.data_ptr<scalar_t>(), *GA = grad_act.data_ptr<scalar_t>();
        for_each_expert(counts, [&](int64_t e, int64_t at, int64_t n) {
          if (n == 0) {
            for (int64_t i = 0; i < d; ++i) std::fill_n(GW2 + i * N * h + e * h, h, scalar_t(0));
            return;
          }
          blas::gemm(true, false, d, h, n, GY + at * d, d, A + at * h, h, 0, GW2 + e * h, N * h);
          blas::gemm(false, false, n, h, d, GY + at * d, d, W2 + e * h, N * h, 0, GA + at * h, h);
        });
        grad_hidden = at::gelu_backward(grad_act, hidden);
      }
      const Tensor xs = gather_rows<scalar_t>(x, token);
      const scalar_t *X = xs.data_ptr<scalar_t>(), *W1 = w1.data_ptr<scalar_t>(), *GH = grad_hidden.data_ptr<scalar_t>();
      grad_w1 = torch::empty_like(w1);
      if (bias) grad_b1 = torch::zeros({N * h}, w1.options());
      Tensor grad_xs = torch::empty({R, d}, x.options());
      scalar_t *GW1 = grad_w1.data_ptr<scalar_t>(), *GX = grad_xs.data_ptr<scalar_t>();
      scalar_t* GB1 = bias ? grad_b1.data_ptr<scalar_t>() : nullptr;
      for_each_expert(counts, [&](int64_t e, int64_t at, int64_t n) {
        if (n == 0) {
          std::fill_n(GW1 + e * h * d, h * d, scalar_t(0));
          return;
        }
        blas::gemm(true, false, h, d, n, GH + at * h, h, X + at * d, d, 0, GW1 + e * h * d, d);
        blas::gemm(false, false, n, d, h, GH + at * h, h, W1 + e * h * d, d, 0, GX + at * d, d);
        if (GB1)
          for (int64_t r = at; r < at + n; ++r)
            for (int64_t j = 0; j < h; ++j) GB1[e * h + j] += GH[r * h + j];
      });
      // each token's gradient: the sum of its rows', in slot order
      grad_x = torch::empty({S, d}, x.options());
      scalar_t* GXT = grad_x.data_ptr<scalar_t>();
      for_each_row(S, d * K, [&](int64_t s) {
        scalar_t* dst = GXT + s * d;
        std::fill(dst, dst + d, scalar_t(0));
        for (int64_t k = 0; k < K; ++k) {
          const int64_t r = slot_row[s * K + k];
          if (r < 0) continue;
          for (int64_t i = 0; i < d; ++i) dst[i] += GX[r * d + i];
        }
      });
    });
    return {grad_x, grad_weights, grad_w1, grad_b1, grad_w2, Tensor()};
  }
};

struct ScaledGeluFunction : torch::autograd::Function<ScaledGeluFunction> {
  static Tensor forward(AutogradContext* ctx, const Tensor& h_in, const Tensor& weights_in) {
    const auto h = h_in.contiguous(), weights = weights_in.contiguous();
    Tensor out = at::gelu(h);
    const int64_t S = h.size(0), N = weights.size(1), block = h.size(1) / N;
    AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "scaled_gelu_forward", [&] {
      scalar_t* o = out.data_ptr<scalar_t>();
      const scalar_t* w = weights.data_ptr<scalar_t>();
      for_each_row(S, N * block, [&](int64_t s) {
        for (int64_t e = 0; e < N; ++e)
          for (int64_t j = 0; j < block; ++j) o[(s * N + e) * block + j] *= w[s * N + e];
      });
    });
    ctx->save_for_backward({h, weights});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    MoePhaseTimer timer(MoePhase::backward, torch::kCPU);
    const auto saved = ctx->get_saved_variables();
    const Tensor &h = saved[0], &weights = saved[1];
    const Tensor grad = grad_outputs[0].contiguous();
    const int64_t S = h.size(0), N = weights.size(1), block = h.size(1) / N;
    const Tensor act = at::gelu(h);
    Tensor grad_weights = torch::empty({S, N}, weights.options()), scaled = torch::empty_like(grad);
    AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "scaled_gelu_backward", [&] {
      const scalar_t *g = grad.data_ptr<scalar_t>(), *a = act.data_ptr<scalar_t>(), *w = weights.data_ptr<scalar_t>();
      scalar_t *gw = grad_weights.data_ptr<scalar_t>(), *gs = scaled.data_ptr<scalar_t>();
      for_each_row(S, N * block, [&](int64_t s) {
        for (int64_t e = 0; e < N; ++e) {
          const int64_t at = (s * N + e) * block;
          scalar_t dot = 0;
          for (int64_t j = 0; j < block; ++j) dot += g[at + j] * a[at + j], gs[at + j] = g[at + j] * w[s * N + e];
          gw[s * N + e] = dot;
        }
      });
    });
    return {at::gelu_backward(scaled, h), grad_weights};
  }
};

// fn(first, last) over [0, n) in blocks of `block`, spread over the threads. The blocks do not depend on the
// thread count, so neither do the results: BLAS may round a product of other sizes differently.
template <typename F>
void for_each_block(int64_t n, int64_t block, const F& fn) {
  at::parallel_for(0, (n + block - 1) / block, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) fn(b * block, std::min(n, (b + 1) * block));
  });
}

constexpr int64_t kRouterRows = 128, kRouterColumns = 32;  // blocks of the router's products

struct RouterLogitsFunction : torch::autograd::Function<RouterLogitsFunction> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x_in, const Tensor& w_in) {
    const auto x = x_in.contiguous(), w = w_in.contiguous();
    const int64_t S = x.size(0), d = x.size(1), N = w.size(0);
    Tensor z = torch::empty({S, N}, x.options());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "router_logits_forward", [&] {
      const scalar_t *X = x.data_ptr<scalar_t>(), *W = w.data_ptr<scalar_t>();
      scalar_t* Z = z.data_ptr<scalar_t>();
      for_each_block(S, kRouterRows, [&](int64_t r0, int64_t r1) {
        blas::gemm(false, true, r1 - r0, N, d, X + r0 * d, d, W, d, 0, Z + r0 * N, N);
      });
    });
    ctx->save_for_backward({x, w});
    return z;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &w = saved[1];
    const Tensor g = grad_outputs[0].contiguous();
    const int64_t S = x.size(0), d = x.size(1), N = w.size(0);
    Tensor grad_x = torch::empty_like(x), grad_w = torch::empty_like(w);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "router_logits_backward", [&] {
      const scalar_t *X = x.data_ptr<scalar_t>(), *W = w.data_ptr<scalar_t>(), *G = g.data_ptr<scalar_t>();
      scalar_t *GX = grad_x.data_ptr<scalar_t>(), *GW = grad_w.data_ptr<scalar_t>();
      for_each_block(S, kRouterRows, [&](int64_t r0, int64_t r1) {  // the input's gradient by rows
        blas::gemm(false, false, r1 - r0, d, N, G + r0 * N, N, W, d, 0, GX + r0 * d, d);
      });
      for_each_block(d, kRouterColumns, [&](int64_t c0, int64_t c1) {  // the weight's (a sum over rows) by columns
        blas::gemm(true, false, N, c1 - c0, S, G, N, X + c0, d, 0, GW + c0, d);
      });
    });
    return {grad_x, grad_w};
  }
};

}  // namespace

Tensor router_logits(const Tensor& x, const Tensor& w) {
  TORCH_CHECK(grouped_experts_serve(x) && w.scalar_type() == x.scalar_type(),
              "router_logits: float or double CPU tensors of one dtype without autocast");
  return RouterLogitsFunction::apply(x, w);
}

Tensor scaled_gelu(const Tensor& h, const Tensor& weights) {
  TORCH_CHECK(grouped_experts_serve(h), "scaled_gelu: float or double CPU tensors without autocast");
  return ScaledGeluFunction::apply(h, weights.to(h.scalar_type()));
}

Tensor grouped_experts(const Tensor& x, const Tensor& weights, const Tensor& w1, const Tensor& b1, const Tensor& w2,
                       const ExpertRows& rows) {
  TORCH_CHECK(grouped_experts_serve(x), "grouped_experts: float or double CPU tensors without autocast");
  auto optional = [](const Tensor& t) { return t.defined() ? c10::optional<Tensor>(t) : c10::nullopt; };
  return GroupedExpertsFunction::apply(x, weights.to(x.scalar_type()), w1, optional(b1), optional(w2), rows);
}

}  // namespace moewb
