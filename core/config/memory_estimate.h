// What a configuration holds in memory while it trains, estimated from the config alone before anything is
// allocated: the configuration panel shows it, and a run that cannot fit is refused with the key to change
// instead of ending in an out-of-memory kill. Calibrated against measured peaks (tst_config_dataset, core/README.md):
// within 17 % of the CPU's peak resident memory above the process's own on 15 configurations (mimalloc), and
// within about 10 % of the CUDA allocator's peak for the paper preset (the only GPU point measured).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace moewb {

// The config key that sizes part of a run most, taken as the one the user raised: of the keys the size grows with,
// the one whose default value (all else kept) shrinks it most. `growth` names the sizes it enters with their values
// ("n_layer × n_embd² = 4 × 65536²"), so a refusal says where the bytes come from.
struct SizeDriver {
  std::string key;
  std::string growth;
};

// What sizes the weights (embeddings, attention, the feed-forward or the experts): n_layer when no key is above
// its default.
SizeDriver weights_driver(const Config& c, int vocab_size);

struct MemoryEstimate {
  int64_t parameters = 0;
  double model_bytes = 0;        // fp32 weights, gradients and AdamW's two moments; bf16 copies under autocast
  double activations_bytes = 0;  // what one training batch keeps for the backward pass, logits included
  double dataset_bytes = 0;      // the corpus's token ids (the app's and the trainer's) and the two split tensors
  // the keys a refusal names, set by estimate_training_memory
  SizeDriver weights{"n_layer", ""}, activations{"batch_size", ""};
  double total() const { return model_bytes + activations_bytes + dataset_bytes; }
};

// cuda: the device's fused attention keeps no score matrices and autocast defaults to bf16.
MemoryEstimate estimate_training_memory(const Config& c, int vocab_size, int64_t dataset_characters, bool cuda);

// What one machine holds for `local_ranks` ranks of a data-parallel group of `world_size`, each training its
// batch_size / world_size rows: the ranks share the host's memory (each loads the corpus too), but each has a
// GPU of its own, so on CUDA this is one rank's need.
MemoryEstimate estimate_for_ranks(const Config& c, int vocab_size, int64_t dataset_characters, bool cuda,
                                  int local_ranks, int world_size);

// What this process may still allocate, in bytes: MemAvailable from /proc/meminfo, or less when a cgroup limits
// the process (a container started with a memory limit, a systemd slice), whose limit the kernel's OOM killer
// enforces while MemAvailable still shows the whole machine. 0 where neither can be read.
double available_host_memory();

// The headroom the cgroups of a process leave it: the smallest limit minus usage along its cgroup and the
// cgroup's ancestors (v2: memory.max and memory.current; v1: memory.limit_in_bytes and memory.usage_in_bytes
// under the memory controller's mount), the usage without its inactive file cache (memory.stat's inactive_file,
// v1: total_inactive_file), which the kernel reclaims before it kills; 0 when no cgroup limits it. `mount`: where cgroups are mounted
// (/sys/fs/cgroup); `self_cgroup`: the text of /proc/self/cgroup.
double cgroup_headroom(const std::string& mount, const std::string& self_cgroup);

// Empty when the estimate fits in `available` bytes (0: unknown, always fits); otherwise one error on the key
// whose reduction helps most (the activations' driver when they dominate and the weights fit on their own, else
// the weights'), naming the sizes it enters. `resuming`: the config is the run's own, so the advice is to free
// memory or move instead.
std::vector<FieldError> check_memory(const MemoryEstimate& e, double available, const std::string& where,
                                     bool resuming = false);

std::string format_bytes(double bytes);  // "812 MiB", "1.4 GiB"

}  // namespace moewb
