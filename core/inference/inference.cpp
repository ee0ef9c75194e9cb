// Generation with a KV cache, routing traces and the nanoGPT state_dict export.
#include "core/inference/inference.h"

#include <cmath>
#include <fstream>
#include <optional>

#ifdef MOEWB_THREAD_LOCAL_OMP
#include <omp.h>
#endif

#include <nlohmann/json.hpp>
#include <torch/script.h>

#include "core/base/files.h"
#include "core/base/numbers.h"
#include "core/inference/inference_impl.h"
#include "core/inference/model_routing.h"
#include "core/model/batches.h"
#include "core/model/checkpoint.h"
#include "core/model/machine.h"

namespace moewb {

namespace {
// One cached position is a chain of tiny ops where OpenMP fork/join costs more than it saves (cpu-quick:
// 0.53 ms per character on 2 threads, 0.31 ms on 1). Only the calling thread's OpenMP team shrinks:
// at::set_num_threads would also set the process-wide count that every thread adopts when it first runs a
// parallel op (a training started meanwhile would keep one core), and concurrent generations would race on it.
// A CUDA build leaves the count alone: its LibTorch may bring its own OpenMP runtime, and it decodes on the GPU.
class OneThreadHere {
 public:
#ifdef MOEWB_THREAD_LOCAL_OMP
  OneThreadHere() {
    at::internal::lazy_init_num_threads();  // else the thread's first parallel op would reset the team size
    previous_ = omp_get_max_threads();
    omp_set_num_threads(1);
  }
  ~OneThreadHere() { omp_set_num_threads(previous_); }

