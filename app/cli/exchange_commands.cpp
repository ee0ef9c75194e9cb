// `moewb-cli export-pt`, `import-pt` and `export`: weights out to and in from nanoGPT, a run's figures out.
#include "app/cli/exchange_commands.h"

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/cli_common.h"
#include "app/cli/export_cli.h"
#include "core/train/training.h"

namespace moewb {

Command add_export_pt(CLI::App& root) {
  struct Options {
    ModelOptions model;
    std::string out;
    bool masks = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app =
      root.add_subcommand("export-pt", "a state_dict with nanoGPT's key names (.pt for torch.load, or .safetensors)");
  o->model.add_to(app);
  app->add_option("--out", o->out, "FILE.pt or FILE.safetensors")->required();
  app->add_flag("--attn-bias", o->masks, "include the attention masks nanoGPT's model.py expects on torch < 2");
  return {app, [o] {
            InferenceModel m = o->model.load();
            const bool safetensors = std::filesystem::path(o->out).extension() == ".safetensors";
            if (safetensors)
              m.export_safetensors(o->out);
            else
              m.export_state_dict(o->out, o->masks);
            std::cout << "wrote " << o->out << " (" << m.parameter_count() << " parameters, nanoGPT key names, "
                      << (safetensors ? "safetensors" : "torch.load") << ")\n";
            if (m.config().is_moe())
              std::cout << "MoE model: the shared parts use nanoGPT's keys; each feed-forward is "
                           "transformer.h.N.moe.* (router.weight, c_fc.*, c_proj.*: app/README.md, \"export-pt\") "
                           "instead of mlp.*, so nanoGPT's model.py does not load it\n";
            else if (!safetensors)
              std::cout << (o->masks ? "loads with strict=True into nanoGPT's model.py on torch < 2 (attention masks "
                                       "included)"
                                     : "loads with strict=True into nanoGPT's model.py on torch >= 2; --attn-bias for "
                                       "torch < 2")
                        << "\n";
            return 0;
          }};
}

Command add_import_pt(CLI::App& root) {
  struct Options {
    std::string pt, data = default_dataset(), run;
    int n_head = 0;
    ConfigOverrides overrides;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("import-pt", "a nanoGPT checkpoint or state_dict into a new run folder");
  app->add_option("--pt", o->pt, "the nanoGPT checkpoint (ckpt.pt) or a bare state_dict")
      ->type_name("FILE")
      ->required();
  app->add_option("--data", o->data, "the text whose characters the model predicts")
      ->type_name("FILE")
      ->capture_default_str();
  app->add_option("--run", o->run, "the run folder to create")->type_name("DIR");
  add_int(app, "n_head", o->n_head, "attention heads (a bare state_dict does not say)", 1);
  add_config_keys(app, o->overrides);
  return {app, [o] {
            TextDataset data = TextDataset::from_file(o->data);
            InferenceModel m = InferenceModel::import_nanogpt(o->pt, data.vocab, preset("cpu-quick"), o->n_head);
            Config c = m.config();
            std::vector<FieldError> errors;
            for (const auto& [key, value] : o->overrides) {
              if (key == "n_layer" || key == "n_embd" || key == "block_size" || key == "bias" || key == "ffn")
                errors.push_back({key, "comes from the imported weights"});
              else if (std::string error = apply_override(c, key, value); !error.empty())
                errors.push_back({key, error});
            }
            if (!errors.empty()) throw ConfigError(errors);
            const std::string run_dir = o->run.empty() ? default_run_dir(c) : o->run;
            // where the weights came from, in run.json (the Runs table's origin) and train.log
            const std::string pt = std::filesystem::absolute(o->pt).lexically_normal().string();
            const nlohmann::json origin = {
                {"operation", "import-pt"},
                {"source_checkpoint", pt},
                {"summary", "imported from " + std::filesystem::path(pt).filename().string() + " (nanoGPT)"}};
            auto trainer =
                Trainer::create(c, data, run_dir, std::filesystem::absolute(o->data).string(), &m, origin.dump());
            trainer->save_latest();
            g_log->info(
                "imported {} into {}: {} layers, width {}, {} heads, context {}, {} parameters; generate, "
                "trace, eval or resume it (resume trains to max_iters {})",
                o->pt, run_dir, c.n_layer, c.n_embd, c.n_head, c.block_size, m.parameter_count(), c.max_iters);
            return 0;
          }};
}

Command add_export(CLI::App& root, int argc, char** argv) {
  struct Options {
    std::string run, formats = "png,svg,pdf", style = "paper";
    int dpi = 200;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("export", "every figure of a run and its data into DIR/figures");
  app->add_option("--run", o->run, "the run folder")->type_name("DIR")->required();
  app->add_option("--format", o->formats, "comma-separated: png, svg, pdf")->capture_default_str();
  add_int(app, "dpi", o->dpi, "resolution of PNG figures", 24);
  app->add_option("--style", o->style, "figure style")
      ->check(CLI::IsMember({"paper", "paper-serif", "screen"}))
      ->capture_default_str();
  return {app, [o, argc, argv] {
#ifdef MOEWB_HAVE_QT
            return export_run_cli(argc, argv, o->run, o->formats, o->dpi, o->style);
#else
            (void)argc, (void)argv;
            throw std::runtime_error("figure export needs the Qt build (Qt 6 Gui and Svg; configure with "
                                     "-DMOEWB_GUI=ON or -DMOEWB_TESTS=ON)");
            return 1;
#endif
          }};
}

}  // namespace moewb
