// What `--version` says: the project's version (CMake's project(VERSION), the one place it is set) and the
// LibTorch the program was built with.
#pragma once

#include <string>

namespace moewb {

std::string project_version();  // "0.3.0"

// "PROGRAM 0.3.0" and a second line naming the LibTorch built in and whether it has CUDA (no final '\n').
std::string version_text(const std::string& program);

}  // namespace moewb