 private:
  int previous_;
#endif
};
}  // namespace

InferenceModel::InferenceModel(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {
  if (!impl_->uncapped) impl_->uncapped = without_capacity(impl_->model);
}

InferenceModel InferenceModel::load(const std::string& checkpoint_path, DeviceChoice device) {
  init_torch_threads();
  torch::Device d = torch::kCPU;
  try {
    d = pick_device(device);
  } catch (const std::runtime_error& e) {
    throw CheckpointError(e.what());
  }
  LoadedCheckpoint ck = load_checkpoint(checkpoint_path, d);
  auto impl = std::make_shared<Impl>();
  impl->config = ck.meta.config;
  impl->vocab = ck.meta.vocab;
  impl->model = ck.model;
  impl->model->eval();
  impl->device = d;
  impl->notice = ck.notice;
  try {
    impl->precision = resolve_precision(ck.meta.config.precision, d);
  } catch (const std::runtime_error&) {
    impl->precision = Precision::fp32;  // an fp16 run read on a CPU: evaluation there runs in fp32
  }
  return InferenceModel(impl);
}

const Config& InferenceModel::config() const { return impl_->config; }
const std::string& InferenceModel::notice() const { return impl_->notice; }

std::string temperature_problem(double t) {
  if (t == 0 || (std::isfinite(t) && t >= kMinTemperature)) return "";
  return "must be 0 (greedy) or a number of at least " + format_double(kMinTemperature, 6);
}
const Vocabulary& InferenceModel::vocab() const { return impl_->vocab; }
int64_t InferenceModel::parameter_count() const { return impl_->model->parameter_count(); }
std::string InferenceModel::device() const { return device_name(impl_->device); }

// ---------------------------------------------------------------------------------------------------
namespace {

int64_t sample_next(torch::Tensor logits, const GenerationOptions& o, const torch::Generator& gen) {
  logits = logits.to(torch::kCPU, torch::kFloat32);  // (V)
  if (o.temperature <= 0) return logits.argmax().item<int64_t>();
  logits = logits / o.temperature;
  if (o.top_k > 0 && o.top_k < logits.size(0)) {
    auto kth = std::get<0>(logits.topk(o.top_k)).min();
    logits = logits.masked_fill(logits < kth, -std::numeric_limits<float>::infinity());
  }
  return torch::multinomial(torch::softmax(logits, -1), 1, false, gen).item<int64_t>();
}

torch::Tensor as_input(const std::vector<int64_t>& ids, size_t begin, const torch::Device& d) {
  return torch::tensor(std::vector<int64_t>(ids.begin() + static_cast<long>(begin), ids.end()), torch::kInt64)
      .unsqueeze(0)
      .to(d);
}

}  // namespace

std::string InferenceModel::generate(const std::string& prompt, const GenerationOptions& o, const TextSink& sink) const {
  if (o.length < 0) throw std::invalid_argument("length must be >= 0");
  if (const std::string problem = temperature_problem(o.temperature); !problem.empty())
    throw std::invalid_argument("temperature " + problem + ", not " + format_double(o.temperature, 6));
  if (o.top_k < 0) throw std::invalid_argument("top_k must be >= 0");
  const Impl& m = *impl_;
  std::vector<int64_t> ids = m.vocab.encode(prompt);
  if (ids.empty()) {
    const int newline = m.vocab.id_of(U'\n');
    ids.push_back(newline >= 0 ? newline : 0);
  }
  const size_t block = static_cast<size_t>(m.config.block_size);
  c10::InferenceMode inference_mode;  // lighter than NoGradGuard: no version counters or views tracking
  std::optional<OneThreadHere> one_thread;
  if (o.use_cache && m.device.is_cpu()) one_thread.emplace();
  auto gen = at::detail::createCPUGenerator(o.seed);
  KVCache cache;
  torch::Tensor logits;
  std::string out;
  for (int i = 0; i < o.length; ++i) {
    if (!o.use_cache) {
      const size_t begin = ids.size() > block ? ids.size() - block : 0;
      logits = m.uncapped->forward(as_input(ids, begin, m.device)).logits[0][-1];
    } else if (cache.length() == 0 || cache.length() + 1 > static_cast<int64_t>(block)) {
      // (Re)fill the cache: on overflow keep the last half context so refills are rare (amortised O(1)).
      const size_t keep = cache.length() == 0 ? std::min(ids.size(), block) : block / 2;
      cache.filled = 0;
      logits = m.uncapped->forward_cached(as_input(ids, ids.size() - keep, m.device), cache)[0][-1];
    } else {
      logits = m.uncapped->forward_cached(as_input(ids, ids.size() - 1, m.device), cache)[0][-1];
    }
    const int64_t next = sample_next(logits, o, gen);
    ids.push_back(next);
    const std::string piece = encode_utf8(m.vocab.at(static_cast<int>(next)));
    out += piece;
    if (sink && !sink(piece)) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
namespace {

template <typename T>
std::vector<T> to_vector(const torch::Tensor& t) {
  auto c = t.contiguous().to(torch::kCPU);
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

std::vector<double> to_doubles(const torch::Tensor& t) {
  auto v = to_vector<float>(t.detach().to(torch::kFloat32));
  return {v.begin(), v.end()};
}

// The whole text's rows at once: growing by doubling would hold up to twice the trace while copying.
void reserve(LayerTrace& l, const RouterOutput& r, int64_t characters) {
  const auto n = static_cast<size_t>(characters), per_slot = n * static_cast<size_t>(r.experts.size(1));
  l.probs.reserve(n * static_cast<size_t>(r.probs.size(1)));
  l.chosen.reserve(per_slot);
  l.weights.reserve(per_slot);
  l.dropped.reserve(per_slot);
}

void append(LayerTrace& l, const RouterOutput& r, RoutingMode mode) {
  auto chosen = r.experts;
  if (mode == RoutingMode::sigmoid) chosen = torch::where(r.kept, r.experts, torch::full_like(r.experts, -1));
  auto probs = to_vector<float>(r.probs.detach().to(torch::kFloat32));
  auto experts = to_vector<int64_t>(chosen);
  auto weights = to_vector<float>(r.weights.detach().to(torch::kFloat32));
  auto dropped = to_vector<bool>(r.dropped);
  l.n_experts = static_cast<int>(r.probs.size(1));
  l.slots = static_cast<int>(r.experts.size(1));
  l.probs.insert(l.probs.end(), probs.begin(), probs.end());
  l.chosen.insert(l.chosen.end(), experts.begin(), experts.end());
  l.weights.insert(l.weights.end(), weights.begin(), weights.end());
  l.dropped.insert(l.dropped.end(), dropped.begin(), dropped.end());
}

}  // namespace

RoutingTrace trace_text(GPT model, const Vocabulary& vocab, const std::string& text, const torch::Device& d,
                        bool capacity, const TraceProgress& progress) {
  RoutingTrace trace;
  trace.capacity = capacity;
  const Config& c = model->config;
  if (c.is_moe()) trace.routing = c.routing;
  trace.n_experts = c.is_moe() ? c.n_experts : 0;
  trace.text = decode_utf8(text);
  const std::vector<int64_t> ids = vocab.encode(text);
  if (!c.is_moe() || ids.empty()) return trace;
  trace.layers.resize(c.n_layer);
  torch::NoGradGuard no_grad;
  const int64_t block = c.block_size, n = static_cast<int64_t>(ids.size());
  auto all = torch::tensor(ids, torch::kInt64);
  // runs of full chunks, batch_size at a time, then the shorter remainder alone: routing per character in text order
  for (int64_t begin = 0; begin < n;) {
    const int64_t len = std::min(block, n - begin);
    const int64_t rows = len < block ? 1 : std::min<int64_t>(std::max(1, c.batch_size), (n - begin) / block);
    auto idx = all.narrow(0, begin, rows * len).view({rows, len}).to(d);
    std::vector<RouterOutput> routing;
    model->forward(idx, {}, &routing);
    for (size_t l = 0; l < routing.size(); ++l) {
      if (begin == 0) reserve(trace.layers[l], routing[l], n);
      append(trace.layers[l], routing[l], c.routing);
    }
    begin += rows * len;
    if (progress) progress(begin, n);
  }
  return trace;
}

void LayerStatsOnDevice::add(const std::vector<RouterOutput>& routing, RoutingMode mode) {
  sums.resize(routing.size());
  for (size_t l = 0; l < routing.size(); ++l) {
    const RouterOutput& r = routing[l];
    const int64_t N = r.probs.size(1);
    auto chosen = mode == RoutingMode::sigmoid ? r.kept : torch::ones_like(r.kept);
    auto assigned = torch::zeros({N}, r.probs.options())
                        .index_add_(0, r.experts.reshape({-1}), chosen.reshape({-1}).to(r.probs.dtype()));
    auto p = mode == RoutingMode::sigmoid ? r.probs / r.probs.sum(-1, true).clamp_min(1e-12) : r.probs;
    auto entropy = -(p * p.clamp_min(1e-12).log()).sum();
    // each batch's float values widened to double before summing, as a host accumulator would
    auto row = torch::cat({assigned, r.probs.sum(0), r.dropped.sum().to(r.probs.dtype()).view({1}),
                           r.kept.sum().to(r.probs.dtype()).view({1}), entropy.view({1})})
                   .to(torch::kFloat64);
    const double tokens = static_cast<double>(r.probs.size(0));
    if (!sums[l].defined()) sums[l] = torch::zeros_like(row), token_counts.push_back(0);
    sums[l] += row;
    token_counts[l] += tokens;
  }
}

void LayerStatsOnDevice::sum_over(Collective& group) {
  if (sums.empty()) return;
  // one collective for all layers; token counts ride along as a last column
  std::vector<torch::Tensor> rows;
  for (size_t l = 0; l < sums.size(); ++l)
    rows.push_back(torch::cat({sums[l].cpu(), torch::tensor({token_counts[l]}, torch::kFloat64)}));
  auto packed = torch::cat(rows);
  group.sum(packed);
  int64_t at = 0;
  for (size_t l = 0; l < sums.size(); ++l) {
    const int64_t n = sums[l].numel();
    sums[l].copy_(packed.narrow(0, at, n));
    token_counts[l] = packed[at + n].item<double>();
    at += n + 1;
  }
}

std::vector<LayerStatsAccumulator> LayerStatsOnDevice::read() const {
  std::vector<LayerStatsAccumulator> out(sums.size());
  for (size_t l = 0; l < sums.size(); ++l) {
    const auto v = to_vector<double>(sums[l]);
    const size_t N = (v.size() - 3) / 2;
    out[l].add({v.begin(), v.begin() + N}, {v.begin() + N, v.begin() + 2 * N}, token_counts[l], v[2 * N],
               v[2 * N + 1], v[2 * N + 2]);
  }
  return out;
}

double InferenceModel::loss(const TextDataset& data, bool validation, int batches, uint64_t seed) const {
  const Impl& m = *impl_;
  if (!(data.vocab == m.vocab)) throw DatasetError("the dataset's characters differ from the model's vocabulary");
  const int64_t begin = validation ? data.n_train : 0;
  const int64_t end = validation ? static_cast<int64_t>(data.tokens.size()) : data.n_train;
  if (end - begin <= m.config.block_size) throw DatasetError("the split is shorter than the model's context");
  const auto split = token_split(data, begin, end).to(m.device);
  std::mt19937_64 rng(seed);
  c10::InferenceMode inference_mode;
  AutocastScope autocast(m.precision, m.device);
  auto total = torch::zeros({}, split.options().dtype(torch::kFloat64));
  for (int i = 0; i < batches; ++i) {
    Batch b = sample_batch(split, m.config.batch_size, m.config.block_size, rng);
    total += m.model->forward(b.x, b.y).ce.to(torch::kFloat64);
  }
  return total.item<double>() / std::max(1, batches);
}

InferenceModel InferenceModel::intervened(const Intervention& iv) const {
  const Impl& m = *impl_;
  auto impl = std::make_shared<Impl>(m);
  impl->model = share_weights(m.model, m.config);  // the original's layers keep their routing
  impl->uncapped = nullptr;
  if (!iv.none()) {
    if (!m.config.is_moe()) throw std::invalid_argument("a dense model has no experts to intervene on");
    if (iv.layer >= m.config.n_layer)
      throw std::invalid_argument("layer: the model has layers 0 to " + std::to_string(m.config.n_layer - 1));
    for (int e : {iv.disable, iv.force})
      if (e >= m.config.n_experts)
        throw std::invalid_argument("expert " + std::to_string(e) + ": the model has experts 0 to " +
                                    std::to_string(m.config.n_experts - 1));
    if ((iv.disable >= 0) == (iv.force >= 0))
      throw std::invalid_argument("an intervention either disables or forces one expert");
    if (iv.disable >= 0 && m.config.routing == RoutingMode::softmax && m.config.n_experts == 1)
      throw std::invalid_argument("disable: the layer's only expert");
    RoutingOptions& routing = impl->model->h[static_cast<size_t>(iv.layer)]->moe->routing;
    routing.disabled_expert = iv.disable;
    routing.forced_expert = iv.force;
  }
  return InferenceModel(impl);
}

std::vector<double> InferenceModel::char_losses(const std::string& text) const {
  const Impl& m = *impl_;
  const std::vector<int64_t> ids = m.vocab.encode(text);
  const int64_t n = static_cast<int64_t>(ids.size()), T = m.config.block_size;
  std::vector<double> out(static_cast<size_t>(n), std::nan(""));
  c10::InferenceMode inference_mode;
  const auto all = torch::tensor(ids, torch::kInt64);
  // window w covers inputs [s, s + len) and predicts characters s + 1 .. s + len
  for (int64_t s = 0; s + 1 < n;) {
    const int64_t len = std::min(T, n - 1 - s);
    const int64_t rows = len < T ? 1 : std::min<int64_t>(std::max(1, m.config.batch_size), (n - 1 - s) / T);
    auto x = all.narrow(0, s, rows * len).view({rows, len}).to(m.device);
    auto y = all.narrow(0, s + 1, rows * len).view({rows, len}).to(m.device);
    auto logp = torch::log_softmax(m.uncapped->forward(x).logits.to(torch::kFloat32), -1);
    auto loss = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).reshape({-1}).to(torch::kCPU).to(torch::kFloat64);
    const auto values = loss.accessor<double, 1>();
    for (int64_t i = 0; i < rows * len; ++i) out[static_cast<size_t>(s + 1 + i)] = values[i];
    s += rows * len;
  }
  return out;
}

RoutingTrace InferenceModel::trace(const std::string& text, const TraceProgress& progress, bool capacity) const {
  const bool capped = capacity && impl_->config.is_moe() && impl_->config.use_capacity;
  return trace_text(capped ? impl_->model : impl_->uncapped, impl_->vocab, text, impl_->device, capped, progress);
}

RoutingCounts InferenceModel::count_routing(const std::string& text, const TraceProgress& progress,
                                           const std::atomic<bool>* cancel) const {
  const Config& c = impl_->config;
  // slices of whole batches: the chunks match those of one trace of the whole text
  const size_t slice = static_cast<size_t>(c.block_size) * static_cast<size_t>(std::max(1, c.batch_size)) * 16;
  const std::u32string chars = decode_utf8(text);
  RoutingCounts counts;
  for (size_t begin = 0; begin < chars.size(); begin += slice) {
    if (cancel && *cancel) break;
    const std::string part = encode_utf8(chars.substr(begin, slice));
    counts.add(trace(part), static_cast<int64_t>(begin));  // the offset keeps the profiles' windows whole
    if (progress) progress(static_cast<int64_t>(std::min(chars.size(), begin + slice)), static_cast<int64_t>(chars.size()));
  }
  return counts;
}

namespace {
// name -> CPU tensor, in the order nanoGPT's state_dict lists them (the LM head last)
std::vector<std::pair<std::string, torch::Tensor>> nanogpt_tensors(const InferenceModel::Impl& m, bool masks) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : m.model->named_parameters())
    out.emplace_back(nanogpt_key(item.key()), item.value().detach().to(torch::kCPU).contiguous());
  const int64_t T = m.config.block_size;
  for (int l = 0; masks && l < m.config.n_layer; ++l)
    out.emplace_back("transformer.h." + std::to_string(l) + ".attn.bias",
                     torch::ones({T, T}).tril().view({1, 1, T, T}));
  out.emplace_back("lm_head.weight", m.model->wte->weight.detach().to(torch::kCPU).contiguous());
  return out;
}
}  // namespace

void InferenceModel::export_state_dict(const std::string& path, bool attention_masks) const {
  c10::Dict<std::string, torch::Tensor> dict;
  for (auto& [key, t] : nanogpt_tensors(*impl_, attention_masks)) dict.insert(key, t);
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  AtomicFileWriter out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

// safetensors: an 8-byte little-endian header length, a JSON header (dtype, shape, byte range per tensor),
// then the raw little-endian data. No Debian package writes it from C++; the format is this small.
void InferenceModel::export_safetensors(const std::string& path) const {
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}, {"source", "moewb export-pt"}}}};
  std::vector<torch::Tensor> data;  // written straight from the tensors, not gathered into one buffer first
  uint64_t end = 0;
  for (const auto& [key, t] : nanogpt_tensors(*impl_, false)) {
    data.push_back(t.to(torch::kFloat32).contiguous());
    const uint64_t size = static_cast<uint64_t>(data.back().numel()) * sizeof(float);
    header[key] = {{"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {end, end + size}}};
    end += size;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string length(8, '\0');
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((static_cast<uint64_t>(json.size()) >> (8 * i)) & 0xff);
  AtomicFileWriter out(path);
  out.write(length.data(), length.size());
  out.write(json.data(), json.size());
  for (const torch::Tensor& f : data) out.write(f.data_ptr(), static_cast<size_t>(f.numel()) * sizeof(float));
  out.commit();
}

}  // namespace moewb
