// `moewb-cli train` and `moewb-cli resume` (and the training loop that prune and upcycle fine-tune through).
#include "app/cli/training_commands.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include "app/cli/cli_common.h"
#include "app/cli/local_launcher.h"
#include "core/base/files.h"
#include "core/distributed/collective.h"
#include "core/model/machine.h"
#include "core/runs/run_folder.h"
#include "core/train/training_loop.h"

namespace moewb {

namespace {

// The trainer logs its progress; this loop adds the stop. Rank 0 alone speaks for a group (Trainer::join).
int train_loop(Trainer& t) {
  if (t.done()) {
    if (!t.notice().empty()) t.log().warn("{}", t.notice());  // said by the first step otherwise
    t.log().info("{} is complete at step {}; resume --max_iters N trains it further", t.run_dir(), t.step());
    return 0;
  }
  TrainingLoop loop;
  loop.stop = [&t] { return t.stop_requested(g_interrupted); };  // every rank asks at every step
  if (run_training_loop(t, loop) == LoopEnd::finished) return 0;
  t.log().info("stopped at step {}; continue with: moewb-cli resume --run {}", t.step(), t.run_dir());
  return 128 + (g_signal ? g_signal.load() : SIGTERM);
}

// The group this process belongs to (torchrun's variables, or --nproc's), joined; null without one.
std::shared_ptr<Collective> join_group(int timeout_s) {
  auto where = rendezvous_from_environment();
  if (!where || where->world_size == 1) return nullptr;
  where->timeout = std::chrono::seconds(timeout_s);
  // one GPU per rank, each its own cuda:0; set before anything initialises CUDA in this process
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  if (const auto mine = rank_visible_devices(visible ? visible : "", where->local_rank, where->local_world_size))
    setenv("CUDA_VISIBLE_DEVICES", mine->c_str(), 1);
  // the ranks on this machine share its cores
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  set_training_threads(std::max(1, cores / where->local_world_size));
  set_ranks_on_this_machine(where->local_world_size, where->world_size);
  return Collective::join(*where);
}

// Every rank makes its trainer; when one cannot, all stop (the others would wait for it until the timeout).
std::unique_ptr<Trainer> start_in_group(const std::shared_ptr<Collective>& group, bool expert_parallel,
                                        const std::function<std::unique_ptr<Trainer>()>& make) {
  if (!group) {
    if (expert_parallel) std::cerr << "warning: --expert-parallel: a single process holds every expert\n";
    return make();
  }
  std::unique_ptr<Trainer> trainer;
  std::exception_ptr failure;
  try {
    trainer = make();
  } catch (...) {
    failure = std::current_exception();
  }
  if (group->any(failure != nullptr)) {
    if (failure) std::rethrow_exception(failure);
    throw std::runtime_error("rank " + std::to_string(group->rank()) +
                             ": another rank could not start the run (its error says why); stopping");
  }
  trainer->join(group, expert_parallel);
  return trainer;
}

}  // namespace

// Trains in the foreground: the run's log also reaches the terminal. An error has been logged (train.log and the
// terminal) by the trainer when it gets here.
int run_training(Trainer& t) {
  catch_stop_signals();
  t.log().sinks().push_back(g_terminal);
  try {
    return train_loop(t);
  } catch (const GroupError&) {
    // checkpoints are written whole or not at all: the last one stands
    if (t.rank() == 0 && !t.run_dir().empty())
      t.log().warn("the last checkpoint in {} is intact; continue with: moewb-cli resume --run {} [--nproc N]{}",
                   t.run_dir(), t.run_dir(), t.expert_parallel() ? " [--expert-parallel]" : "");
    // at once: destructors would wait for the failed collectives, up to the timeout each
    t.log().flush();
    _exit(kGroupLostExitCode);
  } catch (const std::exception&) {
    return 1;
  }
}

Command add_train(CLI::App& root, int argc, char** argv) {
  struct Options {
    std::string preset = machine_preset(), config, data = default_dataset(), run;
    GroupOptions group;
    ConfigOverrides overrides;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "train", "train a new run (folder: --run, else " + default_runs_directory() + "/<time>-<kind>)");
  app->add_option("--preset", o->preset, "the starting config: a top-2-of-4 MoE (--ffn=dense for the dense FFN)")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  app->add_option("--config", o->config, "a config.json whose keys replace the preset's")->type_name("FILE");
  app->add_option("--data", o->data, "the text to train on")->type_name("FILE")->capture_default_str();
  app->add_option("--run", o->run, "the run folder to create")->type_name("DIR");
  o->group.add_to(app);
  add_config_keys(app, o->overrides);
  return {app, [o, argc, argv] {
            Config c = build_config(o->preset, o->config, o->overrides);
            if (o->group.nproc > 1) {
              require_distributed();
              o->group.check(c);
              return launch_local_ranks(o->group.nproc, std::chrono::seconds(o->group.timeout),
                                        without_option(argc, argv, "nproc"));
            }
            catch_stop_signals();  // a stop while starting is kept
            auto group = join_group(o->group.timeout);
            if (group) check_world_size(c, group->world_size());
            if (group && o->group.expert_parallel) check_expert_split(c, group->world_size());
            TextDataset data = TextDataset::from_file(o->data);
            const bool writer = !group || group->rank() == 0;
            std::string run_dir = o->run;
            if (run_dir.empty() && writer) run_dir = default_run_dir(c);
            auto trainer = start_in_group(group, o->group.expert_parallel, [&] {
              return Trainer::create(c, data, writer ? run_dir : "", std::filesystem::absolute(o->data).string());
            });
            return run_training(*trainer);
          }};
}

Command add_resume(CLI::App& root, int argc, char** argv) {
  struct Options {
    std::string run;
    int max_iters = 0;
    GroupOptions group;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand("resume", "continue a run from checkpoints/latest.pt");
  app->add_option("--run", o->run, "the run folder")->type_name("DIR")->required();
  add_int(app, "max_iters", o->max_iters, "extend the schedule to this step (0: the run's own)", 0);
  o->group.add_to(app);
  return {app, [o, argc, argv] {
            if (o->group.nproc > 1) {
              require_distributed();
              std::vector<FieldError> errors;  // a batch that does not split is said once, before any rank starts
              if (const RunFolder folder(o->run); folder.holds_run()) {
                const Config on_disk = config_from_json(read_file(folder.config_file()), Config{}, errors);
                if (errors.empty()) o->group.check(on_disk);
              }
              return launch_local_ranks(o->group.nproc, std::chrono::seconds(o->group.timeout),
                                        without_option(argc, argv, "nproc"));
            }
            catch_stop_signals();  // a stop while starting is kept
            auto group = join_group(o->group.timeout);
            auto trainer = start_in_group(group, o->group.expert_parallel, [&] {
              return Trainer::resume(o->run, o->max_iters, /*read_only=*/group && group->rank() > 0);
            });
            return run_training(*trainer);
          }};
}

}  // namespace moewb
