// `moewb-cli eval`, `generate`, `trace` and `intervene`: the commands that load a checkpoint and read text with it.
#include "app/cli/model_commands.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "core/base/files.h"
#include "core/base/numbers.h"
#include "core/runs/run_folder.h"

namespace moewb {

namespace {

constexpr int kInterventionTextChars = 20000;  // default text of `intervene`: the start of the validation split

// A CSV cell: quoted, with doubled quotes, when it holds a comma, a quote or a line break.
std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string with_decimals(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// The dataset of the run a checkpoint belongs to (<run>/checkpoints/x.pt -> <run>/run.json), else the default.
std::string dataset_of(const std::string& checkpoint) {
  const RunFolder run = RunFolder::of_checkpoint(checkpoint);
  try {
    if (file_exists(run.run_info_file())) return run.read_run_info().at("dataset").get<std::string>();
  } catch (const std::exception&) {
  }
  return default_dataset();
}

// --text TEXT or --text-file FILE; the file's content when given.
struct TextOptions {
  std::string text, file;
  void add_to(CLI::App* app, const std::string& what) {
    auto* t = app->add_option("--text", text, what);
    app->add_option("--text-file", file, "the same, from a file")->type_name("FILE")->excludes(t);
  }
  std::string read() const { return file.empty() ? text : read_file(file); }
};

}  // namespace

Command add_eval(CLI::App& root) {
  struct Options {
    ModelOptions model;
    std::string data;
    int batches = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("eval", "train and validation loss of a checkpoint");
  o->model.add_to(app);
  app->add_option("--data", o->data, "the text (default: the run's dataset)")->type_name("FILE");
  add_int(app, "batches", o->batches, "batches per split (default: the run's eval_iters)", 1);
  return {app, [o] {
            InferenceModel m = o->model.load();
            TextDataset data = TextDataset::from_file(o->data.empty() ? dataset_of(o->model.checkpoint) : o->data);
            const int batches = o->batches > 0 ? o->batches : m.config().eval_iters;
            std::printf("train loss %.4f\nval loss %.4f\n", m.loss(data, false, batches, m.config().seed + 1),
                        m.loss(data, true, batches, m.config().seed + 1));
            return 0;
          }};
}

Command add_generate(CLI::App& root) {
  struct Options {
    ModelOptions model;
    std::string prompt;
    GenerationOptions g;
    int64_t seed = 0;
    bool no_cache = false;
  };
  auto o = std::make_shared<Options>();
  o->seed = static_cast<int64_t>(o->g.seed);
  CLI::App* app = root.add_subcommand("generate", "sample text from a checkpoint");
  o->model.add_to(app);
  app->add_option("--prompt", o->prompt, "the text to continue (characters of the run's vocabulary)");
  add_int(app, "length", o->g.length, "characters to generate", 0);
  app->add_option_function<std::string>(
         "--temperature",
         [o](const std::string& value) {
           const auto t = parse_double(value);
           const std::string problem = t ? temperature_problem(*t) : "must be a number";
           if (!problem.empty()) throw CLI::ValidationError("--temperature " + problem + ", got '" + value + "'");
           o->g.temperature = *t;
         },
         "sampling temperature: 0 is greedy (the most likely character), else at least " +
             format_double(kMinTemperature, 6))
      ->type_name("NUMBER")
      ->default_str(format_double(o->g.temperature, 6));
  add_int(app, "top_k", o->g.top_k, "sample among the k most likely characters (0: all)", 0);
  add_int64(app, "seed", o->seed, "sampling seed", 0);
  app->add_flag("--no-cache", o->no_cache, "recompute every position instead of using the key/value cache");
  return {app, [o] {
            InferenceModel m = o->model.load();
            GenerationOptions g = o->g;
            g.seed = static_cast<uint64_t>(o->seed);
            g.use_cache = !o->no_cache;
            // the prompt is printed once generation has accepted it (an unknown character is an error, not output)
            bool shown = false;
            m.generate(o->prompt, g, [&](const std::string& piece) {
              if (!shown) std::cout << o->prompt, shown = true;
              std::cout << piece << std::flush;
              return true;
            });
            if (!shown) std::cout << o->prompt;
            std::cout << "\n";
            return 0;
          }};
}

Command add_trace(CLI::App& root) {
  struct Options {
    ModelOptions model;
    TextOptions text;
    std::string out;
    bool capacity = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("trace", "every layer's routing of a text, as JSON");
  o->model.add_to(app);
  o->text.add_to(app, "the text to route");
  app->add_option("--out", o->out, "write the JSON here instead of stdout");
  app->add_flag("--capacity", o->capacity,
                "drop as training would, in batches of batch_size x block_size (default: no capacity limit)");
  return {app, [o] {
            InferenceModel m = o->model.load();
            const std::string text = o->text.read();
            if (text.empty()) throw CLI::ValidationError("trace needs --text TEXT or --text-file FILE (non-empty)");
            const std::string json = m.trace(text, {}, o->capacity).to_json();
            if (o->out.empty())
              std::cout << json << "\n";
            else
              atomic_write(o->out, json);
            return 0;
          }};
}

// Knocks out or forces one expert of a layer (never touching the checkpoint) and reports what changes: the
// validation loss on the same batches, per character class on a text, and per character into a CSV.
Command add_intervene(CLI::App& root) {
  struct Options {
    ModelOptions model;
    Intervention iv;
    TextOptions text;
    std::string out, data;
    int batches = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("intervene", "knock out or force one expert and measure the loss change");
  o->model.add_to(app);
  add_int(app, "layer", o->iv.layer, "the MoE layer", 0)->required();
  auto* disable = add_int(app, "disable", o->iv.disable, "the expert to knock out", 0);
  auto* force = add_int(app, "force", o->iv.force, "the expert every token is sent to", 0);
  disable->excludes(force);
  o->text.add_to(app, "the text for the per-character losses (default: the first 20,000 validation characters)");
  app->add_option("--out", o->out, "a CSV of every character's loss before and after");
  add_int(app, "batches", o->batches, "validation batches (default: the run's eval_iters)", 1);
  app->add_option("--data", o->data, "the text (default: the run's dataset)")->type_name("FILE");
  return {app, [o] {
            if (o->iv.disable < 0 && o->iv.force < 0)
              throw CLI::ValidationError("intervene needs --disable E or --force E");
            InferenceModel m = o->model.load();
            TextDataset data = TextDataset::from_file(o->data.empty() ? dataset_of(o->model.checkpoint) : o->data);
            std::string text = o->text.read();
            if (text.empty()) text = data.probe_text(kInterventionTextChars);  // the start of the validation split
            const int batches = o->batches > 0 ? o->batches : m.config().eval_iters;
            const Intervention& iv = o->iv;
            const InferenceModel changed = m.intervened(iv);
            const uint64_t seed = m.config().seed + 1;
            const double val = m.loss(data, true, batches, seed), val_changed = changed.loss(data, true, batches, seed);
            std::printf("intervention: %s\nvalidation loss %.4f -> %.4f (%+.4f) over %d batches\n",
                        iv.describe().c_str(), val, val_changed, val_changed - val, batches);
            const std::u32string chars = decode_utf8(text);
            const std::vector<double> base = m.char_losses(text), after = changed.char_losses(text);
            const LossComparison cmp = compare_losses(chars, base, after);
            std::printf("\n%-20s %10s %7s %8s %8s %8s\n", "characters", "count", "share", "before", "after", "delta");
            for (int c = 0; c < kCharClasses; ++c) {
              const auto& row = cmp.classes[static_cast<size_t>(c)];
              if (row.characters == 0) continue;
              std::printf("%-20s %10lld %6.1f%% %8.4f %8.4f %+8.4f\n", char_class_name(static_cast<CharClass>(c)),
                          static_cast<long long>(row.characters), 100 * row.share, row.base, row.changed, row.delta());
            }
            std::printf("%-20s %10lld %6.1f%% %8.4f %8.4f %+8.4f\n", "all", static_cast<long long>(cmp.all.characters),
                        100.0, cmp.all.base, cmp.all.changed, cmp.all.delta());
            if (!o->out.empty()) {
              std::string csv = "# per-character cross-entropy (nats) of predicting the character, before and after: " +
                                iv.describe() + "\nposition,character,loss,loss_after,delta\n";
              for (size_t i = 1; i < chars.size(); ++i)
                csv += std::to_string(i) + "," + csv_cell(encode_utf8(chars[i])) + "," + with_decimals(base[i], 6) +
                       "," + with_decimals(after[i], 6) + "," + with_decimals(after[i] - base[i], 6) + "\n";
              atomic_write(o->out, csv);
            }
            return 0;
          }};
}

}  // namespace moewb
