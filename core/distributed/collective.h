// Data-parallel process groups on PyTorch's own distributed engine (c10d: TCPStore rendezvous, Gloo
// collectives). A group is found the way torchrun describes it -- RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT -- so `torchrun --no-python ... moewb-cli train` and `moewb-cli train --nproc N` start the same
// thing. Gloo carries CPU tensors, and CUDA tensors through host memory.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace moewb {

// Where a process finds its group.
struct Rendezvous {
  int rank = 0, world_size = 1, local_rank = 0;
  int local_world_size = 1;  // ranks on this machine (they share its cores)
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool agent_store = false;           // torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE)
  int restart_count = 0;              // torchrun's attempt: the store's keys are kept apart per attempt
  std::chrono::seconds timeout{300};  // a collective that waits longer than this fails on every rank
  // One machine (--nproc): the ranks meet in this file (MOEWB_STORE_FILE, in a private folder) instead of a
  // TCPStore, whose server would listen on every interface; Gloo then uses 127.0.0.1 only.
  std::string store_file;
};

// The rendezvous from torchrun's environment variables; nullopt when WORLD_SIZE is unset. Throws
// std::invalid_argument naming the variable for a value that is not a valid number or range.
// `lookup` reads a variable (std::getenv; tests pass their own: setenv races with other threads' getenv).
std::optional<Rendezvous> rendezvous_from_environment(const std::function<const char*(const char*)>& lookup =
                                                          [](const char* name) { return std::getenv(name); });

// What CUDA_VISIBLE_DEVICES should be for the rank with `local_rank` among `local_world_size` ranks on this
// machine, so that each sees one GPU as cuda:0: that rank's entry of `visible` (the user's own list), or the
// rank's index when `visible` is empty; nullopt with a single local rank. Throws std::invalid_argument when the
// list names fewer devices than there are local ranks.
std::optional<std::string> rank_visible_devices(const std::string& visible, int local_rank, int local_world_size);

// A collective failed: another rank ended (killed, out of memory) or stopped answering within the timeout.
struct GroupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Whether this build has the distributed engine (Gloo headers were found at configure time).
bool distributed_available();

class Collective {
 public:
  // Joins the group; every rank blocks until all have joined or the timeout passes (GroupError).
  static std::shared_ptr<Collective> join(const Rendezvous& where);
  virtual ~Collective() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;

  // Asynchronous sum of `t` in place over all ranks; wait() finishes it. Every rank must start the same
  // collectives in the same order.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void wait() = 0;  // throws GroupError
  };
  virtual std::unique_ptr<Pending> start_sum(torch::Tensor t) = 0;
  void sum(torch::Tensor t) { start_sum(std::move(t))->wait(); }
  // Rank 0's values into `t` on every rank.
  virtual void broadcast(torch::Tensor t) = 0;
  // True on every rank when it is true on any rank.
  bool any(bool value);
  // Rows of `in` (dim 0) go to the ranks in order, in_splits[r] of them to rank r; `out` receives
  // out_splits[r] rows from rank r, in rank order.
  virtual void all_to_all(torch::Tensor out, torch::Tensor in, std::vector<int64_t> out_splits,
                          std::vector<int64_t> in_splits) = 0;
  // A second group of the same ranks, whose collectives are ordered apart from this one's: expert parallelism
  // exchanges tokens inside the backward pass while the gradient buckets are all-reduced here. Every rank
  // must call it, in the same order.
  virtual std::shared_ptr<Collective> channel(const std::string& name) = 0;
};

}  // namespace moewb
