// Routers and the MoE feed-forward layer. Shapes: S tokens (B*T flattened), N experts, K slots per token.
#include "core/model/moe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "core/distributed/exchange_rows.h"
#include "core/model/grouped_experts.h"
#include "core/model/moe_timing.h"
#include "core/model/precision.h"
#include "core/model/randomness.h"

// at::_grouped_mm (LibTorch 2.8+) takes all experts in one call.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 8)
#define MOEWB_GROUPED_MM 1
#endif

namespace moewb {

namespace F = torch::nn::functional;

RoutingOptions RoutingOptions::of(const Config& c) {
  RoutingOptions o;
  static_cast<RouterSettings&>(o) = c;
  o.n_experts = c.n_experts;
  return o;
}

torch::Tensor count_per_expert(const torch::Tensor& experts, int64_t bins) {
  return torch::zeros({bins}, experts.options().dtype(torch::kInt64))
      .scatter_add_(0, experts.reshape({-1}), torch::ones({experts.numel()}, experts.options().dtype(torch::kInt64)));
}

int64_t expert_capacity(double capacity_factor, int top_k, int64_t tokens, int n_experts) {
  return static_cast<int64_t>(std::ceil(capacity_factor * top_k * static_cast<double>(tokens) / n_experts));
}

torch::Tensor capacity_keep(const torch::Tensor& experts, const torch::Tensor& priority, int n_experts,
                            int64_t capacity, DropPolicy policy) {
  return experts.device().is_cpu() ? capacity_keep_on_host(experts, priority, n_experts, capacity, policy)
                                   : capacity_keep_as_tensors(experts, priority, n_experts, capacity, policy);
}

torch::Tensor capacity_keep_on_host(const torch::Tensor& experts_in, const torch::Tensor& priority, int n_experts,
                                    int64_t capacity, DropPolicy policy) {
  const auto experts = experts_in.to(torch::kInt64).contiguous();
  const int64_t S = experts.size(0), K = experts.size(1);
  const int64_t* expert = experts.data_ptr<int64_t>();
  // slot-major: j = k * S + s, all first choices in token order, then all second choices
  std::vector<int64_t> order(static_cast<size_t>(K * S));
  std::iota(order.begin(), order.end(), 0);
  const auto at = [S, K](int64_t j) { return (j % S) * K + j / S; };  // j's index in the (S, K) tensors
  if (policy == DropPolicy::probability) {
    const auto p = priority.to(torch::kFloat32).contiguous();
    const float* prob = p.data_ptr<float>();
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return prob[at(a)] > prob[at(b)]; });
  }
  auto keep = torch::empty({S, K}, torch::kBool);
  bool* kept = keep.data_ptr<bool>();
  std::vector<int64_t> taken(static_cast<size_t>(n_experts), 0);
  for (int64_t j : order) kept[at(j)] = taken[static_cast<size_t>(expert[at(j)])]++ < capacity;
  return keep;
}

torch::Tensor capacity_keep_as_tensors(const torch::Tensor& experts, const torch::Tensor& priority, int n_experts,
                                       int64_t capacity, DropPolicy policy) {
  const int64_t S = experts.size(0), K = experts.size(1);
  auto long_opts = experts.options().dtype(torch::kInt64);
  // rank of each assignment in the global priority order, flattened slot-major: (K, S) -> K*S
  torch::Tensor rank;
  if (policy == DropPolicy::probability) {
    auto order = priority.t().reshape({-1}).argsort(/*dim=*/0, /*descending=*/true);
    rank = torch::empty_like(order).scatter_(0, order, torch::arange(K * S, long_opts));
  } else {
    rank = torch::arange(K * S, long_opts);
  }
  auto flat_experts = experts.t().reshape({-1});                  // (K*S)
  auto key = flat_experts * (K * S) + rank;                       // sort by expert, then priority
  auto order = key.argsort();
  auto counts = count_per_expert(flat_experts, n_experts);        // (N)
  auto starts = counts.cumsum(0) - counts;
  auto sorted_experts = flat_experts.index_select(0, order);
  auto position_sorted = torch::arange(K * S, long_opts) - starts.index_select(0, sorted_experts);
  auto position = torch::empty_like(position_sorted).scatter_(0, order, position_sorted);
  return (position < capacity).reshape({K, S}).t();               // (S, K)
}

