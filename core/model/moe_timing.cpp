#include "core/model/moe_timing.h"

#include <atomic>
#include <chrono>
#include <mutex>

#include "core/model/precision.h"

namespace moewb {

namespace {
std::atomic<bool> timing{false};
std::mutex sums_mutex;  // the autograd engine may run a backward phase on another thread
MoePhaseTimes sums;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

const char* phase_name(MoePhase p) {
  switch (p) {
    case MoePhase::route: return "route";
    case MoePhase::group: return "group";
    case MoePhase::experts: return "experts";
    case MoePhase::combine: return "combine";
    case MoePhase::backward: return "backward";
    default: return "?";
  }
}

double MoePhaseTimes::total() const {
  double t = 0;
  for (double s : seconds) t += s;
  return t;
}

void time_moe_phases(bool on) {
  std::lock_guard<std::mutex> lock(sums_mutex);
  sums = {};
  timing = on;
}

MoePhaseTimes take_moe_times() {
  std::lock_guard<std::mutex> lock(sums_mutex);
  return sums;
}

MoePhaseTimer::MoePhaseTimer(MoePhase phase, const torch::Device& device)
    : phase_(phase), device_(device), on_(timing.load(std::memory_order_relaxed)) {
  if (!on_) return;
  synchronize(device_);
  start_ = now_seconds();
}

MoePhaseTimer::~MoePhaseTimer() {
  if (!on_) return;
  synchronize(device_);
  const double elapsed = now_seconds() - start_;
  std::lock_guard<std::mutex> lock(sums_mutex);
  sums.seconds[static_cast<size_t>(phase_)] += elapsed;
}

}  // namespace moewb
