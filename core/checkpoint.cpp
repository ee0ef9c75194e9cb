// Checkpoints: one torch archive holding the model, the optimizer, the step, RNG states, the vocabulary and
// the config, written atomically. Loading validates each piece so a bad file gives a reason, not a crash.
#include <sstream>

#include "engine.h"
#include "files.h"

namespace moewb {

namespace {
constexpr const char* kFormat = "moewb-checkpoint-1";

std::string read_string(torch::serialize::InputArchive& a, const char* key) {
  c10::IValue v;
  if (!a.try_read(key, v) || !v.isString()) throw CheckpointError(std::string("field '") + key + "' is missing");
  return v.toStringRef();
}

double read_double(torch::serialize::InputArchive& a, const char* key) {
  c10::IValue v;
  if (!a.try_read(key, v) || !v.isDouble()) throw CheckpointError(std::string("field '") + key + "' is missing");
  return v.toDouble();
}

int read_int(torch::serialize::InputArchive& a, const char* key) {
  c10::IValue v;
  if (!a.try_read(key, v) || !v.isInt()) throw CheckpointError(std::string("field '") + key + "' is missing");
  return static_cast<int>(v.toInt());
}
}  // namespace

torch::Device pick_device(const std::string& requested) {
  if (requested == "cuda" && !torch::cuda::is_available())
    throw std::runtime_error("device 'cuda' was requested but no CUDA device is available (use auto or cpu)");
  if (requested == "cpu") return torch::kCPU;
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

std::string device_name(const torch::Device& d) { return d.is_cuda() ? "cuda" : "cpu"; }

Batch sample_batch(const torch::Tensor& split, int batch, int block, std::mt19937_64& rng, const torch::Device& d) {
  std::uniform_int_distribution<int64_t> pick(0, split.size(0) - block - 1);
  std::vector<int64_t> starts(batch);
  for (auto& s : starts) s = pick(rng);
  auto offsets = torch::tensor(starts).unsqueeze(1) + torch::arange(block).unsqueeze(0);  // (B, T)
  auto x = split.index({offsets});
  auto y = split.index({offsets + 1});
  return {x.to(d), y.to(d)};
}

void save_checkpoint(const std::string& path, const GPT& model, const torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("config", c10::IValue(to_json(meta.config)));
  archive.write("vocab", c10::IValue(meta.vocab.to_utf8()));
  archive.write("step", c10::IValue(static_cast<int64_t>(meta.step)));
  archive.write("last_eval_step", c10::IValue(static_cast<int64_t>(meta.last_eval_step)));
  archive.write("best_val", c10::IValue(meta.best_val));
  archive.write("elapsed_s", c10::IValue(meta.elapsed_s));
  archive.write("loss_sum", c10::IValue(meta.loss_sum));
  archive.write("loss_count", c10::IValue(static_cast<int64_t>(meta.loss_count)));
  archive.write("batch_rng", c10::IValue(meta.batch_rng));
  if (meta.torch_rng.defined()) archive.write("torch_rng", meta.torch_rng);
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  if (optimizer) {
    torch::serialize::OutputArchive optim_archive;
    optimizer->save(optim_archive);
    archive.write("optimizer", optim_archive);
  }
  std::ostringstream bytes;
  archive.save_to(bytes);
  atomic_write(path, bytes.str());
}

LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device) {
  if (!file_exists(path)) throw CheckpointError("checkpoint '" + path + "' does not exist");
  LoadedCheckpoint out;
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, torch::kCPU);
  } catch (const c10::Error&) {
    throw CheckpointError("'" + path + "' is not a readable checkpoint (truncated or another file type)");
  }
  try {
    const std::string format = read_string(archive, "format");
    if (format != kFormat)
      throw CheckpointError("checkpoint format '" + format + "' is not supported (expected " + kFormat + ")");
    std::vector<FieldError> errors;
    out.meta.config = config_from_json(read_string(archive, "config"), Config{}, errors);
    if (!errors.empty()) throw CheckpointError("its config is invalid: " + describe(errors));
    out.meta.vocab = Vocabulary(decode_utf8(read_string(archive, "vocab")));
    out.meta.step = read_int(archive, "step");
    out.meta.last_eval_step = read_int(archive, "last_eval_step");
    out.meta.best_val = read_double(archive, "best_val");
    out.meta.elapsed_s = read_double(archive, "elapsed_s");
    out.meta.loss_sum = read_double(archive, "loss_sum");
    out.meta.loss_count = read_int(archive, "loss_count");
    out.meta.batch_rng = read_string(archive, "batch_rng");
    torch::Tensor rng;
    if (archive.try_read("torch_rng", rng)) out.meta.torch_rng = rng;
    out.model = GPT(out.meta.config, out.meta.vocab.size());
    torch::serialize::InputArchive model_archive;
    if (!archive.try_read("model", model_archive)) throw CheckpointError("it holds no model weights");
    out.model->load(model_archive);
    out.model->to(device);
    out.has_optimizer = archive.try_read("optimizer", out.optimizer_state);
  } catch (const CheckpointError& e) {
    throw CheckpointError("cannot load '" + path + "': " + e.what());
  } catch (const DatasetError& e) {
    throw CheckpointError("cannot load '" + path + "': its vocabulary is corrupt (" + e.what() + ")");
  } catch (const c10::Error& e) {
    throw CheckpointError("cannot load '" + path + "': the weights do not match its config (" +
                          e.what_without_backtrace() + ")");
  }
  return out;
}

}  // namespace moewb