torch::Tensor straight_through_gate(const torch::Tensor& gates, double tau) {
  auto mask = (gates > tau).to(gates.dtype());
  return gates * (mask + gates - gates.detach());
}

namespace {
constexpr int64_t kKnuth = 2654435761LL;  // Knuth's multiplicative constant, 2^32 / golden ratio
}

torch::Tensor hash_experts(const torch::Tensor& token_ids, int n_experts) {
  return torch::remainder(torch::remainder((token_ids + 1) * kKnuth, int64_t{1} << 32), n_experts);
}

int64_t hash_expert(int64_t token_id, int n_experts) {
  return (token_id + 1) * kKnuth % (int64_t{1} << 32) % n_experts;  // ids are non-negative: % is remainder
}

namespace {

// Every token to one expert with weight 1 (an intervention): one slot, or in softmax mode the one-hot mixture.
RouterOutput forced_route(const torch::Tensor& logits, const torch::Tensor& token_ids, const RoutingOptions& opt) {
  RouterOutput r;
  const int N = opt.n_experts;
  const torch::Tensor& like = logits.defined() ? logits : token_ids;  // hash routing has no logits
  const int64_t S = logits.defined() ? logits.size(0) : token_ids.numel();
  const auto longs = like.options().dtype(torch::kInt64);
  r.logits = logits;
  r.probs = torch::zeros({S, N}, like.options().dtype(torch::kFloat32))
                .index_fill_(1, torch::tensor({opt.forced_expert}, longs), 1.0);
  if (opt.routing == RoutingMode::softmax) {
    r.experts = torch::arange(N, longs).expand({S, N});
    r.weights = r.probs;
  } else {
    r.experts = torch::full({S, 1}, opt.forced_expert, longs);
    r.weights = torch::ones({S, 1}, r.probs.options());
  }
  r.kept = torch::ones_like(r.experts, torch::kBool);
  r.dropped = torch::zeros_like(r.kept);
  r.aux_loss = torch::zeros({}, r.probs.options());
  return r;
}

}  // namespace

