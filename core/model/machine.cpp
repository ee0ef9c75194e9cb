#include "core/model/machine.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <torch/torch.h>

#include "core/model/precision.h"

namespace moewb {

namespace {
std::atomic<int> requested_threads{0};
}

void set_training_threads(int threads) { requested_threads = std::max(0, threads); }

int training_threads() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int requested = requested_threads;
  return requested > 0 ? std::min(requested, cores) : cores;
}

void init_torch_threads() {
  const int threads = training_threads();
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

bool cuda_available() { return torch::cuda::is_available(); }

double cuda_device_memory() { return cuda_available() ? device_memory_bytes(torch::Device(torch::kCUDA, 0)) : 0; }

}  // namespace moewb
