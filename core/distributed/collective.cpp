// Collective on c10d's ProcessGroupGloo. The concrete class is used rather than c10d::ProcessGroup: its
// allreduce/broadcast have the same signatures in LibTorch 1.13 (a ProcessGroup) and 2.x (a Backend).
#include "core/distributed/collective.h"

#include <cstdlib>

#include "core/base/numbers.h"

#ifdef MOEWB_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace moewb {

namespace {

std::optional<int64_t> env_int(const std::function<const char*(const char*)>& lookup, const char* name, int64_t lowest,
                               int64_t highest) {
  const char* text = lookup(name);
  if (!text) return std::nullopt;
  const auto value = parse_int64(text);
  if (!value || *value < lowest || *value > highest)
    throw std::invalid_argument(std::string(name) + "='" + text + "': expected a whole number from " +
                                std::to_string(lowest) + " to " + std::to_string(highest));
  return value;
}

}  // namespace

std::optional<Rendezvous> rendezvous_from_environment(const std::function<const char*(const char*)>& lookup) {
  const auto world = env_int(lookup, "WORLD_SIZE", 1, 4096);
  if (!world) return std::nullopt;
  Rendezvous r;
  r.world_size = static_cast<int>(*world);
  r.rank = static_cast<int>(env_int(lookup, "RANK", 0, r.world_size - 1).value_or(0));
  r.local_rank = static_cast<int>(env_int(lookup, "LOCAL_RANK", 0, 4095).value_or(r.rank));
  r.local_world_size = static_cast<int>(env_int(lookup, "LOCAL_WORLD_SIZE", 1, 4096).value_or(r.world_size));
  if (const char* addr = lookup("MASTER_ADDR"); addr && *addr) r.master_addr = addr;
  r.master_port = static_cast<int>(env_int(lookup, "MASTER_PORT", 1, 65535).value_or(29500));
  const char* agent = lookup("TORCHELASTIC_USE_AGENT_STORE");
  r.agent_store = agent && std::string(agent) == "True";
  if (const char* file = lookup("MOEWB_STORE_FILE"); file && *file) r.store_file = file;
  r.restart_count = static_cast<int>(env_int(lookup, "TORCHELASTIC_RESTART_COUNT", 0, 1 << 20).value_or(0));
  return r;
}

std::optional<std::string> rank_visible_devices(const std::string& visible, int local_rank, int local_world_size) {
  if (local_world_size <= 1) return std::nullopt;
  if (visible.empty()) return std::to_string(local_rank);
  std::vector<std::string> devices;
  size_t start = 0;
  while (start <= visible.size()) {
    const size_t comma = std::min(visible.find(',', start), visible.size());
    devices.push_back(visible.substr(start, comma - start));
    start = comma + 1;
  }
  if (local_rank >= static_cast<int>(devices.size()))
    throw std::invalid_argument("CUDA_VISIBLE_DEVICES='" + visible + "' names " + std::to_string(devices.size()) +
                                " devices for " + std::to_string(local_world_size) + " ranks on this machine");
  return devices[local_rank];
}

bool Collective::any(bool value) {
  auto flag = torch::full({1}, value ? 1.0f : 0.0f);
  sum(flag);
  return flag.item<float>() > 0;
}

#ifdef MOEWB_GLOO

bool distributed_available() { return true; }

namespace {

std::string describe_failure(const Rendezvous& where, const std::string& what) {
  return "rank " + std::to_string(where.rank) + " of " + std::to_string(where.world_size) +
         ": the process group failed (" + what + "): another rank ended (killed, out of memory) or did not " +
         "answer within " + std::to_string(where.timeout.count()) + " s";
}

std::string describe_join_failure(const Rendezvous& where, const std::string& what) {
  return "rank " + std::to_string(where.rank) + " of " + std::to_string(where.world_size) +
         ": cannot join the process group (" + what + "): are all ranks started, with the same MASTER_ADDR and " +
         "MASTER_PORT? (waited up to " + std::to_string(where.timeout.count()) + " s)";
}

template <class F>
auto guarded(const Rendezvous& where, F&& f, bool joining = false) -> decltype(f()) {
  const auto describe = joining ? describe_join_failure : describe_failure;
  try {
    return f();
  } catch (const c10::Error& e) {
    throw GroupError(describe(where, e.what_without_backtrace()));
  } catch (const GroupError&) {
    throw;
  } catch (const std::exception& e) {
    throw GroupError(describe(where, e.what()));
  }
}

class GlooCollective : public Collective {
 public:
  explicit GlooCollective(const Rendezvous& where) : where_(where) {
    guarded(
        where_,
        [&] {
          c10::intrusive_ptr<c10d::Store> store;
          if (!where.store_file.empty()) {
            store = c10::make_intrusive<c10d::FileStore>(where.store_file, where.world_size);
            store->setTimeout(where.timeout);
          } else {
            store = tcp_store(where);
          }
          // torchrun's agent store outlives restarts: each attempt keeps its own keys, as torch.distributed does
          if (where.agent_store)
            store =
                c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(where.restart_count), store);
          store_ = c10::make_intrusive<c10d::PrefixStore>("moewb", store);
          group_ = make_group(store_);
          return 0;
        },
        /*joining=*/true);
  }

