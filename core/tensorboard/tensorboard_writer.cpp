#include "core/tensorboard/tensorboard_writer.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "core/runs/run_folder.h"
#include "tensorboard_event.pb.h"

namespace moewb {

namespace {

std::array<uint32_t, 256> crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli polynomial
    table[i] = c;
  }
  return table;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string little_endian(uint64_t value, int bytes) {
  std::string out(bytes, '\0');
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  static const auto table = crc32c_table();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t c = crc32c(bytes);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

TensorBoardWriter::TensorBoardWriter(const std::string& folder, int64_t resumed_at) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "localhost");
  path_ =
      (std::filesystem::path(folder) / (RunFolder::kTensorBoardPrefix + std::to_string(static_cast<int64_t>(now_seconds())) +
                                        "." + host + "." + std::to_string(getpid())))
          .string();
  out_.open(path_, std::ios::binary | std::ios::app);
  if (!out_) throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
  tensorboard::Event version;
  version.set_wall_time(now_seconds());
  version.set_file_version("brain.Event:2");
  write_record(version.SerializeAsString());
  if (resumed_at >= 0) {
    tensorboard::Event start;
    start.set_wall_time(now_seconds());
    start.set_step(resumed_at);
    start.mutable_session_log()->set_status(tensorboard::SessionLog::START);
    write_record(start.SerializeAsString());
  }
  flush();
}

void TensorBoardWriter::scalar(int64_t step, const std::string& tag, double value) {
  tensorboard::Event e;
  e.set_wall_time(now_seconds());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write_record(e.SerializeAsString());
}

void TensorBoardWriter::row(const MetricsRow& r) {
  auto put = [&](const std::string& tag, double value) {
    if (!std::isnan(value)) scalar(r.step, tag, value);
  };
  put("loss/train", r.train_loss);
  put("loss/eval_train", r.eval_train_loss);
  put("loss/val", r.val_loss);
  put("lr", r.lr);
  put("tokens_per_sec", r.tokens_per_sec);
  put("peak_memory_mb", r.peak_memory_mb);
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const LayerMetrics& m = r.layers[l];
    const std::string layer = "routing/L" + std::to_string(l) + "/";
    put(layer + "load_entropy", m.load_entropy);
    put(layer + "max_share", m.max_share);
    put(layer + "dropped", m.dropped_fraction);
    put(layer + "router_entropy", m.router_entropy);
    put(layer + "dead_experts", m.dead_experts);
  }
  flush();
}

void TensorBoardWriter::write_record(const std::string& bytes) {
  const std::string length = little_endian(bytes.size(), 8);
  out_ << length << little_endian(masked_crc32c(length), 4) << bytes << little_endian(masked_crc32c(bytes), 4);
}

void TensorBoardWriter::flush() {
  out_.flush();
  if (!out_) throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno));
}

}  // namespace moewb
