// TensorBoard event files beside metrics.csv, so `tensorboard --logdir runs/` shows every run. The messages
// come from a maintained protobuf library (Debian's libprotobuf, messages in tensorboard_event.proto); the file
// framing is TFRecord's: length, masked CRC-32C of the length, the message, masked CRC-32C of the message.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include "core/runs/metrics_csv.h"

namespace moewb {

// CRC-32C (Castagnoli), as TFRecord frames use it; no Debian 12 library offers it.
uint32_t crc32c(std::string_view bytes);
// TFRecord's mask: a CRC stored beside the data it covers must not be a CRC of itself.
uint32_t masked_crc32c(std::string_view bytes);

class TensorBoardWriter {
 public:
  // Opens a new file `events.out.tfevents.<seconds>.<host>.<pid>` in `folder` and writes its version record;
  // `resumed_at` >= 0 adds a session start at that step, so TensorBoard forgets the events a resumed run
  // rewrites. Throws std::runtime_error when the file cannot be written.
  TensorBoardWriter(const std::string& folder, int64_t resumed_at = -1);

  void scalar(int64_t step, const std::string& tag, double value);
  // A metrics.csv row as scalars: loss/train, loss/eval_train, loss/val, lr, tokens_per_sec, peak_memory_mb and
  // per MoE layer routing/L<l>/{load_entropy, max_share, dropped, router_entropy, dead_experts}; cells the row
  // does not measure are left out. Then flush().
  void row(const MetricsRow& r);
  // Everything written so far reaches the file (a reader may follow it); throws std::runtime_error.
  void flush();
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& bytes);

  std::string path_;
  std::ofstream out_;
};

}  // namespace moewb
