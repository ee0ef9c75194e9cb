#include "core/train/optimizer.h"

#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

// at::_fused_adamw_ arrived in LibTorch 2.1; it is used on CUDA only, where it replaces ~10 kernels per tensor.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define MOEWB_FUSED_ADAMW 1
#endif

namespace moewb {

namespace {
constexpr double kInitialScale = 65536.0;  // PyTorch GradScaler's defaults
constexpr int kGrowthInterval = 2000;

// torch::optim keys a parameter's state by its TensorImpl: as text in LibTorch 1.x, as the pointer in 2.x.
template <typename Map>
typename Map::key_type state_key(const Map&, const torch::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream text;  // what c10::guts::to_string wrote
    text << p.unsafeGetTensorImpl();
    return text.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}
}  // namespace

TrainingOptimizer::TrainingOptimizer(const GPT& model, const Config& c, Precision precision,
                                     const torch::Device& device)
    : config_(c), precision_(precision), device_(device), lr_(c.learning_rate) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto options = [&](double wd) {
    return torch::optim::AdamWOptions(c.learning_rate).betas({c.beta1, c.beta2}).weight_decay(wd);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options(c.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(options(0.0)));
  adamw_ = std::make_unique<torch::optim::AdamW>(groups, options(0.0));
#ifdef MOEWB_FUSED_ADAMW
  fused_ = device.is_cuda();
#endif
  auto on_device = torch::TensorOptions().device(device);
  step_count_ = torch::zeros({}, on_device.dtype(torch::kFloat32));
  if (precision == Precision::fp16) {
    scale_ = torch::full({}, kInitialScale, on_device.dtype(torch::kFloat32));
    growth_tracker_ = torch::zeros({}, on_device.dtype(torch::kInt32));
    found_inf_ = torch::zeros({}, on_device.dtype(torch::kFloat32));
  }
}

void TrainingOptimizer::set_lr(double lr) {
  lr_ = lr;
  for (auto& group : adamw_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

void TrainingOptimizer::zero_grad() { adamw_->zero_grad(); }

std::vector<torch::Tensor> TrainingOptimizer::grads() const {
  std::vector<torch::Tensor> out;
  for (const auto& group : adamw_->param_groups())
    for (const auto& p : group.params())
      if (p.grad().defined()) out.push_back(p.grad());
  return out;
}

void TrainingOptimizer::backward(const torch::Tensor& loss, const std::function<void()>& gradients_ready) {
  if (precision_ == Precision::fp16) {
    (loss * scale_).backward();
    if (gradients_ready) gradients_ready();  // every rank's scale is the same: scaled gradients average
    found_inf_.zero_();
    at::_amp_foreach_non_finite_check_and_unscale_(grads(), found_inf_, scale_.reciprocal());
    if (group_) {  // an overflow in another rank's experts skips the step everywhere
      auto any = found_inf_.to(torch::kCPU);
      group_->sum(any);
      found_inf_.copy_(any.clamp_max(1.0));
    }
  } else {
    loss.backward();
    if (gradients_ready) gradients_ready();
  }
  if (config_.grad_clip <= 0) return;
  // clip_grad_norm_ without its host read: the coefficient stays a device scalar, exactly 1 below the limit
  const auto g = grads();
  std::vector<torch::Tensor> norms;
#ifdef MOEWB_FUSED_ADAMW
  if (fused_) norms = at::_foreach_norm(g, 2);  // one launch instead of one per tensor
#endif
  if (norms.empty())
    for (const auto& t : g) norms.push_back(t.norm(2));
  auto total = torch::stack(norms).norm(2).to(torch::kFloat64);
  if (group_) {
    // the replicated gradients count once, every rank's experts once each
    std::vector<torch::Tensor> mine;
    for (const auto& p : sharded_) mine.push_back(p.grad().norm(2).to(torch::kFloat64));
    const auto own = torch::stack(mine).pow(2).sum();
    auto experts = own.to(torch::kCPU).reshape({1}).clone();  // summed in place: never a view of `own`
    group_->sum(experts);
    total = (total.pow(2) - own + experts.to(total.device()).squeeze()).clamp_min(0).sqrt();
  }
  const auto coef = (torch::full_like(total, config_.grad_clip) / (total + 1e-6)).clamp_max(1.0);
#ifdef MOEWB_FUSED_ADAMW
  if (fused_) {
    at::_foreach_mul_(g, coef.to(torch::kFloat32));
    return;
  }
#endif
  for (auto t : g) t.mul_(coef);
}

void TrainingOptimizer::set_sharded(std::vector<torch::Tensor> sharded, std::shared_ptr<Collective> group) {
  sharded_ = std::move(sharded);
  group_ = std::move(group);
}

void TrainingOptimizer::ensure_state() {
  auto& state = adamw_->state();
  for (const auto& group : adamw_->param_groups())
    for (const auto& p : group.params()) {
      auto& slot = state[state_key(state, p)];
      if (slot) continue;
      auto s = std::make_unique<torch::optim::AdamWParamState>();
      s->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
      s->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
      slot = std::move(s);
    }
}

void TrainingOptimizer::step() {
#ifdef MOEWB_FUSED_ADAMW
  if (fused_) {
    torch::NoGradGuard no_grad;
    ensure_state();
    step_count_.add_(1);
    auto& state = adamw_->state();
    for (const auto& group : adamw_->param_groups()) {
      const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
      std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
      for (const auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        auto& s = static_cast<torch::optim::AdamWParamState&>(*state[state_key(state, p)]);
        params.push_back(p);
        grads.push_back(p.grad());
        exp_avgs.push_back(s.exp_avg());
        exp_avg_sqs.push_back(s.exp_avg_sq());
        steps.push_back(step_count_);  // read-only in the kernel: one counter serves every tensor
      }
      if (params.empty()) continue;
      std::optional<at::Tensor> found_inf;
      if (found_inf_.defined()) found_inf = found_inf_;
      at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, {}, steps, lr_, std::get<0>(o.betas()),
                        std::get<1>(o.betas()), o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false,
                        /*grad_scale=*/std::nullopt, found_inf);
    }
    if (found_inf_.defined()) {
      step_count_.sub_(found_inf_);  // a skipped step does not count (as torch.optim does)
      at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, 2.0, 0.5, kGrowthInterval);
    }
    return;
  }
#endif
  if (found_inf_.defined()) {
    const bool overflow = found_inf_.item<double>() > 0;
    at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, 2.0, 0.5, kGrowthInterval);
    if (overflow) return;
  }
  adamw_->step();
}

