// Number formats and the few CUDA facts the core needs (bf16 support, allocator peak, synchronisation).
// Everything CUDA-specific compiles only against a CUDA LibTorch (MOEWB_CUDA); elsewhere it reports "no CUDA".
#pragma once

#include <string>

#include <torch/torch.h>

#include "core/config/config.h"

namespace moewb {

enum class Precision { fp32, bf16, fp16 };

// Config::precision on a device: auto is bf16 on a CUDA device that supports it and fp32 otherwise.
// Throws std::runtime_error for fp16 on the CPU (its loss scaling needs CUDA kernels).
// auto: bf16 on a CUDA device that supports it, fp32 otherwise; throws std::runtime_error for fp16 off CUDA.
Precision resolve_precision(PrecisionChoice requested, const torch::Device& device);
torch::Device pick_device(DeviceChoice requested);  // throws std::runtime_error for cuda without CUDA
std::string device_name(const torch::Device& d);

std::string precision_name(Precision p);
at::ScalarType compute_dtype(Precision p);  // the autocast dtype; kFloat for fp32

// Autocast for the current thread while alive: matmuls and linear layers in the precision's dtype, norms,
// softmax and losses in fp32. Autocast caches each weight's cast copy; the outermost scope clears that cache
// on exit, because the optimizer then updates the weights in place and a stale copy would be reused.
class AutocastScope {
 public:
  AutocastScope(Precision p, const torch::Device& d);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::kCPU;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kBFloat16;
};

// The dtype matmuls on `t` run in now: the autocast dtype when autocast is on for its device, else its own.
at::ScalarType matmul_dtype(const torch::Tensor& t);

bool cuda_supports_bf16();
// Deterministic CUDA kernels for this process (cuBLAS needs its workspace setting before its first call,
// so this runs before a run's first matmul); a no-op on the CPU, which is deterministic already.
void use_deterministic_kernels(const torch::Device& d);
// TF32 tensor-core matmuls for fp32 work on CUDA (what bf16 runs keep in fp32 too).
void enable_tf32();
// Waits for the device's queued work (a no-op on CPU): clocks read after it measure the work, not its launch.
void synchronize(const torch::Device& d);
// Peak bytes held by the CUDA caching allocator since the last reset, in MiB; NaN on the CPU.
double peak_device_memory_mb(const torch::Device& d);
// The CUDA device's memory in bytes; 0 on the CPU (unknown).
double device_memory_bytes(const torch::Device& d);
void reset_peak_device_memory(const torch::Device& d);

}  // namespace moewb
