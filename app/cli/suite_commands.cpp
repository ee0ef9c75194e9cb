// `moewb-cli suite`: the paper's five-run comparison, continued where it stopped.
#include "app/cli/suite_commands.h"

#include <filesystem>
#include <iostream>
#include <optional>

#include "app/cli/cli_common.h"
#include "core/base/files.h"
#include "core/train/suite.h"

namespace moewb {

Command add_suite(CLI::App& root) {
  struct Options {
    std::string name, dir = default_runs_directory() + "/paper-suite", preset = "cpu-quick", data = default_dataset();
    ConfigOverrides overrides;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("suite", "the paper's five-run comparison (continues an existing --dir)");
  app->add_option("suite", o->name, "the suite: paper")->check(CLI::IsMember({"paper"}));
  app->add_option("--dir", o->dir, "the suite's folder")->type_name("DIR")->capture_default_str();
  app->add_option("--preset", o->preset, "the base config")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  app->add_option("--data", o->data, "the text")->type_name("FILE")->capture_default_str();
  add_config_keys(app, o->overrides);
  return {app, [o] {
            if (o->name.empty()) throw CLI::ValidationError("say which suite: moewb-cli suite paper [--dir DIR]");
            const std::string data_path = std::filesystem::absolute(o->data).string();
            std::optional<Suite> suite;
            if (file_exists(o->dir + "/suite.json")) {
              suite = Suite::open(o->dir);
              g_log->info("continuing the suite in {}", o->dir);
            } else {
              suite = Suite::create(o->dir, build_config(o->preset, "", o->overrides), data_path);
            }
            catch_stop_signals();
            int last_percent = -1;
            const bool complete = suite->run(g_interrupted, [&](const SuiteProgress& p) {
              const int percent = static_cast<int>(p.fraction() * 100);
              if (percent == last_percent && p.step != p.max_iters) return;
              last_percent = percent;
              g_log->info("suite {:3d}% | run {}/{} {} | step {}/{}", percent, p.variant + 1, p.variants, p.folder,
                          p.step, p.max_iters);
            });
            if (!complete) {
              g_log->info("suite stopped; continue with: moewb-cli suite paper --dir {}", o->dir);
              return 130;
            }
            const Table table = comparison_table(suite->summaries());
            std::cout << "\n"
                      << table.to_markdown() << "\nThe paper (its GPU, linear d x d experts):\n"
                      << paper_table().to_markdown();
            atomic_write(o->dir + "/comparison.md", table.to_markdown());
            atomic_write(o->dir + "/comparison.csv", table.to_csv());
            atomic_write(o->dir + "/comparison.tex", table.to_latex("Five-run comparison (moewb)"));
            return 0;
          }};
}

}  // namespace moewb