RouterOutput route(const torch::Tensor& logits_in, const torch::Tensor& token_ids, const RoutingOptions& opt) {
  if (opt.forced_expert >= 0) return forced_route(logits_in, token_ids, opt);
  RouterOutput r;
  const int N = opt.n_experts;
  if (opt.routing == RoutingMode::hash) {
    r.experts = hash_experts(token_ids, N).unsqueeze(1);                       // (S, 1)
    r.probs = torch::zeros({r.experts.size(0), N}, token_ids.options().dtype(torch::kFloat32))
                  .scatter_(1, r.experts, 1.0);
    r.weights = torch::ones_like(r.experts, torch::kFloat32);
    r.kept = torch::ones_like(r.experts, torch::kBool);
    if (opt.disabled_expert >= 0) {  // its tokens go without an expert (not a capacity drop)
      r.kept = r.experts != opt.disabled_expert;
      r.weights = r.kept.to(torch::kFloat32);
    }
    r.dropped = torch::zeros_like(r.kept);
    r.aux_loss = torch::zeros({}, r.probs.options());
    return r;
  }
  // a disabled expert's logit is -inf: softmax renormalises over the rest, top-k never picks it, its gate closes
  const torch::Tensor logits =
      opt.disabled_expert >= 0
          ? logits_in.index_fill(1, torch::tensor({opt.disabled_expert}, logits_in.options().dtype(torch::kInt64)),
                                 -std::numeric_limits<float>::infinity())
          : logits_in;
  r.logits = logits;
  const int64_t S = logits.size(0);
  auto aux = torch::zeros({}, logits.options());
  if (opt.z_beta > 0) aux = aux + opt.z_beta * logits.logsumexp(-1).pow(2).mean();

  auto all_experts = [&] { return torch::arange(N, logits.options().dtype(torch::kInt64)).expand({S, N}); };
  if (opt.routing == RoutingMode::sigmoid) {
    auto gates = torch::sigmoid(logits);
    r.probs = gates;
    r.experts = all_experts();
    r.weights = straight_through_gate(gates, opt.sigmoid_tau);
    r.kept = gates > opt.sigmoid_tau;
    if (opt.sparsity_lambda > 0) aux = aux + opt.sparsity_lambda * gates.mean();
  } else {
    auto probs = torch::softmax(logits, -1);
    r.probs = probs;
    if (opt.routing == RoutingMode::softmax) {
      r.experts = all_experts();
      r.weights = probs;
      r.kept = torch::ones({S, N}, logits.options().dtype(torch::kBool));
    } else {
      auto [top_p, top_i] = probs.topk(opt.top_k, -1);
      r.experts = top_i;
      r.weights = opt.renormalize ? top_p / top_p.sum(-1, true) : top_p;
      r.kept = torch::ones_like(top_i, torch::kBool);
      const int64_t C = expert_capacity(opt.capacity_factor, opt.top_k, S, N);
      // the k experts of a token are distinct, so no expert can receive more than S assignments
      if (opt.use_capacity && C < S) {
        r.kept = capacity_keep(top_i, top_p.detach(), N, C, opt.drop_policy);
        r.dropped = ~r.kept;
        r.weights = r.weights * r.kept.to(r.weights.dtype());
      }
    }
  }
  if (!r.dropped.defined()) r.dropped = torch::zeros_like(r.kept);
  if (opt.aux_alpha > 0) {
    // f_i: share of the router's assignments (before drops); P_i: mean probability
    // sigmoid's slot e is expert e: its count is the active column sum
    auto chosen = opt.routing == RoutingMode::sigmoid ? r.kept.sum(0) : count_per_expert(r.experts, N);
    chosen = chosen.to(r.probs.dtype());
    auto f = chosen / chosen.sum().clamp_min(1.0);
    aux = aux + opt.aux_alpha * N * (f.detach() * r.probs.mean(0)).sum();
  }
  r.aux_loss = aux;
  return r;
}

torch::Tensor row_linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (x.dim() != 2 || x.size(0) != 1) return F::linear(x, weight, bias);
  auto y = at::mv(weight, x.view({-1})).view({1, -1});
  return bias.defined() ? y + bias : y;
}

// ---------------------------------------------------------------------------------------------------
MoEFeedForwardImpl::MoEFeedForwardImpl(const Config& c, int n_layer_for_init)
    : routing(RoutingOptions::of(c)),
      shape(c.expert_shape),
      n_experts(c.n_experts),
      hidden(c.expert_shape == ExpertShape::mlp ? c.expert_hidden_units() : c.n_embd),
      jitter(c.router_jitter),
      dropout_p(c.dropout),
      n_local(c.n_experts) {
  const int d = c.n_embd;
  if (routing.routing != RoutingMode::hash)
    router = register_module("router", torch::nn::Linear(torch::nn::LinearOptions(d, n_experts).bias(false)));
  const int fc_out = n_experts * hidden;
  const int proj_in = shape == ExpertShape::mlp ? n_experts * hidden : d;
  c_fc = register_module("c_fc", torch::nn::Linear(torch::nn::LinearOptions(d, fc_out).bias(c.bias)));
  c_proj = register_module("c_proj", torch::nn::Linear(torch::nn::LinearOptions(proj_in, d).bias(c.bias)));
  for (auto& p : parameters()) {
    torch::NoGradGuard no_grad;
    if (p.dim() == 2) normal_init(p, 0.02);
    else p.zero_();
  }
  normal_init(c_proj->weight, 0.02 / std::sqrt(2.0 * n_layer_for_init));
}

torch::Tensor MoEFeedForwardImpl::expert_output(const torch::Tensor& x, int64_t e) {
  const auto& b = c_fc->bias;
  auto w1 = c_fc->weight.narrow(0, e * hidden, hidden);
  auto b1 = b.defined() ? b.narrow(0, e * hidden, hidden) : torch::Tensor();
  if (shape == ExpertShape::linear) return row_linear(x, w1, b1);
  auto h = F::gelu(row_linear(x, w1, b1));
  return row_linear(h, c_proj->weight.narrow(1, e * hidden, hidden));
}