  GlooCollective(const Rendezvous& where, c10::intrusive_ptr<c10d::Store> store) : where_(where), store_(store) {
    guarded(
        where_, [&] { return group_ = make_group(store_), 0; }, /*joining=*/true);
  }

  c10::intrusive_ptr<c10d::ProcessGroupGloo> make_group(const c10::intrusive_ptr<c10d::Store>& store) const {
    auto options = c10d::ProcessGroupGloo::Options::create(where_.timeout);
    options->devices.push_back(device_for(where_));
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, where_.rank, where_.world_size, options);
  }

  static c10::intrusive_ptr<c10d::Store> tcp_store(const Rendezvous& where) {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(where.master_port);
    o.isServer = where.rank == 0 && !where.agent_store;
    o.numWorkers = where.world_size;
    o.waitWorkers = true;  // every rank counts itself in; the server waits for all
    o.timeout = where.timeout;
    return c10::make_intrusive<c10d::TCPStore>(where.master_addr, o);
  }

  int rank() const override { return where_.rank; }
  int world_size() const override { return where_.world_size; }
  std::string backend() const override { return "gloo"; }

  class GlooPending : public Pending {
   public:
    GlooPending(const Rendezvous& where, c10::intrusive_ptr<c10d::Work> work) : where_(where), work_(work) {}
    void wait() override {
      guarded(where_, [&] { return work_->wait(); });
    }

   private:
    const Rendezvous& where_;
    c10::intrusive_ptr<c10d::Work> work_;
  };

  std::unique_ptr<Pending> start_sum(torch::Tensor t) override {
    return guarded(where_, [&] {
      std::vector<at::Tensor> tensors{std::move(t)};
      return std::unique_ptr<Pending>(new GlooPending(where_, group_->allreduce(tensors)));
    });
  }

  void broadcast(torch::Tensor t) override {
    guarded(where_, [&] {
      std::vector<at::Tensor> tensors{std::move(t)};
      return group_->broadcast(tensors)->wait();
    });
  }

  void all_to_all(torch::Tensor out, torch::Tensor in, std::vector<int64_t> out_splits,
                  std::vector<int64_t> in_splits) override {
    guarded(where_, [&] { return group_->alltoall_base(out, in, out_splits, in_splits)->wait(); });
  }

  std::shared_ptr<Collective> channel(const std::string& name) override {
    // numbered, so that a channel opened again (a second trainer in one process) meets on keys of its own
    const std::string prefix = name + "." + std::to_string(channels_++);
    return std::make_shared<GlooCollective>(where_, c10::make_intrusive<c10d::PrefixStore>(prefix, store_));
  }

 private:
  static bool is_loopback(const std::string& addr) {
    return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
  }
  // Where this rank's Gloo connections listen, as torch.distributed chooses: GLOO_SOCKET_IFNAME's interface when
  // set; loopback for a loopback group; else the address this machine's hostname resolves to.
  static std::shared_ptr<::gloo::transport::Device> device_for(const Rendezvous& where) {
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
    if (is_loopback(where.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname(where.master_addr);
    return c10d::ProcessGroupGloo::createDefaultDevice();
  }

  Rendezvous where_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  int channels_ = 0;
};

}  // namespace

std::shared_ptr<Collective> Collective::join(const Rendezvous& where) {
  return std::make_shared<GlooCollective>(where);
}

#else

bool distributed_available() { return false; }

std::shared_ptr<Collective> Collective::join(const Rendezvous&) {
  throw std::runtime_error(
      "this build has no distributed training: LibTorch's Gloo headers were not found when it was configured "
      "(Debian: apt install libgloo-dev, then reconfigure)");
}

#endif

}  // namespace moewb
