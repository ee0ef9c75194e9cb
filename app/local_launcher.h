// `moewb-cli train|resume --nproc N`: N ranks of the same command on this machine, as torchrun would start
// them (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1), meeting in a file of a private
// temporary folder (MOEWB_STORE_FILE) rather than on a port: nothing listens beyond 127.0.0.1. The launcher forwards
// Ctrl-C/SIGTERM/SIGHUP once to every rank, and when a rank fails it names it and gives the others the shorter of
// `timeout` and 10 s to end (their collectives fail at once when a peer's connection closes), then names and ends those
// still running (a hung rank).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace moewb {

// `args` is the command line without --nproc (args[0] is ignored: the ranks run this executable).
// Returns the first failing rank's exit status (128 + signal when killed), else the ranks' common status.
int launch_local_ranks(int nproc, std::chrono::seconds timeout, const std::vector<std::string>& args);

// argv without `--name V` / `--name=V`.
std::vector<std::string> without_option(int argc, char** argv, const std::string& name);

}  // namespace moewb
