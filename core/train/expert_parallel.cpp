#include "core/train/expert_parallel.h"

#include <numeric>
#include <set>
#include <string>

#include "core/train/training.h"

namespace moewb {

ExpertParallel::ExpertParallel(const GPT& model, TrainingOptimizer& optimizer, std::shared_ptr<Collective> group)
    : group_(std::move(group)), optimizer_(optimizer) {
  const int W = group_->world_size(), rank = group_->rank();
  check_expert_split(model->config, W);
  experts_per_rank_ = model->config.n_experts / W;
  const auto tokens = group_->channel("experts");
  std::set<c10::TensorImpl*> sharded_params;
  torch::NoGradGuard no_grad;
  for (const auto& block : model->h) {
    if (!block->moe) continue;  // a dense layer
    auto& moe = *block->moe.ptr();
    moe.expert_group = tokens;
    moe.first_local = rank * experts_per_rank_;
    moe.n_local = experts_per_rank_;
    for (auto& [param, dim] : moe.expert_blocks()) {
      const int64_t per_expert = param.size(dim) / moe.n_experts;
      Shard s{param, dim, per_expert * moe.first_local, per_expert * experts_per_rank_, param.size(dim)};
      for (auto& t : with_moments(s)) keep_part(t, s);
      shards_.push_back(s);
      sharded_params.insert(param.unsafeGetTensorImpl());
    }
  }
  for (const auto& p : model->parameters())
    if (!sharded_params.count(p.unsafeGetTensorImpl())) replicated_.push_back(p);
}

std::vector<torch::Tensor> ExpertParallel::sharded() const {
  std::vector<torch::Tensor> out;
  for (const auto& s : shards_) out.push_back(s.param);
  return out;
}

std::vector<torch::Tensor> ExpertParallel::with_moments(const Shard& s) const {
  std::vector<torch::Tensor> out{s.param};
  for (auto& m : optimizer_.moments_of(s.param)) out.push_back(m);
  return out;
}

// The parameter (or moment) keeps its identity -- the optimizer's state is keyed by it -- and only its part.
void ExpertParallel::keep_part(torch::Tensor t, const Shard& s) {
  torch::NoGradGuard no_grad;
  if (t.size(s.dim) == s.whole) t.set_(t.narrow(s.dim, s.start, s.length).clone());
}

void ExpertParallel::finish_gradients() {
  torch::NoGradGuard no_grad;
  const double share = 1.0 / group_->world_size();
  for (auto& s : shards_) {
    auto& grad = s.param.mutable_grad();
    if (grad.defined())
      grad.mul_(share);
    else
      grad = torch::zeros_like(s.param);
  }
}

ExpertParallel::Whole::Whole(ExpertParallel& owner) : owner_(owner) {
  torch::NoGradGuard no_grad;
  owner_.optimizer_.create_saved_state();  // on every rank: each gathers as many tensors as the others
  Collective& group = *owner_.group_;
  const int W = group.world_size();
  const bool writer = group.rank() == 0;
  for (const auto& s : owner_.shards_)
    for (auto& t : owner_.with_moments(s)) {
      // each rank's part goes to rank 0 alone, the expert dimension first so that the parts arrive in expert
      // order (in float32 for bfloat16, which Gloo lacks)
      const auto wire = t.scalar_type() == torch::kBFloat16 ? torch::kFloat32 : t.scalar_type();
      const auto part = t.transpose(0, s.dim).to(wire).contiguous();
      std::vector<int64_t> send(W, 0), recv(W, writer ? s.length : 0);
      send[0] = s.length;
      auto shape = part.sizes().vec();
      shape[0] = writer ? s.whole : 0;
      auto whole = torch::empty(shape, part.options());
      group.all_to_all(whole, part, recv, send);
      if (writer) t.set_(whole.transpose(0, s.dim).to(t.scalar_type()).contiguous());
    }
}

ExpertParallel::Whole::~Whole() {
  for (const auto& s : owner_.shards_)
    for (auto& t : owner_.with_moments(s)) keep_part(t, s);
}

}  // namespace moewb
