// `moewb-cli prune` and `moewb-cli upcycle` (surgery_cli.h).
#include "app/cli/surgery_cli.h"

#include <cstdio>
#include <iostream>

#include "core/base/numbers.h"
#include "core/train/derived_run.h"

namespace moewb {

namespace {

// The options prune and upcycle share: the source, the new folder, the fine-tuning and the training keys.
struct CommonOptions {
  DerivedRunOptions derived;
  std::string run, checkpoint, device = "auto";
  bool no_train = false;
  ConfigOverrides overrides;

  void add_to(CLI::App* app) {
    auto* r =
        app->add_option("--run", run, "the source run folder (its best checkpoint, else latest)")->type_name("DIR");
    app->add_option("--checkpoint", checkpoint, "a source checkpoint instead")->type_name("FILE")->excludes(r);
    app->add_option("--out", derived.out_dir, "the new run folder (default: beside the source, numbered)")
        ->type_name("DIR");
    add_int(app, "finetune", derived.finetune_steps, "fine-tuning steps of the new run", 1);
    add_int(app, "batches", derived.eval_batches, "validation batches for the before/after loss (default: eval_iters)",
            1);
    app->add_option("--device", device, "where the model runs")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->capture_default_str();
    app->add_flag("--no-train", no_train, "write the new run without fine-tuning it");
  }
  DerivedRunOptions options() const {
    if (run.empty() && checkpoint.empty())
      throw CLI::ValidationError("give the source: --run DIR or --checkpoint FILE");
    DerivedRunOptions o = derived;
    o.device = *enum_from_name<DeviceChoice>(device);  // checked by the option
    o.source = checkpoint.empty() ? run : checkpoint;
    for (const auto& [key, value] : overrides) o.overrides[key] = value;
    return o;
  }
};

// Progress on one terminal line, rewritten in place.
void show_progress(const std::string& what, int64_t done, int64_t total) {
  std::fprintf(stderr, "\r%s %lld/%lld   ", what.c_str(), static_cast<long long>(done), static_cast<long long>(total));
  if (done >= total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

void print_prune_plan(const DerivedRunReport& r) {
  std::printf("source %s\n%-6s", r.source_checkpoint.c_str(), "layer");
  const size_t experts = r.plan.share.empty() ? 0 : r.plan.share[0].size();
  for (size_t e = 0; e < experts; ++e) std::printf(" %7s", ("E" + std::to_string(e)).c_str());
  std::printf("   removed (each expert's share of the layer's routing over the validation split%s)\n",
              r.plan.loss_delta.empty() ? "" : "; knockout loss delta below");
  for (size_t l = 0; l < r.plan.share.size(); ++l) {
    std::printf("%-6zu", l);
    for (double v : r.plan.share[l]) std::printf(" %7.4f", v);
    std::printf("  ");
    for (int e : r.plan.removed[l]) std::printf(" E%d", e);
    std::printf("\n");
    if (!r.plan.loss_delta.empty()) {
      std::printf("%-6s", "");
      for (double v : r.plan.loss_delta[l]) std::printf(" %+7.4f", v);
      std::printf("\n");
    }
  }
  for (const auto& note : r.plan.notes) std::printf("note: %s\n", note.c_str());
}

int finish(const DerivedRunReport& r, bool no_train, const std::function<int(Trainer&)>& train) {
  std::printf("validation loss %.4f -> %.4f (%+.4f) before fine-tuning; parameters %lld -> %lld\n", r.val_before,
              r.val_after, r.val_after - r.val_before, static_cast<long long>(r.parameters_before),
              static_cast<long long>(r.parameters_after));
  std::printf("wrote %s (%s)\n", r.out_dir.c_str(), r.summary.c_str());
  std::fflush(stdout);
  if (no_train) {
    std::printf("fine-tune it with: moewb-cli resume --run %s\n", r.out_dir.c_str());
    return 0;
  }
  auto trainer = Trainer::resume(r.out_dir);
  return train(*trainer);
}

}  // namespace

Command add_prune(CLI::App& root, const std::function<int(Trainer&)>& train) {
  struct Options {
    CommonOptions common;
    PruneRequest request;
    std::string by = "share";
  };
  auto o = std::make_shared<Options>();
  CLI::App* app =
      root.add_subcommand("prune", "a new run without the least used (or least important) experts, fine-tuned");
  o->common.add_to(app);
  auto* share = add_number(app, "min-share", o->request.min_share,
                           "remove every expert whose share of its layer's routing is below this (0 to 1)")
                    ->default_str("");
  add_int(app, "remove", o->request.remove, "remove this many experts per layer", 1)->excludes(share);
  app->add_option("--by", o->by, "rank experts by routing share or by the loss their knockout costs")
      ->check(CLI::IsMember({"share", "loss"}))
      ->capture_default_str();
  add_config_keys(app, o->common.overrides);
  return {app, [o, train, share] {
            PruneRequest request = o->request;
            if (share->count() && !(request.min_share >= 0 && request.min_share <= 1))
              throw CLI::ValidationError("--min-share must be a share from 0 to 1");
            request.ranking = o->by == "loss" ? PruneRanking::loss : PruneRanking::share;
            const DerivedRunReport r = make_pruned_run(o->common.options(), request, show_progress);
            print_prune_plan(r);
            return finish(r, o->common.no_train, train);
          }};
}

Command add_upcycle(CLI::App& root, const std::function<int(Trainer&)>& train) {
  struct Options {
    CommonOptions common;
    std::string method = "partition";
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "upcycle", "a new MoE run from a dense run (MoEfication or sparse upcycling); routing keys shape the MoE");
  o->common.add_to(app);
  app->add_option("--method", o->method, "partition: split the dense FFN into experts; copy: each expert a copy")
      ->check(CLI::IsMember({"partition", "copy"}))
      ->capture_default_str();
  add_config_keys(app, o->common.overrides);
  return {app, [o, train] {
            const DerivedRunReport r =
                make_upcycled_run(o->common.options(),
                                  o->method == "copy" ? UpcycleMethod::copy : UpcycleMethod::partition, show_progress);
            std::printf("source %s\n", r.source_checkpoint.c_str());
            return finish(r, o->common.no_train, train);
          }};
}

}  // namespace moewb
