#include "core/train/expert_surgery.h"

#include <algorithm>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "core/base/numbers.h"
#include "core/inference/inference_impl.h"
#include "core/model/randomness.h"

namespace moewb {

namespace {

// A model of `config` on `like`'s device and precision, holding `model` (eval mode).
InferenceModel wrap(const InferenceModel::Impl& like, const Config& config, GPT model) {
  auto impl = std::make_shared<InferenceModel::Impl>();
  impl->config = config;
  impl->vocab = like.vocab;
  impl->device = like.device;
  impl->precision = like.precision;
  model->to(like.device);
  model->eval();
  impl->model = model;
  return InferenceModel(impl);
}

// Copies every parameter of `from` whose name and shape `to` also has; returns the names copied.
void copy_matching(const GPT& from, const GPT& to) {
  torch::NoGradGuard no_grad;
  const auto source = from->named_parameters();
  for (auto& p : to->named_parameters()) {
    const torch::Tensor* s = source.find(p.key());
    if (s && s->sizes() == p.value().sizes()) p.value().copy_(*s);
  }
}

// A fresh model whose initialisation draws from its own seeded generator (never the process's default).
GPT build(const Config& config, int vocab_size) {
  ScopedRandomSource source(at::detail::createCPUGenerator(static_cast<uint64_t>(config.seed)));
  return GPT(config, vocab_size);
}

torch::Tensor expert_rows(const torch::Tensor& kept, int64_t block) {
  return (kept.unsqueeze(1) * block + torch::arange(block, kept.options())).reshape({-1});
}

// Hidden units grouped by the direction of their input weights: balanced k-means (every group gets exactly
// rows/groups units) on unit-length rows, starting from the contiguous split and assigning greedily by cosine.
std::vector<int64_t> balanced_clusters(const torch::Tensor& weights, int groups) {
  const auto rows = torch::nn::functional::normalize(weights.to(torch::kCPU, torch::kFloat32),
                                                     torch::nn::functional::NormalizeFuncOptions().dim(1));
  const int64_t n = rows.size(0), size = n / groups;
  std::vector<int> group(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) group[static_cast<size_t>(i)] = static_cast<int>(i / size);
  for (int iteration = 0; iteration < 20; ++iteration) {
    auto centroids = torch::zeros({groups, rows.size(1)});
    const auto index = torch::tensor(std::vector<int64_t>(group.begin(), group.end()));
    centroids.index_add_(0, index, rows);
    centroids = torch::nn::functional::normalize(centroids, torch::nn::functional::NormalizeFuncOptions().dim(1));
    const auto similarity = rows.matmul(centroids.t()).contiguous();  // (n, groups)
    const auto order = std::get<1>(similarity.reshape({-1}).sort(/*stable=*/true, 0, /*descending=*/true));
    const auto o = order.accessor<int64_t, 1>();
    std::vector<int> next(static_cast<size_t>(n), -1);
    std::vector<int64_t> filled(static_cast<size_t>(groups), 0);
    for (int64_t k = 0; k < o.size(0); ++k) {
      const int64_t unit = o[k] / groups, g = o[k] % groups;
      if (next[static_cast<size_t>(unit)] >= 0 || filled[static_cast<size_t>(g)] == size) continue;
      next[static_cast<size_t>(unit)] = static_cast<int>(g), ++filled[static_cast<size_t>(g)];
    }
    if (next == group) break;
    group = next;
  }
  std::vector<int64_t> permutation(static_cast<size_t>(n));
  std::iota(permutation.begin(), permutation.end(), 0);
  std::stable_sort(permutation.begin(), permutation.end(),
                   [&](int64_t a, int64_t b) { return group[static_cast<size_t>(a)] < group[static_cast<size_t>(b)]; });
  return permutation;
}

}  // namespace

std::vector<std::vector<double>> routing_shares(const InferenceModel& model, const std::string& text,
                                                const TraceProgress& progress) {
  const Config& c = model.config();
  if (!c.is_moe()) return {};
  const bool mass = c.routing == RoutingMode::softmax;
  std::vector<std::vector<double>> share(static_cast<size_t>(c.n_layer), std::vector<double>(c.n_experts, 0.0));
  const std::u32string chars = decode_utf8(text);
  const size_t slice = static_cast<size_t>(c.block_size) * static_cast<size_t>(std::max(1, c.batch_size)) * 16;
  for (size_t begin = 0; begin < chars.size(); begin += slice) {
    const RoutingTrace trace = model.trace(encode_utf8(chars.substr(begin, slice)));
    for (size_t l = 0; l < trace.layers.size(); ++l) {
      const LayerTrace& layer = trace.layers[l];
      auto& sums = share[l];
      for (int t = 0; t < layer.length(); ++t) {
        if (mass) {
          for (int e = 0; e < layer.n_experts; ++e) sums[static_cast<size_t>(e)] += layer.prob(t, e);
          continue;
        }
        for (int s = 0; s < layer.slots; ++s)
          if (const int e = layer.chosen_at(t, s); e >= 0) sums[static_cast<size_t>(e)] += 1;
      }
    }
    if (progress)
      progress(static_cast<int64_t>(std::min(chars.size(), begin + slice)), static_cast<int64_t>(chars.size()));
  }
  for (auto& per : share) {
    const double total = std::accumulate(per.begin(), per.end(), 0.0);
    for (double& v : per) v = total > 0 ? v / total : 0;
  }
  return share;
}

std::vector<std::vector<double>> knockout_loss_deltas(const InferenceModel& model, const TextDataset& data, int batches,
                                                      uint64_t seed, const std::function<void(int, int)>& progress) {
  const Config& c = model.config();
  if (!c.is_moe()) throw std::invalid_argument("a dense model has no experts to knock out");
  const double base = model.loss(data, true, batches, seed);
  std::vector<std::vector<double>> delta(static_cast<size_t>(c.n_layer), std::vector<double>(c.n_experts, 0.0));
  const int total = c.n_layer * c.n_experts;
  for (int l = 0; l < c.n_layer; ++l)
    for (int e = 0; e < c.n_experts; ++e) {
      const bool only = c.routing == RoutingMode::softmax && c.n_experts == 1;
      if (!only) delta[l][e] = model.intervened(Intervention{l, e, -1}).loss(data, true, batches, seed) - base;
      if (progress) progress(l * c.n_experts + e + 1, total);
    }
  return delta;
}

void check_prunable(const Config& config, const PruneRequest& request) {
  if (!config.is_moe()) throw std::invalid_argument("a dense model has no experts to prune (upcycle it instead)");
  if (config.routing == RoutingMode::hash)
    throw std::invalid_argument(
        "hash routing sends each character to expert id mod N: removing an expert would "
        "reassign every character, so only learned routers can be pruned");
  if ((request.min_share >= 0) == (request.remove > 0))
    throw std::invalid_argument(
        "prune either the experts below a share (--min-share) or a number per layer (--remove)");
  if (request.min_share >= 1) throw std::invalid_argument("--min-share must be below 1");
  if (request.remove >= config.n_experts)
    throw std::invalid_argument("removing " + std::to_string(request.remove) + " of " +
                                std::to_string(config.n_experts) +
                                " experts per layer leaves none; at least one must stay");
}

PrunePlan plan_pruning(const Config& config, const std::vector<std::vector<double>>& share, const PruneRequest& request,
                       const std::vector<std::vector<double>>& loss_delta) {
  check_prunable(config, request);
  const int N = config.n_experts, L = config.n_layer;
  if (static_cast<int>(share.size()) != L)
    throw std::invalid_argument("the shares cover " + std::to_string(share.size()) + " layers, the model has " +
                                std::to_string(L));
  const bool by_loss = request.ranking == PruneRanking::loss;
  if (by_loss && static_cast<int>(loss_delta.size()) != L)
    throw std::invalid_argument("ranking by loss needs each expert's knockout loss delta");

  PrunePlan plan;
  plan.share = share;
  if (by_loss) plan.loss_delta = loss_delta;
  int count = request.remove;
  std::vector<std::vector<int>> below(static_cast<size_t>(L));
  if (request.min_share >= 0) {
    for (int l = 0; l < L; ++l)
      for (int e = 0; e < N; ++e)
        if (share[l][static_cast<size_t>(e)] < request.min_share) below[l].push_back(e);
    count = 0;
    for (const auto& b : below) count = std::max(count, static_cast<int>(b.size()));
    if (count == 0) {
      double lowest = 1;
      int at_l = 0, at_e = 0;
      for (int l = 0; l < L; ++l)
        for (int e = 0; e < N; ++e)
          if (share[l][static_cast<size_t>(e)] < lowest) lowest = share[l][static_cast<size_t>(e)], at_l = l, at_e = e;
      throw std::invalid_argument("no expert is below a share of " + format_double(request.min_share, 4) +
                                  " (the least used: layer " + std::to_string(at_l) + " E" + std::to_string(at_e) +
                                  " at " + format_double(lowest, 4) + ")");
    }
    plan.rule = "share < " + format_double(request.min_share, 4) + ", then ";
  }
  if (count >= N)
    throw std::invalid_argument("removing " + std::to_string(count) + " of " + std::to_string(N) +
                                " experts per layer leaves none; at least one must stay");
  plan.rule += by_loss ? "lowest knockout loss delta" : "lowest share";
  for (int l = 0; l < L; ++l) {
    // the experts below the threshold go first, then the lowest ranked
    std::vector<int> order(static_cast<size_t>(N));
    std::iota(order.begin(), order.end(), 0);
    const auto& rank = by_loss ? loss_delta[l] : share[l];
    auto is_below = [&](int e) { return std::find(below[l].begin(), below[l].end(), e) != below[l].end(); };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      if (is_below(a) != is_below(b)) return is_below(a);
      return rank[static_cast<size_t>(a)] < rank[static_cast<size_t>(b)];
    });
    std::vector<int> removed(order.begin(), order.begin() + count);
    std::sort(removed.begin(), removed.end());
    if (request.min_share >= 0 && static_cast<int>(below[l].size()) < count) {
      std::ostringstream note;
      note << "layer " << l << ": " << below[l].size() << " below the threshold; also removing";
      for (int e : removed)
        if (!is_below(e)) note << " E" << e << " (share " << format_double(share[l][static_cast<size_t>(e)], 3) << ")";
      note << " so that every layer keeps " << N - count << " experts";
      plan.notes.push_back(note.str());
    }
    plan.removed.push_back(removed);
  }
  return plan;
}

