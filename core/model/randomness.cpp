#include "core/model/randomness.h"

namespace moewb {

namespace {
thread_local const at::Generator* installed = nullptr;
}

ScopedRandomSource::ScopedRandomSource(at::Generator cpu) : previous_(installed), cpu_(std::move(cpu)) {
  installed = &cpu_;
}

ScopedRandomSource::~ScopedRandomSource() { installed = previous_; }

bool random_source_installed() { return installed != nullptr; }

at::Generator generator_for(const torch::Device& device) {
  if (installed && device.is_cpu()) return *installed;
  return device.is_cpu() ? at::detail::getDefaultCPUGenerator() : at::globalContext().defaultGenerator(device);
}

torch::Tensor dropout(const torch::Tensor& x, double p) {
  if (p <= 0) return x;
  // the native kernel is one fused pass, but it can only draw from the default generator
  if (!installed || !x.device().is_cpu()) return torch::dropout(x, p, /*train=*/true);
  auto keep = torch::empty_like(x).bernoulli_(1.0 - p, *installed);
  return x * keep.div_(1.0 - p);
}

void normal_init(const torch::Tensor& t, double std) {
  torch::NoGradGuard no_grad;
  t.normal_(0.0, std, generator_for(t.device()));
}

}  // namespace moewb
