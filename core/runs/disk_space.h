// What a run's checkpoints take on disk, checked before the run starts: a checkpoint of a large model can be
// several GiB, and a disk that fills at the first save stops a run that has trained until then.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/config/memory_estimate.h"

namespace moewb {

// One checkpoint file: fp32 weights and AdamW's two moments (12 bytes per parameter), plus the archive's own.
double checkpoint_file_bytes(const Config& c, int vocab_size);

// Free bytes for an unprivileged writer on the filesystem holding `path`, or its nearest existing ancestor when
// it does not exist yet (a run folder about to be made); nothing when unknown (0 is a full disk).
std::optional<double> free_disk_bytes(const std::string& path);

// A run keeps latest.pt and best.pt and writes each new one beside the old: three checkpoints at once. `present`:
// the bytes of those files the folder already holds (a resumed run), which the new ones replace. Empty when it
// fits (or the free space is unknown); otherwise one error naming the folder, on the key that sizes the weights
// (weights_driver). `resuming`: the model is the run's own, so the advice is to free space or move the folder.
std::vector<FieldError> check_checkpoint_space(double checkpoint_bytes, double present,
                                               std::optional<double> free_bytes, const std::string& folder,
                                               const SizeDriver& weights, bool resuming = false);

}  // namespace moewb
