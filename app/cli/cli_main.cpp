// moewb-cli's root: the global flags, the terminal's logging, every command group registered, and main().
// moewb-cli: the training core without a window. Options and per-command help come from CLI11;
// log lines go through spdlog (run_log.h), a run's also into its train.log. Every command prints a one-line error
// and exits non-zero on bad input; `train` and `resume` stop cleanly on Ctrl-C with a checkpoint.
#include <csignal>
#include <iostream>
#include <optional>

#include "app/cli/bench_commands.h"
#include "app/cli/cli_common.h"
#include "app/cli/exchange_commands.h"
#include "app/cli/info_commands.h"
#include "app/cli/local_launcher.h"
#include "app/cli/model_commands.h"
#include "app/cli/suite_commands.h"
#include "app/cli/surgery_cli.h"
#include "app/cli/training_commands.h"
#include "app/version.h"
#include "core/distributed/collective.h"
#include "core/train/training.h"

using namespace moewb;

namespace {

constexpr int kUsageExitCode = 2;

const char* kConfigKeys =
    R"(Config keys are those of config.json (`moewb-cli keys`, core/README.md); e.g. --ffn=dense (the presets are a
top-2 MoE of 4 experts with the load-balancing loss at 0.01), --n_experts=8 --routing=sigmoid; the preset gives
the rest.)";
const char* kErrors =
    R"(Errors are one line; --verbose adds LibTorch's backtrace (a run's train.log always keeps it).)";
const char* kTraining =
    R"(train and resume stop after the current step with a checkpoint on Ctrl-C, SIGTERM or SIGHUP (a second one
ends at once), and write every line they print also to the run's train.log.
Data-parallel training: --nproc N on one machine, or torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT), e.g. torchrun --no-python --nproc_per_node=2 moewb-cli train ...; batch_size is the
global batch (each rank trains on batch_size / ranks); rank 0 writes the run folder; a failed or silent rank
ends every rank after --timeout seconds (300). With --expert-parallel each rank also holds only
n_experts / ranks experts of every MoE layer and tokens travel to them (checkpoints still hold every expert).)";

const char* kRunsDirectory =
    R"(Without --run (train, import-pt) or --dir (suite) runs go into $MOEWB_RUNS_DIR, else $XDG_DATA_HOME/moewb/runs,
else ~/.local/share/moewb/runs: where the app keeps its runs too.)";

const char* kVerboseHelp = "errors with LibTorch's C++ backtrace";

// The program's help and version; a later --key=V wins.
void configure_root(CLI::App& root, bool& verbose) {
  root.set_help_all_flag("--help-all", "every command's options");
  root.footer(std::string(kConfigKeys) + "\n" + kErrors + "\n" + kTraining + "\n" + kRunsDirectory);
  root.require_subcommand(1);
  root.set_version_flag("--version", version_text("moewb-cli"), "print the version and the LibTorch built in");
  root.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a later --key=V wins
  root.add_flag("--verbose", verbose, kVerboseHelp);
}

// Every command, in the order --help lists them.
std::vector<Command> add_commands(CLI::App& root, int argc, char** argv) {
  return {
      add_train(root, argc, argv),
      add_resume(root, argc, argv),
      add_eval(root),
      add_generate(root),
      add_intervene(root),
      add_trace(root),
      add_bench(root, argc, argv),
      add_export_pt(root),
      add_prune(root, run_training),
      add_upcycle(root, run_training),
      add_import_pt(root),
      add_export(root, argc, argv),
      add_suite(root),
      add_presets(root),
      add_keys(root),
  };
}

// Each command's help says what concerns it; --verbose may come after the command too.
void finish_command_help(const std::vector<Command>& commands, bool& verbose) {
  for (const Command& c : commands) {
    const std::string name = c.app->get_name();
    c.app->set_help_all_flag();
    c.app->add_flag("--verbose", verbose, kVerboseHelp);
    std::string footer = c.app->get_option_no_throw("--n_layer") ? kConfigKeys : "";
    if (name == "train" || name == "resume") footer += std::string(footer.empty() ? "" : "\n") + kTraining;
    c.app->footer(footer);
  }
}

