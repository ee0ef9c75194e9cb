#include "core/runs/disk_space.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>

#include "core/config/memory_estimate.h"

namespace moewb {

namespace {
constexpr double kArchiveBytes = 256 * 1024;  // names, config, vocabulary, RNG states (measured: about 220 KB)
constexpr int kCheckpointsAtOnce = 3;         // latest.pt, best.pt and the next one being written
}  // namespace

double checkpoint_file_bytes(const Config& c, int vocab_size) {
  return static_cast<double>(count_parameters(c, vocab_size)) * 12.0 + kArchiveBytes;
}

std::optional<double> free_disk_bytes(const std::string& path) {
  std::error_code ec;
  std::filesystem::path at = std::filesystem::absolute(path, ec);
  if (ec) return std::nullopt;
  while (!std::filesystem::exists(at, ec) && at.has_relative_path()) at = at.parent_path();
  struct statvfs fs {};
  if (::statvfs(at.c_str(), &fs) != 0) return std::nullopt;
  return static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
}

std::vector<FieldError> check_checkpoint_space(double checkpoint_bytes, double present,
                                               std::optional<double> free_bytes, const std::string& folder,
                                               const SizeDriver& weights, bool resuming) {
  const double need = std::max(checkpoint_bytes, kCheckpointsAtOnce * checkpoint_bytes - present);
  if (!free_bytes || need <= *free_bytes) return {};
  std::string message = "the run's checkpoints need about " + format_bytes(need) + " more on disk (latest.pt, best.pt ";
  message += "and the next one beside them, " + format_bytes(checkpoint_bytes) + " each) but '" + folder + "' has " +
             format_bytes(*free_bytes) + " free: " +
             (resuming ? "free some space or move the run folder to another disk"
                       : "free some space, choose a run folder on another disk, or reduce " + weights.key +
                             " (the weights grow with " + weights.growth + ")");
  return {{weights.key, message}};
}

}  // namespace moewb