InferenceModel prune_experts(const InferenceModel& model, const std::vector<std::vector<int>>& removed) {
  const InferenceModel::Impl& m = model.impl();
  const Config& c = m.config;
  if (!c.is_moe()) throw std::invalid_argument("a dense model has no experts to prune");
  if (static_cast<int>(removed.size()) != c.n_layer)
    throw std::invalid_argument("the pruning names " + std::to_string(removed.size()) + " layers, the model has " +
                                std::to_string(c.n_layer));
  const size_t count = removed.front().size();
  Config pruned = c;
  pruned.n_experts = c.n_experts - static_cast<int>(count);
  if (pruned.n_experts < 1) throw std::invalid_argument("pruning would leave no expert");
  if (c.expert_shape == ExpertShape::mlp) pruned.expert_hidden = c.expert_hidden_units();
  if (c.routing == RoutingMode::topk) pruned.top_k = std::min(c.top_k, pruned.n_experts);
  GPT out = build(pruned, m.vocab.size());
  copy_matching(m.model, out);
  torch::NoGradGuard no_grad;
  for (int l = 0; l < c.n_layer; ++l) {
    const auto& gone = removed[static_cast<size_t>(l)];
    if (gone.size() != count) throw std::invalid_argument("every layer must lose the same number of experts");
    std::vector<int64_t> keep;
    for (int e = 0; e < c.n_experts; ++e)
      if (std::find(gone.begin(), gone.end(), e) == gone.end()) keep.push_back(e);
    if (keep.size() + count != static_cast<size_t>(c.n_experts))
      throw std::invalid_argument("layer " + std::to_string(l) + ": an expert to remove does not exist or repeats");
    const auto& from = m.model->h[static_cast<size_t>(l)]->moe;
    auto& to = out->h[static_cast<size_t>(l)]->moe;
    const auto kept = torch::tensor(keep, torch::TensorOptions(torch::kInt64).device(m.device));
    const auto rows = expert_rows(kept, from->hidden);  // each expert's block of c_fc rows
    if (from->router) to->router->weight.copy_(from->router->weight.index_select(0, kept));
    to->c_fc->weight.copy_(from->c_fc->weight.index_select(0, rows));
    if (from->c_fc->bias.defined()) to->c_fc->bias.copy_(from->c_fc->bias.index_select(0, rows));
    if (c.expert_shape == ExpertShape::mlp) to->c_proj->weight.copy_(from->c_proj->weight.index_select(1, rows));
    // linear experts share c_proj (d x d after the combine), copied with the other shared weights
  }
  return wrap(m, pruned, out);
}

