// `moewb-cli bench --nproc W`: data-parallel scaling on this machine. It times the config's training alone
// (one process with each rank's share of the cores, then one with all of them), then W ranks started by the
// local launcher, and reports the speed-up and the scaling efficiency: W ranks' tokens/s over W times one
// process with the same threads (strong scaling: the global batch stays, each rank trains batch / W).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/data/text_dataset.h"

namespace moewb {

struct ScalingOptions {
  int nproc = 2;
  int steps = 30, warmup = 5;
  std::chrono::seconds timeout{300};
  bool expert_parallel = false;  // the ranks also split the experts
  std::vector<std::string> rank_args;  // this command line without --nproc, for the ranks
};

// Prints the table; returns the launcher's status when the ranks fail.
int run_scaling_bench(const Config& c, const TextDataset& data, const ScalingOptions& o);

// In each launched rank (`--scaling-result FILE`): measures with the group; rank 0 writes tokens/s to FILE.
int run_scaling_rank(const Config& c, const TextDataset& data, const ScalingOptions& o, const std::string& result);

}  // namespace moewb