std::vector<std::pair<torch::Tensor, int64_t>> MoEFeedForwardImpl::expert_blocks() {
  std::vector<std::pair<torch::Tensor, int64_t>> blocks{{c_fc->weight, 0}};
  if (c_fc->bias.defined()) blocks.emplace_back(c_fc->bias, 0);
  if (shape == ExpertShape::mlp) blocks.emplace_back(c_proj->weight, 1);  // linear: c_proj is shared
  return blocks;
}

std::pair<torch::Tensor, torch::Tensor> MoEFeedForwardImpl::by_expert(const RouterOutput& r) const {
  const auto key = r.experts.reshape({-1}).masked_fill(r.kept.reshape({-1}).logical_not(), n_experts);
  return {key, std::get<1>(key.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false))};
}

torch::Tensor MoEFeedForwardImpl::dispatch(const torch::Tensor& x, const RouterOutput& r) {
  if (expert_group) return dispatch_across_ranks(x, r);
  const int64_t S = x.size(0), K = r.experts.size(1), d = x.size(1);
  if (routing.routing == RoutingMode::softmax) {
    // every expert sees every token: one matmul over all hidden units, each expert's block scaled by p_e
    MoePhaseTimer timer(MoePhase::experts, x.device());
    auto h = row_linear(x, c_fc->weight, c_fc->bias);
    if (shape == ExpertShape::mlp && grouped_experts_serve(h)) return scaled_gelu(h, r.weights);
    h = h.view({S, n_experts, hidden});
    const auto w = r.weights.unsqueeze(-1).to(h.scalar_type());  // bf16 experts stay bf16 (half the traffic)
    if (shape == ExpertShape::mlp) return F::gelu(h).mul(w).view({S, n_experts * hidden});
    return h.mul(w).sum(1);
  }
  if (S == 1) return x.is_cuda() ? decode_gathered(x, r) : decode_walk(x, r);
  // plain top-k and hash keep every assignment (unless an expert is disabled): no refused rows to mask
  const bool may_refuse = routing.routing == RoutingMode::sigmoid || routing.use_capacity || routing.disabled_expert >= 0;
  if (grouped_experts_serve(x)) {
    const auto rows = [&] {
      MoePhaseTimer timer(MoePhase::group, x.device());
      return ExpertRows::group(r.experts, may_refuse ? r.kept : torch::Tensor(), n_experts);
    }();
    return grouped_experts(x, r.weights, c_fc->weight, c_fc->bias,
                           shape == ExpertShape::mlp ? c_proj->weight : torch::Tensor(), rows);
  }
  // Every index below is a permutation, so no gradient is accumulated with atomics. On the CPU the refused
  // tail is cut off (reading its length is free there); on CUDA it stays, to keep the host out.
  std::optional<MoePhaseTimer> timer(std::in_place, MoePhase::group, x.device());
  auto [key, order] = by_expert(r);
  if (!x.is_cuda()) order = order.narrow(0, 0, r.kept.sum().item<int64_t>());
  const auto sorted_experts = key.index_select(0, order);
  torch::Tensor xs;
  if (x.is_cuda()) {
    // gathered in the matmul dtype (half the bytes of the fp32 residual stream), through a copy per slot so
    // that the gradient is a sum, not atomics
    const auto xg = x.to(matmul_dtype(x));
    xs = xg.unsqueeze(1).expand({S, K, d}).reshape({S * K, d}).index_select(0, order);
  } else {
    xs = x.index_select(0, order.div(K, "floor"));  // CPU index_add_ (its backward) is deterministic
  }
  timer.emplace(MoePhase::experts, x.device());
  auto ys = run_experts(xs, sorted_experts, may_refuse);
  if (x.is_cuda() && may_refuse) ys = ys.masked_fill((sorted_experts == n_experts).unsqueeze(1), 0);
  timer.emplace(MoePhase::combine, x.device());
  const auto y = torch::zeros({S * K, ys.size(1)}, ys.options()).index_copy(0, order, ys).view({S, K, ys.size(1)});
  // (S, 1, K) x (S, K, width): the weighted slot sum in one batched product, in the experts' dtype
  if (x.is_cuda()) return at::bmm(r.weights.unsqueeze(1).to(y.scalar_type()), y).squeeze(1);
  return y.mul(r.weights.unsqueeze(-1)).sum(1);
}

