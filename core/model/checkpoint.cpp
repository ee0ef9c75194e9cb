// Checkpoints: one torch archive holding the model, the optimizer, the step, RNG states, the vocabulary and
// the config, written atomically inside a frame (magic, length, archive, FNV-1a hash of the archive), because
// LibTorch's reader checks no CRC: one flipped weight byte would load silently. Loading verifies the frame,
// then the weights' names and shapes against the stored config and their finiteness, and says which check
// failed. Files from before the frame (a bare archive) still load, without the checksum and with a notice that says
// so (rewriting them with a frame would certify whatever damage they hold). The stored config is validated as a new
// one is: a damaged one must not reach the model (n_head 0 divides by zero). Every failure is one line naming the
// file. Both ways stream between the archive and the file, so a checkpoint is never held in memory beside the
// tensors it holds.
#include <algorithm>
#include <cstring>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <sstream>
#include <vector>

#include "core/base/files.h"
#include "core/model/checkpoint.h"

namespace moewb {

namespace {
constexpr const char* kFormat = "moewb-checkpoint-1";
constexpr char kMagic[8] = {'M', 'O', 'E', 'W', 'B', 'C', 'K', '1'};
constexpr size_t kHeader = sizeof kMagic + 8, kTrailer = 8;

// FNV-1a over a file's bytes, fed in the pieces they are written or read in.
class Fnv1a {
 public:
  void update(const void* data, size_t size) {
    const unsigned char* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) h_ = (h_ ^ bytes[i]) * 1099511628211ull;
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 1469598103934665603ull;
};

std::string u64_bytes(uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

uint64_t u64_at(const FileReader& file, uint64_t at) {
  unsigned char b[8] = {};
  file.read_at(at, b, sizeof b);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(b[i]) << (8 * i);
  return v;
}

// Where the archive lies in a checkpoint file, after verifying its frame; the whole file when it has no frame
// (an older checkpoint). The hash is read in pieces, so a file of several GiB is never held whole.
struct ArchiveSpan {
  uint64_t begin = 0, size = 0;
  bool framed = true;
};

ArchiveSpan verified_archive(const FileReader& file, const std::string& path) {
  char magic[sizeof kMagic] = {};
  if (file.size() < sizeof kMagic || file.read_at(0, magic, sizeof magic) != sizeof magic ||
      std::memcmp(magic, kMagic, sizeof kMagic) != 0)
    return {0, file.size(), false};
  if (file.size() < kHeader + kTrailer) throw CheckpointError("'" + path + "' is truncated (no room for its checksum)");
  const uint64_t size = u64_at(file, sizeof kMagic);
  if (size != file.size() - kHeader - kTrailer)
    throw CheckpointError("'" + path + "' is truncated or padded: its header gives the archive " +
                          std::to_string(size) + " bytes, the file holds " +
                          std::to_string(file.size() - kHeader - kTrailer));
  Fnv1a hash;
  std::vector<char> piece(size_t{1} << 20);
  for (uint64_t at = 0; at < size;) {
    const size_t n = file.read_at(kHeader + at, piece.data(), std::min<uint64_t>(piece.size(), size - at));
    if (n == 0) throw CheckpointError("'" + path + "' shrank while it was read");
    hash.update(piece.data(), n);
    at += n;
  }
  if (hash.value() != u64_at(file, kHeader + size))
    throw CheckpointError("'" + path + "' is corrupt: its checksum does not match (damaged on disk or edited)");
  return {kHeader, size};
}

std::string shape_text(at::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

// Every tensor of a module archive by its dotted name (Module::save nests one archive per submodule).
void collect_tensors(torch::serialize::InputArchive& archive, const std::string& prefix,
                     std::map<std::string, torch::Tensor>& out) {
  for (const std::string& key : archive.keys()) {
    c10::IValue value;
    if (!archive.try_read(key, value)) continue;
    if (value.isTensor()) {
      out[prefix + key] = value.toTensor();
    } else {
      torch::serialize::InputArchive child;
      if (archive.try_read(key, child)) collect_tensors(child, prefix + key + ".", out);
    }
  }
}

// The stored weights must be exactly the ones the stored config builds, shape for shape, and finite.
void check_weights(torch::serialize::InputArchive& archive, const GPT& model, const Config& config) {
  std::map<std::string, torch::Tensor> stored;
  collect_tensors(archive, "", stored);
  std::map<std::string, at::IntArrayRef> expected;
  for (const auto& p : model->named_parameters(true)) expected[p.key()] = p.value().sizes();
  for (const auto& b : model->named_buffers(true)) expected[b.key()] = b.value().sizes();
  const std::string of_config = "its config (n_layer " + std::to_string(config.n_layer) + ", n_embd " +
                                std::to_string(config.n_embd) + ", " +
                                (config.is_moe() ? std::to_string(config.n_experts) + " experts" : "dense") + ")";
  for (const auto& [name, tensor] : stored) {
    const auto it = expected.find(name);
    if (it == expected.end()) throw CheckpointError("it holds weights '" + name + "' that " + of_config + " has not");
    if (tensor.sizes() != it->second)
      throw CheckpointError("'" + name + "' has shape " + shape_text(tensor.sizes()) + " but " + of_config + " needs " +
                            shape_text(it->second));
    if (tensor.is_floating_point() && !torch::isfinite(tensor).all().item<bool>())
      throw CheckpointError("'" + name + "' holds NaN or infinite values (saved from a diverged run)");
  }
  for (const auto& [name, sizes] : expected)
    if (!stored.count(name)) throw CheckpointError("weights '" + name + "' that " + of_config + " needs are missing");
}

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

void save_checkpoint(const std::string& path, const GPT& model, const OptimizerState& optimizer_state,
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
  if (meta.cuda_rng.defined()) archive.write("cuda_rng", meta.cuda_rng);
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  if (optimizer_state) {
    torch::serialize::OutputArchive optim_archive;
    optimizer_state(optim_archive);
    archive.write("optimizer", optim_archive);
  }
  // Streamed into the file: the frame's length is filled in once the archive is out, and the archive is never
  // held in memory, which would double a large model's footprint at every save.
  AtomicFileWriter out(path);
  out.write(kMagic, sizeof kMagic);
  out.write(u64_bytes(0).data(), 8);
  Fnv1a hash;
  uint64_t size = 0;
  // A failed write (a full disk) is kept and thrown once the archive is out: an exception must not cross the zip
  // writer's C code, and a short count would leave LibTorch's writer in an error its destructor throws again.
  std::exception_ptr failed;
  archive.save_to([&](const void* data, size_t n) -> size_t {
    if (failed) return n;
    try {
      out.write(data, n);
    } catch (...) {
      failed = std::current_exception();
    }
    hash.update(data, n);
    size += n;
    return n;
  });
  if (failed) std::rethrow_exception(failed);
  out.write(u64_bytes(hash.value()).data(), 8);
  out.write_at(sizeof kMagic, u64_bytes(size).data(), 8);
  out.commit();
}

namespace {

// LibTorch's reason in one line: its TorchScript errors quote the damaged source over several.
std::string first_line(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    while (!line.empty() && (line.back() == ':' || line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.find_first_not_of(' ') != std::string::npos) return line.substr(line.find_first_not_of(' '));
  }
  return "unreadable";
}

// Why LibTorch could not read the archive, when no frame caught the damage first.
std::string unloadable(const std::string& path, const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return "not enough memory to load '" + path + "'";
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  return "'" + path + "' is damaged or not a moewb checkpoint (" +
         first_line(torch_error ? torch_error->what_without_backtrace() : e.what()) + ")";
}

// "a: x; b: y": the config's errors on the one line a load error takes.
std::string one_line(const std::vector<FieldError>& errors) {
  std::string out;
  for (const FieldError& e : errors)
    out += (out.empty() ? "" : "; ") + (e.field.empty() ? "config" : e.field) + ": " + e.message;
  return out;
}

// The archive of a checkpoint file, its frame verified; `notice` says when it has none to verify.
torch::serialize::InputArchive open_archive(const std::string& path, std::string& notice) {
  std::optional<FileReader> file;
  ArchiveSpan span;
  try {
    file.emplace(path);
    span = verified_archive(*file, path);
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::runtime_error& e) {  // it cannot be opened or read; the message names it
    throw CheckpointError(e.what());
  }
  if (!span.framed)
    notice = "'" + path + "' has no checksum (saved before checkpoints carried one): it loads unverified, so damage "
             "to its weights would go unnoticed";
  torch::serialize::InputArchive archive;
  std::string read_error;  // a read failure must not cross the zip reader's C code either
  try {
    // record by record from the file: only the tensors themselves are allocated
    archive.load_from(
        [&](uint64_t pos, void* data, size_t n) -> size_t {
          if (pos >= span.size) return 0;
          try {
            return file->read_at(span.begin + pos, data, std::min<uint64_t>(n, span.size - pos));
          } catch (const std::runtime_error& e) {
            read_error = e.what();
            return 0;
          }
        },
        [&] { return static_cast<size_t>(span.size); }, torch::kCPU);
  } catch (const c10::Error&) {
    if (!read_error.empty()) throw CheckpointError(read_error);
    throw CheckpointError("'" + path + "' is not a readable checkpoint (truncated or another file type)");
  } catch (const std::exception& e) {  // TorchScript's parser on a damaged archive without a frame
    if (!read_error.empty()) throw CheckpointError(read_error);
    throw CheckpointError(unloadable(path, e));
  }
  // the checksum was read in a pass of its own: a file rewritten in place since then is not the one verified
  if (file->changed_since_open())
    throw CheckpointError("'" + path + "' changed while it was read (another program writes it in place)");
  return archive;
}

// Everything but the tensors; throws CheckpointError naming the field that is missing or invalid.
void read_meta(torch::serialize::InputArchive& archive, CheckpointMeta& meta) {
  const std::string format = read_string(archive, "format");
  if (format != kFormat)
    throw CheckpointError("checkpoint format '" + format + "' is not supported (expected " + kFormat + ")");
  std::vector<FieldError> errors;
  meta.config = config_from_json(read_string(archive, "config"), Config{}, errors);
  if (!errors.empty()) throw CheckpointError("its stored config is unreadable: " + one_line(errors));
  errors = validate(meta.config);
  if (!errors.empty()) throw CheckpointError("its stored config is invalid: " + one_line(errors));
  meta.vocab = Vocabulary(decode_utf8(read_string(archive, "vocab")));
  meta.step = read_int(archive, "step");
  meta.last_eval_step = read_int(archive, "last_eval_step");
  meta.best_val = read_double(archive, "best_val");
  meta.elapsed_s = read_double(archive, "elapsed_s");
  meta.loss_sum = read_double(archive, "loss_sum");
  meta.loss_count = read_int(archive, "loss_count");
  meta.batch_rng = read_string(archive, "batch_rng");
  torch::Tensor rng;
  if (archive.try_read("torch_rng", rng)) meta.torch_rng = rng;
  torch::Tensor cuda_rng;
  if (archive.try_read("cuda_rng", cuda_rng)) meta.cuda_rng = cuda_rng;
}

}  // namespace

LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device) {
  if (!file_exists(path)) throw CheckpointError("checkpoint '" + path + "' does not exist");
  LoadedCheckpoint out;
  torch::serialize::InputArchive archive = open_archive(path, out.notice);
  try {
    read_meta(archive, out.meta);
    out.model = GPT(out.meta.config, out.meta.vocab.size());
    torch::serialize::InputArchive model_archive;
    if (!archive.try_read("model", model_archive)) throw CheckpointError("it holds no model weights");
    check_weights(model_archive, out.model, out.meta.config);
    out.model->load(model_archive);
    out.model->to(device);
    out.has_optimizer = archive.try_read("optimizer", out.optimizer_state);
  } catch (const CheckpointError& e) {
    throw CheckpointError("cannot load '" + path + "': " + e.what());
  } catch (const DatasetError& e) {
    throw CheckpointError("cannot load '" + path + "': its vocabulary is corrupt (" + e.what() + ")");
  } catch (const c10::Error& e) {
    throw CheckpointError("cannot load '" + path + "': the weights do not match its config (" +
                          first_line(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {  // the unpickler on records a damaged archive without a frame garbled
    throw CheckpointError(unloadable(path, e));
  }
  return out;
}

}  // namespace moewb
