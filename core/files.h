// Crash-safe file writes: write to a temporary file beside the target, fsync, rename over the target.
#pragma once

#include <string>

namespace moewb {

// Throws std::runtime_error naming the path when any step fails; the target is then left untouched.
void atomic_write(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);  // throws std::runtime_error
bool file_exists(const std::string& path);

}  // namespace moewb
