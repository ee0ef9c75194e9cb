// The token exchange of expert parallelism: rows sent to the ranks that hold their experts, and back, as one
// differentiable all-to-all. The MoE layer calls it; ExpertParallel (train/) decides who holds which experts.
#pragma once

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "core/distributed/collective.h"

namespace moewb {

// rows (R, ...) -> the rows the ranks send here: send[r] of `rows` go to rank r (in order), recv[r] arrive from
// rank r. Differentiable: the gradient takes the way back. Every rank of `group` must call it together.
torch::Tensor exchange_rows(const torch::Tensor& rows, const std::vector<int64_t>& send,
                            const std::vector<int64_t>& recv, const std::shared_ptr<Collective>& group);

}  // namespace moewb
