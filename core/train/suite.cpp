#include "core/train/suite.h"

#include <chrono>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/base/files.h"
#include "core/runs/run_folder.h"
#include "core/train/training_loop.h"

namespace moewb {

namespace fs = std::filesystem;

namespace {
constexpr const char* kSuiteFormat = "moewb-suite-1";
constexpr int kGenerationProbeChars = 500;
}  // namespace

std::vector<SuiteVariant> paper_suite_variants(const Config& base) {
  auto moe = [&](RoutingMode routing, bool capacity, double cf) {
    Config c = base;
    c.ffn = Ffn::moe, c.n_experts = 4, c.routing = routing, c.top_k = 2;
    c.use_capacity = capacity, c.capacity_factor = cf;
    return c;
  };
  Config dense = base;
  dense.ffn = Ffn::dense, dense.use_capacity = false;
  return {{"1-dense", dense},
          {"2-softmax", moe(RoutingMode::softmax, false, 1.0)},
          {"3-top2", moe(RoutingMode::topk, false, 1.0)},
          {"4-top2-cf0.5", moe(RoutingMode::topk, true, 0.5)},
          {"5-top2-cf1.0", moe(RoutingMode::topk, true, 1.0)}};
}

Suite Suite::create(const std::string& dir, const Config& base, const std::string& dataset_path) {
  if (file_exists(dir + "/suite.json")) throw std::runtime_error("'" + dir + "' already holds a suite: open it");
  const TextDataset data = TextDataset::from_file(dataset_path);
  for (const auto& v : paper_suite_variants(base)) {
    auto errors = validate(v.config, data.train_size(), data.val_size());
    if (!errors.empty()) throw ConfigError(errors);
  }
  fs::create_directories(dir);
  nlohmann::json j = {{"format", kSuiteFormat}, {"suite", "paper"}, {"dataset", dataset_path},
                      {"base_config", nlohmann::json::parse(to_json(base))}};
  atomic_write(dir + "/suite.json", j.dump(2) + "\n");
  return open(dir);
}

Suite Suite::open(const std::string& dir) {
  Suite s;
  s.dir_ = dir;
  try {
    const auto j = nlohmann::json::parse(read_file(dir + "/suite.json"));
    if (j.at("format").get<std::string>() != kSuiteFormat) throw std::runtime_error("unknown suite format");
    s.dataset_path_ = j.at("dataset").get<std::string>();
    std::vector<FieldError> errors;
    const Config base = config_from_json(j.at("base_config").dump(), Config{}, errors);
    if (!errors.empty()) throw std::runtime_error("its base config is invalid: " + describe(errors));
    s.variants_ = paper_suite_variants(base);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + dir + "/suite.json' is malformed: " + e.what());
  }
  return s;
}

bool Suite::variant_done(size_t i) const {
  const std::string run = dir_ + "/" + variants_.at(i).folder;
  if (!file_exists(RunFolder(run).summary_file())) return false;
  return summarize_run(run).finished;
}

bool Suite::done() const {
  for (size_t i = 0; i < variants_.size(); ++i)
    if (!variant_done(i)) return false;
  return true;
}

bool Suite::run(const std::atomic<bool>& stop, const std::function<void(const SuiteProgress&)>& on_progress,
                const std::function<void(const Progress&)>& on_event) {
  for (size_t i = 0; i < variants_.size(); ++i) {
    if (variant_done(i)) continue;
    const SuiteVariant& v = variants_[i];
    const std::string run = dir_ + "/" + v.folder;
    std::unique_ptr<Trainer> trainer;
    if (file_exists(RunFolder(run).latest_checkpoint())) {
      trainer = Trainer::resume(run);
    } else {
      fs::remove_all(run);  // a folder without a checkpoint holds nothing worth keeping
      trainer = Trainer::create(v.config, TextDataset::from_file(dataset_path_), run, dataset_path_);
    }
    SuiteProgress progress;
    progress.variant = static_cast<int>(i);
    progress.variants = static_cast<int>(variants_.size());
    progress.folder = v.folder;
    progress.max_iters = trainer->config().max_iters;
    progress.step = trainer->step();
    if (on_progress) on_progress(progress);  // the variant starts (or resumes) here: live views switch to it
    TrainingLoop loop;
    loop.stop = [&stop] { return stop.load(); };
    loop.on_progress = [&](const Progress& p) {
      if (on_event) on_event(p);
      progress.step = trainer->step();
      if (on_progress) on_progress(progress);
    };
    if (run_training_loop(*trainer, loop) == LoopEnd::stopped) return false;
    GenerationOptions g;
    g.length = kGenerationProbeChars;
    const auto start = std::chrono::steady_clock::now();
    trainer->snapshot().generate("", g);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write_generation_speed(run, kGenerationProbeChars / seconds, kGenerationProbeChars);
  }
  return true;
}

std::vector<RunSummary> Suite::summaries() const {
  std::vector<RunSummary> out;
  for (const auto& v : variants_)
    if (RunFolder(dir_ + "/" + v.folder).holds_run()) out.push_back(summarize_run(dir_ + "/" + v.folder));
  return out;
}

}  // namespace moewb
