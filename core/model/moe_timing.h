// Where a MoE layer's time goes, for `bench`: wall time per phase summed over every layer and step while timing
// is on. Off (the default) a phase costs one relaxed atomic load. On CUDA each phase synchronises the device at
// its ends, so timing slows the step it measures: the breakdown is read beside an untimed measurement.
#pragma once

#include <array>
#include <string>

#include <torch/torch.h>

namespace moewb {

enum class MoePhase { route, group, experts, combine, backward, count };

const char* phase_name(MoePhase p);

struct MoePhaseTimes {
  std::array<double, static_cast<size_t>(MoePhase::count)> seconds{};
  double total() const;
};

// Starts timing from zero (on) or stops it; take_moe_times returns what was summed since it started.
void time_moe_phases(bool on);
MoePhaseTimes take_moe_times();

// Adds the time from its construction to its destruction to `phase`, when timing is on.
class MoePhaseTimer {
 public:
  MoePhaseTimer(MoePhase phase, const torch::Device& device);
  ~MoePhaseTimer();
  MoePhaseTimer(const MoePhaseTimer&) = delete;
  MoePhaseTimer& operator=(const MoePhaseTimer&) = delete;

 private:
  MoePhase phase_;
  torch::Device device_;
  bool on_;
  double start_ = 0;
};

}  // namespace moewb
