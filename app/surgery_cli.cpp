#include "surgery_cli.h"

#include <cstdio>
#include <iostream>

#include "derived_run.h"
#include "numbers.h"

namespace moewb {

namespace {

DerivedRunOptions common_options(CliArgs& args) {
  DerivedRunOptions o;
  o.source = args.has("checkpoint") ? args.take("checkpoint") : args.take("run");
  o.out_dir = args.take("out");
  o.finetune_steps = args.take_int("finetune", o.finetune_steps, 1);
  o.eval_batches = args.take_int("batches", 0, 1);
  o.device = args.take("device", "auto");
  return o;
}

// Progress on one terminal line, rewritten in place.
void show_progress(const std::string& what, int64_t done, int64_t total) {
  std::fprintf(stderr, "\r%s %lld/%lld   ", what.c_str(), static_cast<long long>(done), static_cast<long long>(total));
  if (done >= total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
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

int cmd_prune(CliArgs& args, const std::function<int(Trainer&)>& train) {
  DerivedRunOptions o = common_options(args);
  PruneRequest request;
  if (args.has("min-share")) {
    request.min_share = args.take_double("min-share", -1);
    if (!(request.min_share >= 0)) throw std::invalid_argument("--min-share must be a share from 0 to 1");
  }
  request.remove = args.take_int("remove", 0, 1);
  const std::string by = args.take("by", "share");
  if (by != "share" && by != "loss") throw std::invalid_argument("--by must be share or loss, not '" + by + "'");
  request.ranking = by == "loss" ? PruneRanking::loss : PruneRanking::share;
  const bool no_train = args.take_flag("no-train");
  o.overrides = args.rest();
  if (!args.positional().empty()) throw std::invalid_argument("unexpected argument '" + args.positional()[0] + "'");
  const DerivedRunReport r = make_pruned_run(o, request, show_progress);
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
  return finish(r, no_train, train);
}

int cmd_upcycle(CliArgs& args, const std::function<int(Trainer&)>& train) {
  DerivedRunOptions o = common_options(args);
  const std::string method = args.take("method", "partition");
  if (method != "partition" && method != "copy")
    throw std::invalid_argument("--method must be partition or copy, not '" + method + "'");
  const bool no_train = args.take_flag("no-train");
  o.overrides = args.rest();
  if (!args.positional().empty()) throw std::invalid_argument("unexpected argument '" + args.positional()[0] + "'");
  const DerivedRunReport r =
      make_upcycled_run(o, method == "copy" ? UpcycleMethod::copy : UpcycleMethod::partition, show_progress);
  std::printf("source %s\n", r.source_checkpoint.c_str());
  return finish(r, no_train, train);
}

}  // namespace moewb
