// New models made from a trained model's experts, never touching the original: pruning experts out of an MoE
// model, and upcycling a dense model into one. The results are InferenceModels that a Trainer fine-tunes in a
// new run folder (Trainer::create's start_from), whose run.json says where they came from.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/inference/inference.h"
#include "core/trace/routing_trace.h"

namespace moewb {

enum class PruneRanking { share, loss };

struct PruneRequest {
  double min_share = -1;                       // >= 0: remove the experts below this share of their layer's routing
  int remove = 0;                              // > 0: remove this many experts from every layer
  PruneRanking ranking = PruneRanking::share;  // which experts go first
};

// What to remove from each layer, and the measurements behind it. One N describes a model, so every layer loses
// the same number of experts: with min_share, the most any layer has below the threshold; a layer with fewer
// loses its lowest-ranked experts besides, and `notes` says so.
struct PrunePlan {
  std::vector<std::vector<int>> removed;        // per layer, ascending
  std::vector<std::vector<double>> share;       // per layer and expert: share of the layer's assignments
  std::vector<std::vector<double>> loss_delta;  // per layer and expert (ranking by loss), else empty
  std::string rule;                             // "share < 0.02, then lowest share", "lowest knockout loss delta"
  std::vector<std::string> notes;
  int removed_per_layer() const { return removed.empty() ? 0 : static_cast<int>(removed.front().size()); }
};

// Each expert's share of its layer's routing over `text` (layers x experts), traced without capacity limits in
// slices of whole batches (bounded memory): of the router's assignments (top-k, sigmoid's open gates, hash), or
// of the probability mass for softmax routing, where every expert is assigned every token.
std::vector<std::vector<double>> routing_shares(const InferenceModel& model, const std::string& text,
                                                const TraceProgress& progress = {});

// The validation loss change (nats) of disabling each expert of each layer, on `batches` validation batches
// drawn with `seed` (the same batches for every expert). `progress` hears (done, total) experts.
std::vector<std::vector<double>> knockout_loss_deltas(const InferenceModel& model, const TextDataset& data, int batches,
                                                      uint64_t seed,
                                                      const std::function<void(int, int)>& progress = {});

// Throws std::invalid_argument naming why a model cannot be pruned as requested (dense, hash routing, a malformed
// request), before anything is measured.
void check_prunable(const Config& config, const PruneRequest& request);

// Throws std::invalid_argument when the request is impossible (hash routing, nothing below the threshold,
// every expert of a layer) or malformed. loss_delta is needed for PruneRanking::loss.
PrunePlan plan_pruning(const Config& config, const std::vector<std::vector<double>>& share, const PruneRequest& request,
                       const std::vector<std::vector<double>>& loss_delta = {});

// The model without the given experts (the same count in every layer): their router rows and weights are
// removed, mlp experts keep their width (expert_hidden), top_k shrinks to the experts left. Without capacity
// limits it computes exactly what the original computes with those experts disabled (softmax renormalises over
// the rest, top-k picks among the rest, sigmoid gates close).
InferenceModel prune_experts(const InferenceModel& model, const std::vector<std::vector<int>>& removed);

enum class UpcycleMethod {
  partition,  // MoEfication: the dense FFN's 4d hidden units split into N experts of 4d/N
  copy        // sparse upcycling: each expert a copy of the whole dense FFN (expert_hidden = 4d)
};

// A dense model as an MoE layer per block: `moe` gives the routing (ffn, n_experts, routing, top_k, ...); the
// expert shape is mlp, everything else comes from the dense model. partition groups hidden units whose input
// weights point the same way (balanced k-means), so the experts together are exactly the dense FFN and each
// router row starts as its group's mean input weight; copy starts the router at N(0, 0.02) from `moe.seed`, and
// with renormalised top-k or softmax routing computes exactly what the dense model computes until training
// moves the copies apart. Throws std::invalid_argument for a model that is not dense or an impossible config.
InferenceModel upcycle(const InferenceModel& dense, const Config& moe, UpcycleMethod method);

}  // namespace moewb
