#include "core/distributed/gradient_sync.h"

#include <unordered_set>

namespace moewb {

GradientSync::GradientSync(const std::vector<torch::Tensor>& parameters, std::shared_ptr<Collective> group,
                           int64_t bucket_bytes)
    : group_(std::move(group)) {
  // a tied weight (token embedding and output head) is one tensor listed twice: synchronise it once
  std::unordered_set<const void*> unique;
  for (const auto& p : parameters)
    if (p.requires_grad() && unique.insert(p.unsafeGetTensorImpl()).second) params_.push_back(p);
  bucket_of_.assign(params_.size(), -1);
  seen_.assign(params_.size(), 0);
  std::vector<std::vector<int>> groups(1);
  int64_t bytes = 0;
  for (int i = static_cast<int>(params_.size()) - 1; i >= 0; --i) {
    const int64_t size = params_[i].numel() * params_[i].element_size();
    if (!groups.back().empty() && bytes + size > bucket_bytes) groups.emplace_back(), bytes = 0;
    groups.back().push_back(i);
    bytes += size;
  }
  for (const auto& members : groups) {
    Bucket b;
    int64_t numel = 0;
    for (int i : members) b.offsets.push_back(numel), numel += params_[i].numel();
    b.members = members;
    b.flat = torch::zeros({numel}, params_[members.front()].options().requires_grad(false));
    for (int i : members) bucket_of_[i] = static_cast<int>(buckets_.size());
    buckets_.push_back(std::move(b));
  }
  for (size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(params_[i].register_hook([this, i](torch::Tensor grad) {
      if (armed_) on_gradient(static_cast<int>(i), grad);
      return torch::Tensor();  // the gradient itself is unchanged
    }));
}

GradientSync::~GradientSync() {
  for (size_t i = 0; i < params_.size(); ++i) params_[i].remove_hook(hooks_[i]);
  // a failed step may leave collectives in flight: their buffers must outlive them
  for (auto& b : buckets_)
    if (b.pending) try {
        b.pending->wait();
      } catch (const std::exception&) {
      }
}

void GradientSync::arm() {
  armed_ = true;
  next_to_start_ = 0;
  std::fill(seen_.begin(), seen_.end(), 0);
  for (auto& b : buckets_) b.ready = 0, b.flat.zero_();
}

void GradientSync::on_gradient(int parameter, const torch::Tensor& grad) {
  if (seen_[parameter]) return;
  seen_[parameter] = 1;
  Bucket& b = buckets_[bucket_of_[parameter]];
  const auto at = std::find(b.members.begin(), b.members.end(), parameter) - b.members.begin();
  {
    torch::NoGradGuard no_grad;
    b.flat.narrow(0, b.offsets[at], grad.numel()).copy_(grad.reshape({-1}));
  }
  ++b.ready;
  start_ready_buckets();
}

void GradientSync::start_ready_buckets() {
  while (next_to_start_ < buckets_.size() &&
         buckets_[next_to_start_].ready == static_cast<int>(buckets_[next_to_start_].members.size()))
    start(buckets_[next_to_start_++]);
}

void GradientSync::start(Bucket& b) { b.pending = group_->start_sum(b.flat); }

void GradientSync::finish() {
  armed_ = false;
  // the rest, in the same fixed order on every rank; unused parameters stay zero in their bucket
  while (next_to_start_ < buckets_.size()) start(buckets_[next_to_start_++]);
  torch::NoGradGuard no_grad;
  const double scale = 1.0 / group_->world_size();
  for (auto& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
    b.flat.mul_(scale);
    for (size_t k = 0; k < b.members.size(); ++k) {
      auto& p = params_[b.members[k]];
      auto mean = b.flat.narrow(0, b.offsets[k], p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(mean);
      else
        p.mutable_grad() = mean.clone();
    }
  }
}

}  // namespace moewb
