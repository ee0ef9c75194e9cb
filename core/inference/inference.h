// A trained model for inspection: generation (KV-cached), routing traces, loss estimates and export.
// Torch stays behind the pimpl; copies share one immutable eval-mode model and may be used from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/config/config.h"
#include "core/data/text_dataset.h"
#include "core/runs/run_folder.h"
#include "core/trace/intervention.h"
#include "core/trace/routing_trace.h"

namespace moewb {

// Sampling divides the logits by the temperature. Below this floor (but above 0, which is greedy) sampling is greedy
// in all but name (a logit gap of 0.1 becomes a factor e^10 at 0.01), and the division overflows float32 below
// about 1e-37: such temperatures are refused rather than read as a request for greedy decoding.
inline constexpr double kMinTemperature = 0.01;
// "" when `t` is 0 (greedy) or a finite number of at least kMinTemperature; otherwise what it must be.
std::string temperature_problem(double t);

struct GenerationOptions {
  int length = 500;           // characters to generate
  double temperature = 0.8;   // 0 = greedy, else at least kMinTemperature
  int top_k = 200;            // sample among the k most likely characters; 0 = all
  uint64_t seed = 1337;
  bool use_cache = true;      // false: recompute the whole context per character (the baseline)
};

// Characters routed so far of a trace's total.
using TraceProgress = std::function<void(int64_t done, int64_t total)>;

// Called with each generated character (UTF-8); return false to stop early.
using TextSink = std::function<bool(const std::string&)>;

class InferenceModel {
 public:
  struct Impl;
  InferenceModel() = default;  // empty; valid() is false
  explicit InferenceModel(std::shared_ptr<const Impl> impl);
  bool valid() const { return impl_ != nullptr; }

  // Throws CheckpointError for a missing, truncated, foreign or inconsistent file.
  static InferenceModel load(const std::string& checkpoint_path, DeviceChoice device = DeviceChoice::automatic);
  // What the user should be told about the file it was loaded from ("" when nothing): a checkpoint without a
  // checksum loaded unverified.
  const std::string& notice() const;

  const Config& config() const;
  const Vocabulary& vocab() const;
  int64_t parameter_count() const;
  std::string device() const;

  // Throws std::invalid_argument naming the option (length, temperature, top_k) for bad options and DatasetError
  // for characters outside the vocabulary.
  std::string generate(const std::string& prompt, const GenerationOptions& options, const TextSink& sink = {}) const;
  // Routes the text in chunks of the context length, at most batch_size chunks per forward (so the working memory
  // is an evaluation batch's, whatever the text's length); a dense model gives a trace with no layers.
  // `progress` hears the characters routed so far. Without `capacity` every character reaches its experts; with
  // it (and a config that limits capacity) each forward is a training batch's worth of tokens (batch_size x
  // block_size) and the limit drops assignments as training would. Generation never applies the limit.
  RoutingTrace trace(const std::string& text, const TraceProgress& progress = {}, bool capacity = false) const;
  // Routing statistics of a whole text (the validation split, say), traced without capacity in slices of whole
  // batches, so memory stays bounded whatever its length; the counts and the expert profiles' windows (which cross
  // slice boundaries) equal those of one trace of the text.
  // Stops early with the counts so far when `cancel` becomes true.
  RoutingCounts count_routing(const std::string& text, const TraceProgress& progress = {},
                              const std::atomic<bool>* cancel = nullptr) const;
  // The same weights (shared, never copied or changed) routed under an intervention; Intervention{} gives the
  // model as trained. Throws std::invalid_argument naming the layer or expert that does not exist.
  InferenceModel intervened(const Intervention& intervention) const;
  // Per character of `text`, the cross-entropy (nats) of predicting it from up to block_size characters before
  // it, without capacity limits; NaN for the first character (nothing predicts it). Windows of the context
  // length, batch_size at a time.
  std::vector<double> char_losses(const std::string& text) const;
  // Mean cross-entropy over `batches` random batches of one split.
  double loss(const TextDataset& data, bool validation, int batches, uint64_t seed) const;
  // nanoGPT-named state_dict (transformer.wte.weight, ...), loadable with torch.load in Python. attention_masks
  // adds the causal-mask buffers (transformer.h.N.attn.bias) that nanoGPT's model.py registers on torch < 2.
  void export_state_dict(const std::string& path, bool attention_masks = false) const;
  // The same tensors (without masks) as safetensors, for tools that do not unpickle.
  void export_safetensors(const std::string& path) const;

  // A dense nanoGPT model from a file torch.save wrote: a train.py checkpoint ({'model': ..., 'model_args': ...,
  // 'config': ...}; torch.compile's '_orig_mod.' prefixes removed) or a bare state_dict, whose head count must
  // then be given. Shapes come from the weights; the checkpoint's model_args and training settings (learning
  // rate, schedule, batch size, ...) override `base`. Throws CheckpointError naming the key that is missing,
  // unexpected or misshapen, or the vocabulary that does not match.
  static InferenceModel import_nanogpt(const std::string& path, const Vocabulary& vocab, Config base, int n_head = 0);

  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace moewb