torch::Tensor MoEFeedForwardImpl::dispatch_across_ranks(const torch::Tensor& x, const RouterOutput& r) {
  const int64_t S = x.size(0), K = r.experts.size(1);
  const int W = expert_group->world_size();
  if (routing.routing == RoutingMode::topk && routing.use_capacity) {
    const int64_t C = expert_capacity(routing.capacity_factor, routing.top_k, S, n_experts);
    if (C < S) return dispatch_in_capacity_slots(x, r, C);  // the capacity binds (as route decided)
  }
  // this rank's assignments by expert, so by the rank holding it; refused ones cut off
  auto [key, order] = by_expert(r);
  const auto counts = count_per_expert(key, n_experts + 1).to(torch::kCPU);  // sizes the exchange: read anyway
  const auto to_experts = counts.narrow(0, 0, n_experts).contiguous();     // (W * n_local), rank-major
  order = order.narrow(0, 0, to_experts.sum().item<int64_t>());
  // how many rows each rank sends to each expert held here
  auto from_ranks = torch::empty_like(to_experts);
  expert_group->all_to_all(from_ranks, to_experts, std::vector<int64_t>(W, n_local), std::vector<int64_t>(W, n_local));
  auto rows_per_rank = [&](const torch::Tensor& per_expert) {
    const auto sums = per_expert.view({W, n_local}).sum(1);
    return std::vector<int64_t>(sums.data_ptr<int64_t>(), sums.data_ptr<int64_t>() + W);
  };
  const auto send = rows_per_rank(to_experts), recv = rows_per_rank(from_ranks);
  const auto arrived = exchange_rows(x.index_select(0, order.div(K, "floor")), send, recv, expert_group);
  // the arrivals come by source rank, then expert: grouped by expert (a permutation, stable) for the GEMMs
  const auto local = torch::arange(n_local, torch::kInt64).repeat({W}).repeat_interleave(from_ranks).to(x.device());
  const auto grouping = std::get<1>(local.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  auto ys = run_experts(arrived.index_select(0, grouping), local.index_select(0, grouping), false);
  // A rank whose experts received nothing still joins both exchanges on the way back (they are collectives):
  // its part of the graph must not vanish just because no weight was used.
  if (arrived.requires_grad() && !ys.requires_grad()) ys = ys + arrived.sum() * 0;
  ys = torch::zeros_like(ys).index_copy(0, grouping, ys);  // back in arrival order
  const auto returned = exchange_rows(ys, recv, send, expert_group);  // this rank's rows, in `order`
  const auto y = torch::zeros({S * K, returned.size(1)}, returned.options()).index_copy(0, order, returned);
  return y.view({S, K, returned.size(1)}).mul(r.weights.unsqueeze(-1)).sum(1);
}

torch::Tensor MoEFeedForwardImpl::dispatch_in_capacity_slots(const torch::Tensor& x, const RouterOutput& r,
                                                              int64_t C) {
  const int64_t S = x.size(0), K = r.experts.size(1), slots = n_experts * C;
  const int W = expert_group->world_size();
  const auto longs = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  const auto [key, order] = by_expert(r);
  const auto sorted = key.index_select(0, order);
  const auto counts = count_per_expert(key, n_experts + 1);  // at most C per expert: capacity_keep saw to it
  const auto starts = counts.cumsum(0) - counts;             // each expert's first position in `sorted`
  // slot e*C + j holds the j-th assignment of expert e, if it has one: gathered, so the gradient is a gather too
  const auto slot_expert = torch::arange(n_experts, longs).repeat_interleave(C);
  const auto within = torch::arange(C, longs).repeat({n_experts});
  const auto filled = within < counts.index_select(0, slot_expert);
  const auto position = (starts.index_select(0, slot_expert) + within).clamp_max(S * K - 1);
  const auto rows = x.index_select(0, order.index_select(0, position).div(K, "floor"))
                        .masked_fill(filled.logical_not().unsqueeze(1), 0);
  const std::vector<int64_t> each(W, n_local * C);
  const auto arrived = exchange_rows(rows, each, each, expert_group);  // (source, local expert, slot)
  const int64_t d = arrived.size(1);
  const auto grouped = arrived.view({W, n_local, C, d}).transpose(0, 1).reshape({n_local * W * C, d});
  const auto local = torch::arange(n_local, longs).repeat_interleave(W * C);
  const auto ys = run_experts(grouped, local, false);  // empty slots too: their outputs are never read
  const int64_t width = ys.size(1);
  const auto back = ys.view({n_local, W, C, width}).transpose(0, 1).reshape({W * n_local * C, width});
  const auto returned = exchange_rows(back, each, each, expert_group);  // this rank's slots, (expert, slot)
  // each assignment reads its slot; a refused one reads a zero row past the end
  const auto slot_sorted = (sorted * C + torch::arange(S * K, longs) - starts.index_select(0, sorted))
                               .masked_fill(sorted == n_experts, slots);
  const auto inverse = torch::empty_like(order).index_copy(0, order, torch::arange(S * K, longs));
  const auto padded = torch::cat({returned, torch::zeros({1, width}, returned.options())});
  const auto y = padded.index_select(0, slot_sorted.index_select(0, inverse)).view({S, K, width});
  return y.mul(r.weights.unsqueeze(-1)).sum(1);
}

torch::Tensor MoEFeedForwardImpl::run_experts(const torch::Tensor& xs, const torch::Tensor& sorted_experts,
                                              bool may_refuse) {
  const int64_t rows = xs.size(0), d = xs.size(1);
  const auto counts = count_per_expert(sorted_experts, n_local + 1);  // the last bin: refused
  const auto& b1 = c_fc->bias;
#ifdef MOEWB_GROUPED_MM
  // One grouped GEMM per projection over all experts, sized on the device: no host read, cost independent
  // of N. Rows past the last group (refused) are left unwritten by the kernel, so they are zeroed on the way
  // in (their gradient too) and masked on the way out. The weights go in as transposed views, not copies.
  // (rows > 0: an expert-parallel rank may receive none, a case the kernel was never given)
  if (xs.is_cuda() && rows > 0 && matmul_dtype(xs) == at::kBFloat16 && hidden % 8 == 0 && d % 8 == 0) {
    const auto ends = counts.narrow(0, 0, n_local).cumsum(0).to(torch::kInt32);  // the end row of each group
    torch::Tensor refused;
    auto a = xs.to(at::kBFloat16);
    if (may_refuse) refused = (sorted_experts == n_local).unsqueeze(1), a = a.masked_fill(refused, 0);
    const auto w1 = c_fc->weight.to(at::kBFloat16).view({n_local, hidden, d}).transpose(1, 2);  // (N, d, h)
    auto h = at::_grouped_mm(a, w1, ends);  // (rows, hidden)
    if (b1.defined()) h = h + b1.view({n_local, hidden}).index_select(0, sorted_experts.clamp_max(n_local - 1));
    if (shape == ExpertShape::linear) return h;
    h = F::gelu(h);
    if (may_refuse) h = h.masked_fill(refused, 0);
    const auto w2 = c_proj->weight.to(at::kBFloat16).view({d, n_local, hidden}).permute({1, 2, 0});  // (N, h, d)
    return at::_grouped_mm(h, w2, ends);  // (rows, d)
  }
#endif
  // one small GEMM pair per expert, sized from host counts (free on the CPU; one device read elsewhere)
  const auto host = counts.to(torch::kCPU);
  const auto n = host.accessor<int64_t, 1>();
  std::vector<torch::Tensor> outputs;
  int64_t offset = 0;
  for (int64_t e = 0; e < n_local; ++e) {
    if (n[e] > 0) outputs.push_back(expert_output(xs.narrow(0, offset, n[e]), e));
    offset += n[e];
  }
  const int64_t width = shape == ExpertShape::linear ? d : c_proj->weight.size(0);
  if (offset < rows || outputs.empty()) {  // refused rows, or none arrived (expert parallelism)
    const auto dtype = outputs.empty() ? xs.scalar_type() : outputs[0].scalar_type();
    outputs.push_back(torch::zeros({rows - offset, width}, xs.options().dtype(dtype)));
  }
  return torch::cat(outputs);
}

torch::Tensor MoEFeedForwardImpl::decode_walk(const torch::Tensor& x, const RouterOutput& r) {
  const auto experts_cpu = r.experts.to(torch::kCPU), kept_cpu = r.kept.to(torch::kCPU);
  const auto experts = experts_cpu.accessor<int64_t, 2>();
  const auto kept = kept_cpu.accessor<bool, 2>();
  torch::Tensor out;
  for (int64_t s = 0; s < r.experts.size(1); ++s) {
    if (!kept[0][s]) continue;
    auto y = expert_output(x, experts[0][s]) * r.weights.narrow(1, s, 1);
    out = out.defined() ? out + y : y;
  }
  return out.defined() ? out : torch::zeros({1, x.size(1)}, x.options());
}

torch::Tensor MoEFeedForwardImpl::decode_gathered(const torch::Tensor& x, const RouterOutput& r) {
  const int64_t K = r.experts.size(1), d = x.size(1);
  const auto e = r.experts.view({K});
  const auto col = x.view({1, d, 1}).expand({K, d, 1});
  auto h = at::bmm(c_fc->weight.view({n_experts, hidden, d}).index_select(0, e), col);  // (K, hidden, 1)
  if (c_fc->bias.defined()) h = h + c_fc->bias.view({n_experts, hidden}).index_select(0, e).unsqueeze(-1);
  const auto w = r.weights.masked_fill(r.kept.logical_not(), 0).view({K, 1, 1});
  if (shape == ExpertShape::linear) return (h * w).sum(0).view({1, d});
  const auto w2 = c_proj->weight.view({d, n_experts, hidden}).index_select(1, e).permute({1, 0, 2});  // (K, d, h)
  return (at::bmm(w2, F::gelu(h)) * w).sum(0).view({1, d});
}

torch::Tensor MoEFeedForwardImpl::forward(const torch::Tensor& x, const torch::Tensor& token_ids,
                                          std::vector<RouterOutput>* capture) {
  const auto B = x.size(0), T = x.size(1), d = x.size(2);
  auto flat = x.reshape({B * T, d});
  std::optional<MoePhaseTimer> timer(std::in_place, MoePhase::route, x.device());
  torch::Tensor logits;
  if (router) {
    auto router_in = flat;
    if (is_training() && jitter > 0) {
      auto noise = torch::empty_like(flat).uniform_(1.0 - jitter, 1.0 + jitter, generator_for(flat.device()));
      router_in = flat * noise;
    }
    logits = router_in.size(0) > 1 && grouped_experts_serve(router_in) &&
                     router_in.scalar_type() == router->weight.scalar_type()
                 ? router_logits(router_in, router->weight)
                 : row_linear(router_in, router->weight);
    logits = logits.to(torch::kFloat32);  // probabilities stay fp32
  }
  RouterOutput r = route(logits, token_ids.reshape({-1}), routing);
  timer.reset();
  // fp32 combine weights promote bf16 expert outputs: back to the residual stream's dtype (bf16 in a bf16 model)
  auto mixed = dispatch(flat, r).to(flat.scalar_type());
  torch::Tensor y;
  if (routing.routing == RoutingMode::softmax && shape == ExpertShape::mlp && !expert_group) {
    y = row_linear(mixed, c_proj->weight, c_proj->bias);
  } else if (shape == ExpertShape::linear) {
    y = row_linear(F::gelu(mixed), c_proj->weight, c_proj->bias);
  } else {
    y = c_proj->bias.defined() ? mixed + c_proj->bias : mixed;
  }
  if (capture) capture->push_back(r);
  y = y.view({B, T, d}).to(x.scalar_type());
  return is_training() ? dropout(y, dropout_p) : y;
}

}  // namespace moewb
