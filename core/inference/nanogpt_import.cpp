// Weights from PyTorch: a nanoGPT train.py checkpoint or a bare state_dict, read with torch::pickle_load (the
// format torch.save writes), checked key by key against the model its shapes describe.
#include <map>
#include <set>

#include "core/base/files.h"
#include "core/base/numbers.h"
#include "core/inference/inference_impl.h"
#include "core/model/checkpoint.h"
#include "core/model/gpt.h"

namespace moewb {

namespace {

const std::string kCompiledPrefix = "_orig_mod.";  // torch.compile's wrapper, as train.py strips it

c10::impl::GenericDict dict_at(const c10::impl::GenericDict& d, const std::string& key) {
  auto it = d.find(key);
  if (it != d.end() && it->value().isGenericDict()) return it->value().toGenericDict();
  return c10::impl::GenericDict(c10::StringType::get(), c10::AnyType::get());  // absent: empty
}

std::map<std::string, torch::Tensor> tensors_of(const c10::impl::GenericDict& sd, const std::string& path) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : sd) {
    if (!item.key().isString() || !item.value().isTensor())
      throw CheckpointError("'" + path + "' holds something other than named tensors where the weights should be");
    std::string key = item.key().toStringRef();
    if (key.rfind(kCompiledPrefix, 0) == 0) key = key.substr(kCompiledPrefix.size());
    out[key] = item.value().toTensor();
  }
  return out;
}

// nanoGPT's train.py globals that are also keys here (the rest of its config does not apply).
void take_training_keys(const c10::impl::GenericDict& config, Config& c) {
  auto number = [&](const char* key, auto& field) {
    auto it = config.find(std::string(key));
    if (it == config.end()) return;
    if (it->value().isInt()) field = static_cast<std::decay_t<decltype(field)>>(it->value().toInt());
    else if (it->value().isDouble()) field = static_cast<std::decay_t<decltype(field)>>(it->value().toDouble());
  };
  number("batch_size", c.batch_size), number("max_iters", c.max_iters), number("learning_rate", c.learning_rate);
  number("min_lr", c.min_lr), number("warmup_iters", c.warmup_iters), number("lr_decay_iters", c.lr_decay_iters);
  number("weight_decay", c.weight_decay), number("beta1", c.beta1), number("beta2", c.beta2);
  number("grad_clip", c.grad_clip), number("eval_interval", c.eval_interval), number("eval_iters", c.eval_iters);
  number("log_interval", c.log_interval), number("dropout", c.dropout);
}

int64_t layer_count(const std::map<std::string, torch::Tensor>& w, const std::string& path) {
  int64_t layers = 0;
  const std::string prefix = "transformer.h.";
  for (const auto& [key, t] : w) {
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string index = key.substr(prefix.size(), key.find('.', prefix.size()) - prefix.size());
    const auto n = parse_int64(index);
    if (!n || *n < 0 || *n > 100000) throw CheckpointError("'" + path + "' has a key with no layer number: " + key);
    layers = std::max<int64_t>(layers, *n + 1);
  }
  return layers;
}

}  // namespace

InferenceModel InferenceModel::import_nanogpt(const std::string& path, const Vocabulary& vocab, Config base,
                                              int n_head) {
  const std::string bytes = read_file(path);
  c10::IValue root;
  try {
    root = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const c10::Error& e) {
    throw CheckpointError("'" + path + "' is not a file torch.save wrote: " + e.what_without_backtrace());
  }
  if (!root.isGenericDict()) throw CheckpointError("'" + path + "' holds no state_dict (expected a dict of tensors)");
  const auto top = root.toGenericDict();
  const bool checkpoint = top.contains(std::string("model"));
  const auto w = tensors_of(checkpoint ? dict_at(top, "model") : top, path);
  for (const char* needed : {"transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight"})
    if (!w.count(needed)) throw CheckpointError("'" + path + "' is not a nanoGPT model: no key " + needed);
  for (const auto& [key, t] : w)
    if (key.find(".moe.") != std::string::npos)
      throw CheckpointError("'" + path + "' holds an MoE model (key " + key +
                            "); import-pt reads dense nanoGPT models");

  Config c = base;
  const auto args = dict_at(top, "model_args");
  if (checkpoint) take_training_keys(dict_at(top, "config"), c);
  auto arg = [&](const std::string& key) { return args.contains(key) ? args.at(key) : c10::IValue(); };
  c.ffn = Ffn::dense;
  c.n_embd = static_cast<int>(w.at("transformer.wte.weight").size(1));
  c.block_size = static_cast<int>(w.at("transformer.wpe.weight").size(0));
  c.n_layer = static_cast<int>(layer_count(w, path));
  c.bias = w.count("transformer.ln_f.bias") > 0;
  if (n_head > 0) c.n_head = n_head;
  else if (arg("n_head").isInt()) c.n_head = static_cast<int>(arg("n_head").toInt());
  else throw CheckpointError("'" + path + "' is a bare state_dict, which does not say how many attention heads the "
                             "model has: give --n_head");
  if (arg("dropout").isDouble()) c.dropout = arg("dropout").toDouble();
  const int64_t rows = w.at("transformer.wte.weight").size(0);
  if (rows != vocab.size())
    throw CheckpointError("the model has " + std::to_string(rows) + " characters but the dataset's vocabulary has " +
                          std::to_string(vocab.size()) + ": give the text the model was trained on (--data)");
  if (auto errors = validate(c); !errors.empty()) throw CheckpointError("the imported model: " + describe(errors));

  auto impl = std::make_shared<Impl>();
  impl->config = c;
  impl->vocab = vocab;
  impl->model = GPT(c, static_cast<int>(rows));
  std::set<std::string> used = {"lm_head.weight"};
  torch::NoGradGuard no_grad;
  for (auto& item : impl->model->named_parameters()) {
    const std::string key = nanogpt_key(item.key());
    auto it = w.find(key);
    if (it == w.end()) throw CheckpointError("'" + path + "' lacks " + key);
    if (!it->second.sizes().equals(item.value().sizes()))
      throw CheckpointError("'" + path + "': " + key + " has shape " + c10::str(it->second.sizes()) + ", expected " +
                            c10::str(item.value().sizes()));
    item.value().copy_(it->second.to(torch::kFloat32));
    used.insert(key);
  }
  if (w.count("lm_head.weight") && !torch::equal(w.at("lm_head.weight").to(torch::kFloat32),
                                                 impl->model->wte->weight))
    throw CheckpointError("'" + path + "' has an LM head separate from its embedding; nanoGPT and this model tie them");
  for (const auto& [key, t] : w) {
    const bool mask = key.size() > 10 && key.compare(key.size() - 10, 10, ".attn.bias") == 0;  // torch < 2 buffer
    if (!used.count(key) && !mask) throw CheckpointError("'" + path + "' has a key this model lacks: " + key);
  }
  impl->model->eval();
  return InferenceModel(impl);
}

}  // namespace moewb