CLI::App* command_named(const std::vector<Command>& commands, const std::string& name) {
  for (const Command& c : commands)
    if (c.app->get_name() == name) return c.app;
  return nullptr;
}

// An unknown command word, `help` and `help COMMAND` are answered before parsing: their exit code, else none.
std::optional<int> answer_before_parsing(const CLI::App& root, const std::vector<Command>& commands, int argc,
                                         char** argv) {
  // the command word: the first argument that is not an option (only --verbose may come before it); `help` and
  // `help COMMAND` as git and cargo have them
  int at = 1;
  while (at < argc && std::string(argv[at]).rfind("-", 0) == 0) ++at;
  const bool help = at < argc && std::string(argv[at]) == "help";
  const int word = help ? at + 1 : at;
  if (word < argc && !command_named(commands, argv[word])) {
    open_terminal(false);
    g_log->error("unknown command '{}' (moewb-cli --help lists the commands)", argv[word]);
    return kUsageExitCode;
  }
  if (help) {
    std::cout << (word < argc ? command_named(commands, argv[word])->help(root.get_name()) : root.help());
    return 0;
  }
  return std::nullopt;
}

// A usage error's line: CLI11's own words, except for arguments it did not expect, which it lists oddly.
std::string usage_message(const CLI::ParseError& e, const CLI::App* command) {
  if (dynamic_cast<const CLI::ExtrasError*>(&e) && command && !command->remaining().empty()) {
    const std::string first = command->remaining().front();
    return first.rfind("-", 0) == 0 ? "unknown option " + first : "unexpected argument '" + first + "'";
  }
  return e.what();
}

// --help, or one line saying what is wrong and whose --help lists the options.
int report_parse_error(const CLI::App& root, const CLI::ParseError& e) {
  if (e.get_exit_code() == 0) return root.exit(e);  // --help
  if (!g_log) open_terminal(false);
  const auto chosen = root.get_subcommands();
  const CLI::App* command = chosen.empty() ? nullptr : chosen.front();
  g_log->error("{} (moewb-cli{} --help lists the options)", usage_message(e, command),
               command ? " " + command->get_name() : "");
  return kUsageExitCode;
}

// Parses the command line and runs the command it names; every error is one line on the terminal. `verbose` is
// what the parse sets.
int parse_and_run(CLI::App& root, const std::vector<Command>& commands, int argc, char** argv, const bool& verbose) {
  try {
    root.parse(argc, argv);
    open_terminal(verbose);
    for (const Command& c : commands)
      if (c.app->parsed()) return c.run();
    return kUsageExitCode;  // require_subcommand(1) leaves no other case
  } catch (const CLI::ParseError& e) {
    return report_parse_error(root, e);
  } catch (const GroupError& e) {
    g_log->error("{}", e.what());
    return kGroupLostExitCode;
  } catch (const ConfigError& e) {
    std::string list = e.what();  // a line per key
    if (!list.empty() && list.back() == '\n') list.pop_back();
    g_log->error("invalid configuration:\n{}", list);
    return kUsageExitCode;  // what the user gave (options or a config file) cannot train
  } catch (const std::exception& e) {
    g_log->error("{}", e.what());
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // past a file-size limit (ulimit -f) a write then fails with EFBIG and the save says so, keeping the last
  // checkpoint, instead of the signal killing the process mid-save
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App root("moewb-cli: train, inspect and benchmark mixture-of-experts character models", "moewb-cli");
  bool verbose = false;
  configure_root(root, verbose);
  const std::vector<Command> commands = add_commands(root, argc, argv);
  if (argc == 1) {
    std::cout << root.help();
    return kUsageExitCode;
  }
  finish_command_help(commands, verbose);
  if (const std::optional<int> answered = answer_before_parsing(root, commands, argc, argv)) return *answered;
  return parse_and_run(root, commands, argc, argv, verbose);
}
