#include "app/version.h"

#include <torch/version.h>

namespace moewb {

std::string project_version() { return MOEWB_VERSION; }

std::string version_text(const std::string& program) {
#ifdef MOEWB_CUDA
  const char* device = "with CUDA";
#else
  const char* device = "CPU only";
#endif
  return program + " " + project_version() + "\nLibTorch " + TORCH_VERSION + " (" + device + ")";
}

}  // namespace moewb
