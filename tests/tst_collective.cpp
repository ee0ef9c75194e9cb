// The data-parallel pieces below the CLI: torchrun's variables read strictly, one GPU per local rank, and two
// ranks (threads of this process, meeting in a FileStore over Gloo) that sum, broadcast, agree, and average
// gradients exactly as one process computes them on the whole batch -- parameters one rank did not use included.
#include <QtTest>
#include <cstdlib>
#include <functional>
#include <map>
#include <thread>

#include "collective.h"
#include "gradient_sync.h"

using namespace moewb;

namespace {

// torchrun's variables as a test gives them (setenv would race with QtTest's watchdog thread reading getenv).
struct Env {
  explicit Env(std::initializer_list<std::pair<const char*, const char*>> values) {
    for (const auto& [name, value] : values) variables[name] = value;
  }
  std::function<const char*(const char*)> lookup() const {
    return [this](const char* name) -> const char* {
      const auto it = variables.find(name);
      return it == variables.end() ? nullptr : it->second.c_str();
    };
  }
  std::map<std::string, std::string> variables;
};

// Runs f(rank, group) on two ranks at once; returns what each threw ("" when nothing).
std::vector<std::string> on_two_ranks(const QString& folder,
                                      const std::function<void(int, const std::shared_ptr<Collective>&)>& f) {
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank)
    threads.emplace_back([&, rank] {
      try {
        Rendezvous where;
        where.rank = rank, where.world_size = 2, where.local_world_size = 2, where.local_rank = rank;
        where.store_file = (folder + "/store").toStdString();
        where.timeout = std::chrono::seconds(30);
        f(rank, Collective::join(where));
      } catch (const std::exception& e) {
        errors[rank] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

// A tiny model: y = W2 tanh(W1 x); `extra` is used only when asked (a rank whose tokens skip an expert). Copies
// of one initialisation (drawn once: two threads drawing from the global generator would interleave).
struct Tiny {
  torch::Tensor w1, w2, extra;
  static std::vector<torch::Tensor> initial() {
    static const std::vector<torch::Tensor> weights = [] {
      torch::manual_seed(5);
      return std::vector<torch::Tensor>{torch::randn({8, 4}), torch::randn({3, 8}), torch::randn({3})};
    }();
    return weights;
  }
  Tiny() {
    const auto w = initial();
    w1 = w[0].clone().requires_grad_();
    w2 = w[1].clone().requires_grad_();
    extra = w[2].clone().requires_grad_();
  }
  torch::Tensor loss(const torch::Tensor& x, bool use_extra) {
    auto y = torch::tanh(x.matmul(w1.t())).matmul(w2.t());
    if (use_extra) y = y + extra;
    return y.pow(2).mean();
  }
  std::vector<torch::Tensor> params() const { return {w1, w2, extra}; }
};

}  // namespace

class TestCollective : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void torchrunsVariablesAreReadStrictly() {
    {
      Env env({});
      QVERIFY(!rendezvous_from_environment(env.lookup()));
    }
    {
      Env env({{"WORLD_SIZE", "4"},
               {"RANK", "3"},
               {"LOCAL_RANK", "1"},
               {"LOCAL_WORLD_SIZE", "2"},
               {"MASTER_ADDR", "10.0.0.2"},
               {"MASTER_PORT", "29411"},
               {"TORCHELASTIC_USE_AGENT_STORE", "True"},
               {"TORCHELASTIC_RESTART_COUNT", "2"}});
      const auto r = rendezvous_from_environment(env.lookup());
      QVERIFY(r);
      QCOMPARE(r->world_size, 4);
      QCOMPARE(r->rank, 3);
      QCOMPARE(r->local_rank, 1);
      QCOMPARE(r->local_world_size, 2);
      QCOMPARE(r->master_addr, std::string("10.0.0.2"));
      QCOMPARE(r->master_port, 29411);
      QVERIFY(r->agent_store);
      QCOMPARE(r->restart_count, 2);
    }
    for (const auto& [name, value] : std::vector<std::pair<const char*, const char*>>{
             {"RANK", "2"}, {"RANK", "1x"}, {"MASTER_PORT", "70000"}, {"LOCAL_WORLD_SIZE", "0"}}) {
      Env env({{"WORLD_SIZE", "2"}, {name, value}});
      try {
        rendezvous_from_environment(env.lookup());
        QFAIL(qPrintable(QString("%1=%2 was accepted").arg(name, value)));
      } catch (const std::invalid_argument& e) {
        QVERIFY2(std::string(e.what()).rfind(name, 0) == 0, e.what());  // the message names the variable
      }
    }
  }

  void eachLocalRankSeesOneGpu() {
    QVERIFY(!rank_visible_devices("", 0, 1));
    QVERIFY(!rank_visible_devices("3", 0, 1));
    QCOMPARE(rank_visible_devices("", 1, 2).value(), std::string("1"));
    QCOMPARE(rank_visible_devices("5,7", 1, 2).value(), std::string("7"));
    QCOMPARE(rank_visible_devices("GPU-ab,GPU-cd", 0, 2).value(), std::string("GPU-ab"));
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, rank_visible_devices("5", 1, 2));
  }

  void twoRanksSumBroadcastAndAgree() {
    QTemporaryDir dir;
    std::vector<std::vector<float>> sums(2), broadcasts(2);
    std::vector<int> any_false(2), any_true(2);
    const auto errors = on_two_ranks(dir.path(), [&](int rank, const std::shared_ptr<Collective>& group) {
      QCOMPARE(group->world_size(), 2);
      auto t = torch::full({3}, static_cast<float>(rank + 1));
      group->sum(t);
      sums[rank] = {t[0].item<float>(), t[2].item<float>()};
      auto b = torch::full({2}, static_cast<float>(10 * (rank + 1)));
      group->broadcast(b);
      broadcasts[rank] = {b[0].item<float>(), b[1].item<float>()};
      any_false[rank] = group->any(false);
      any_true[rank] = group->any(rank == 1);
    });
    QCOMPARE(errors, std::vector<std::string>(2));
    for (int r = 0; r < 2; ++r) {
      QCOMPARE(sums[r], (std::vector<float>{3, 3}));
      QCOMPARE(broadcasts[r], (std::vector<float>{10, 10}));  // rank 0's
      QCOMPARE(any_false[r], 0);
      QCOMPARE(any_true[r], 1);
    }
  }

  // Each rank's gradient on its half of the batch, averaged, is the whole batch's gradient; a parameter only
  // rank 0 used gets half of rank 0's gradient (the other rank contributes zeros), as the mean loss implies.
  void gradientsAverageToTheWholeBatch() {
    Tiny whole;  // draws the initialisation before the ranks' threads copy it
    const auto x = torch::randn({6, 4}, torch::TensorOptions().dtype(torch::kFloat32));
    // the objective the two ranks optimise together: the mean of their two half-batch losses
    (0.5 * (whole.loss(x.narrow(0, 0, 3), true) + whole.loss(x.narrow(0, 3, 3), false))).backward();
    QTemporaryDir dir;
    std::vector<std::vector<torch::Tensor>> grads(2);
    const auto errors = on_two_ranks(dir.path(), [&](int rank, const std::shared_ptr<Collective>& group) {
      Tiny part;
      GradientSync sync(part.params(), group, /*bucket_bytes=*/64);  // several buckets
      QVERIFY(sync.buckets() > 1);
      for (int step = 0; step < 2; ++step) {  // a second step reuses the buckets
        for (auto& p : part.params()) p.mutable_grad() = torch::Tensor();
        sync.arm();
        part.loss(x.narrow(0, 3 * rank, 3), rank == 0).backward();
        sync.finish();
      }
      for (const auto& p : part.params()) grads[rank].push_back(p.grad().clone());
    });
    QCOMPARE(errors, std::vector<std::string>(2));
    const auto expected = whole.params();
    for (int r = 0; r < 2; ++r)
      for (size_t i = 0; i < expected.size(); ++i)
        QVERIFY2(torch::allclose(grads[r][i], expected[i].grad(), 1e-6, 1e-7),
                 qPrintable(QString("rank %1, parameter %2").arg(r).arg(i)));
  }

  void aMissingRankFailsWithinTheTimeout() {
    QTemporaryDir dir;
    Rendezvous where;
    where.rank = 0, where.world_size = 2, where.store_file = (dir.path() + "/store").toStdString();
    where.timeout = std::chrono::seconds(2);
    try {
      Collective::join(where);  // rank 1 never comes
      QFAIL("joined a group whose other rank never came");
    } catch (const GroupError& e) {
      QVERIFY2(std::string(e.what()).find("rank 0 of 2") != std::string::npos, e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestCollective)
#include "tst_collective.moc"