void TrainingOptimizer::create_saved_state() {
  if (fused_) ensure_state();
}

void TrainingOptimizer::save(torch::serialize::OutputArchive& archive) {
  if (fused_) {
    ensure_state();
    const auto steps = static_cast<int64_t>(step_count_.item<double>());
    for (auto& [key, s] : adamw_->state()) static_cast<torch::optim::AdamWParamState&>(*s).step(steps);
  }
  adamw_->save(archive);
}

std::vector<torch::Tensor> TrainingOptimizer::moments() const {
  std::vector<torch::Tensor> out;
  for (const auto& group : adamw_->param_groups())
    for (const auto& p : group.params())
      for (auto& m : moments_of(p)) out.push_back(m);
  return out;
}

std::vector<torch::Tensor> TrainingOptimizer::moments_of(const torch::Tensor& p) const {
  const auto& state = adamw_->state();
  const auto it = state.find(state_key(state, p));
  if (it == state.end() || !it->second) return {};
  const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
  return {s.exp_avg(), s.exp_avg_sq()};
}

void TrainingOptimizer::load(torch::serialize::InputArchive& archive) {
  adamw_->load(archive);
  // the archive was read onto the CPU; the moments must sit with their parameters (a CUDA run's resume)
  auto& state = adamw_->state();
  int64_t steps = 0;
  for (const auto& group : adamw_->param_groups())
    for (const auto& p : group.params()) {
      auto it = state.find(state_key(state, p));
      if (it == state.end() || !it->second) continue;
      auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
      if (!s.exp_avg().defined() || s.exp_avg().sizes() != p.sizes() || s.exp_avg_sq().sizes() != p.sizes())
        throw std::runtime_error("the optimizer state does not match the model's parameters");
      s.exp_avg(s.exp_avg().to(p.device(), p.scalar_type()));
      s.exp_avg_sq(s.exp_avg_sq().to(p.device(), p.scalar_type()));
      if (s.max_exp_avg_sq().defined()) s.max_exp_avg_sq(s.max_exp_avg_sq().to(p.device(), p.scalar_type()));
      steps = s.step();
    }
  step_count_.fill_(static_cast<double>(steps));
}

}  // namespace moewb
