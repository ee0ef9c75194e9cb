#include "core/model/precision.h"

#include <ATen/autocast_mode.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>

#ifdef MOEWB_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

// LibTorch 2.4 replaced the per-device autocast setters with ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define MOEWB_AUTOCAST_BY_DEVICE 1
#endif

namespace moewb {

namespace {

bool autocast_enabled(c10::DeviceType t) {
#ifdef MOEWB_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(t);
#else
  return t == c10::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void set_autocast_enabled(c10::DeviceType t, bool on) {
#ifdef MOEWB_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(t, on);
#else
  if (t == c10::kCUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
#endif
}

at::ScalarType autocast_dtype(c10::DeviceType t) {
#ifdef MOEWB_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(t);
#else
  return t == c10::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast_dtype(c10::DeviceType t, at::ScalarType dtype) {
#ifdef MOEWB_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(t, dtype);
#else
  if (t == c10::kCUDA) at::autocast::set_autocast_gpu_dtype(dtype);
  else at::autocast::set_autocast_cpu_dtype(dtype);
#endif
}

}  // namespace

Precision resolve_precision(PrecisionChoice requested, const torch::Device& device) {
  if (requested == PrecisionChoice::fp32) return Precision::fp32;
  if (requested == PrecisionChoice::bf16) return Precision::bf16;
  if (requested == PrecisionChoice::fp16) {
    if (!device.is_cuda()) throw std::runtime_error("precision fp16 needs a CUDA device; use bf16 on the CPU");
    return Precision::fp16;
  }
  return device.is_cuda() && cuda_supports_bf16() ? Precision::bf16 : Precision::fp32;
}

std::string precision_name(Precision p) {
  switch (p) {
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
    default: return "fp32";
  }
}

at::ScalarType compute_dtype(Precision p) {
  switch (p) {
    case Precision::bf16: return at::kBFloat16;
    case Precision::fp16: return at::kHalf;
    default: return at::kFloat;
  }
}

AutocastScope::AutocastScope(Precision p, const torch::Device& d) {
  if (p == Precision::fp32) return;
  active_ = true;
  type_ = d.type();
  was_enabled_ = autocast_enabled(type_);
  was_dtype_ = autocast_dtype(type_);
  set_autocast_enabled(type_, true);
  set_autocast_dtype(type_, compute_dtype(p));
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(type_, was_enabled_);
  set_autocast_dtype(type_, was_dtype_);
}

at::ScalarType matmul_dtype(const torch::Tensor& t) {
  const auto type = t.device().type();
  return autocast_enabled(type) ? autocast_dtype(type) : t.scalar_type();
}

bool cuda_supports_bf16() {
#ifdef MOEWB_CUDA
  return torch::cuda::is_available() && at::cuda::getCurrentDeviceProperties()->major >= 8;
#else
  return false;
#endif
}

void use_deterministic_kernels(const torch::Device& d) {
  if (!d.is_cuda()) return;
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
}

void enable_tf32() {
  at::globalContext().setAllowTF32CuBLAS(true);
  at::globalContext().setAllowTF32CuDNN(true);
}

void synchronize(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

double peak_device_memory_mb(const torch::Device& d) {
#ifdef MOEWB_CUDA
  if (d.is_cuda()) {
    // index 0 of every statistic is the aggregate over pool kinds
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
  }
#endif
  (void)d;
  return NAN;
}

double device_memory_bytes(const torch::Device& d) {
#ifdef MOEWB_CUDA
  if (d.is_cuda())
    return static_cast<double>(at::cuda::getDeviceProperties(d.has_index() ? d.index() : 0)->totalGlobalMem);
#endif
  (void)d;
  return 0;
}

void reset_peak_device_memory(const torch::Device& d) {
#ifdef MOEWB_CUDA
  if (d.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(c10::cuda::current_device());
#endif
  (void)d;
}

torch::Device pick_device(DeviceChoice requested) {
  if (requested == DeviceChoice::cuda && !torch::cuda::is_available())
    throw std::runtime_error("device 'cuda' was requested but no CUDA device is available (use auto or cpu)");
  if (requested == DeviceChoice::cpu) return torch::kCPU;
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

std::string device_name(const torch::Device& d) { return d.is_cuda() ? "cuda" : "cpu"; }

}  // namespace moewb