InferenceModel upcycle(const InferenceModel& dense, const Config& moe, UpcycleMethod method) {
  const InferenceModel::Impl& m = dense.impl();
  const Config& c = m.config;
  if (c.is_moe()) throw std::invalid_argument("upcycling starts from a dense model; this one already has experts");
  Config out_config = c;  // the dense model's shape and training settings, the MoE's routing
  static_cast<RouterSettings&>(out_config) = moe;
  out_config.n_experts = moe.n_experts, out_config.seed = moe.seed;
  out_config.ffn = Ffn::moe;
  out_config.expert_shape = ExpertShape::mlp;
  const int N = out_config.n_experts, d = c.n_embd;
  if (method == UpcycleMethod::partition && (4 * d) % N != 0)
    throw std::invalid_argument("partition splits the 4d = " + std::to_string(4 * d) +
                                " hidden units evenly: n_experts must divide it");
  out_config.expert_hidden = method == UpcycleMethod::partition ? 0 : 4 * d;
  if (auto errors = validate(out_config); !errors.empty()) throw std::invalid_argument(describe(errors));

  GPT out = build(out_config, m.vocab.size());
  copy_matching(m.model, out);
  torch::NoGradGuard no_grad;
  for (int l = 0; l < c.n_layer; ++l) {
    const auto& mlp = m.model->h[static_cast<size_t>(l)]->mlp;
    auto& layer = out->h[static_cast<size_t>(l)]->moe;
    const auto& w1 = mlp->c_fc->weight;    // (4d, d)
    const auto& w2 = mlp->c_proj->weight;  // (d, 4d)
    if (mlp->c_proj->bias.defined()) layer->c_proj->bias.copy_(mlp->c_proj->bias);
    if (method == UpcycleMethod::copy) {
      layer->c_fc->weight.copy_(w1.repeat({N, 1}));
      if (mlp->c_fc->bias.defined()) layer->c_fc->bias.copy_(mlp->c_fc->bias.repeat({N}));
      layer->c_proj->weight.copy_(w2.repeat({1, N}));
      continue;  // the router keeps its random start: identical experts, told apart by the router alone
    }
    const auto order = torch::tensor(balanced_clusters(w1, N), torch::TensorOptions(torch::kInt64).device(m.device));
    layer->c_fc->weight.copy_(w1.index_select(0, order));
    if (mlp->c_fc->bias.defined()) layer->c_fc->bias.copy_(mlp->c_fc->bias.index_select(0, order));
    layer->c_proj->weight.copy_(w2.index_select(1, order));
    if (layer->router) layer->router->weight.copy_(layer->c_fc->weight.view({N, 4 * d / N, d}).mean(1));
  }
  return wrap(m, out_config, out);
}

}  // namespace moewb
