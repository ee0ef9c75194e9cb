// The data-parallel pieces below the CLI: torchrun's variables read strictly, one GPU per local rank, and two
// ranks (threads of this process, meeting in a FileStore over Gloo) that sum, broadcast, agree, and average
// gradients exactly as one process computes them on the whole batch -- parameters one rank did not use included;
// and expert parallelism: rows that travel between ranks and back, and a model whose experts are split over the
// ranks computing what the whole model computes, gradients included.
#include <QtTest>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "core/distributed/collective.h"
#include "core/distributed/exchange_rows.h"
#include "core/distributed/gradient_sync.h"
#include "core/train/expert_parallel.h"
#include "core/train/optimizer.h"

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

  // Rows go where the splits say and the gradient takes the way back; a rank may send or receive nothing.
  void rowsTravelBetweenRanksAndBack() {
    QTemporaryDir dir;
    std::vector<torch::Tensor> arrived(2), grads(2);
    const auto errors = on_two_ranks(dir.path(), [&](int rank, const std::shared_ptr<Collective>& group) {
      // rank 0 sends its 3 rows: 1 to itself, 2 to rank 1; rank 1 sends its 2 rows to rank 0 and none to itself
      const auto rows = (torch::arange(rank == 0 ? 3 : 2, torch::kFloat32) + 10 * rank).unsqueeze(1).repeat({1, 2});
      const auto source = rows.clone().requires_grad_();
      const std::vector<int64_t> send = rank == 0 ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{2, 0};
      const std::vector<int64_t> recv = rank == 0 ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{2, 0};
      const auto out = exchange_rows(source, send, recv, group->channel("test"));
      arrived[rank] = out.detach().clone();
      // the gradient of sum(out * k) is k on every row, carried back to where the row came from
      (out * (rank + 1)).sum().backward();
      grads[rank] = source.grad().clone();
      // a rank with nothing to send or receive (every token of a batch routed elsewhere) still takes part
      const auto none = exchange_rows(rank == 0 ? rows : rows.narrow(0, 0, 0),
                                      rank == 0 ? std::vector<int64_t>{3, 0} : std::vector<int64_t>{0, 0},
                                      rank == 0 ? std::vector<int64_t>{3, 0} : std::vector<int64_t>{0, 0},
                                      group->channel("test"));
      if (none.size(0) != (rank == 0 ? 3 : 0)) arrived[rank] = torch::Tensor();
    });
    QCOMPARE(errors, std::vector<std::string>(2));
    QVERIFY(torch::equal(arrived[0].select(1, 0), torch::tensor({0.f, 10.f, 11.f})));
    QVERIFY(torch::equal(arrived[1].select(1, 0), torch::tensor({1.f, 2.f})));
    // rank 0's row 0 stayed on rank 0 (gradient 1); its rows 1 and 2 went to rank 1 (gradient 2)
    QVERIFY(torch::equal(grads[0].select(1, 0), torch::tensor({1.f, 2.f, 2.f})));
    QVERIFY(torch::equal(grads[1].select(1, 0), torch::tensor({1.f, 1.f})));
  }

  // Each rank holds 2 of the 4 experts of every layer and trains on its half of the batch: its logits and
  // every gradient are those of the whole model on that half (an expert's gradient: both halves' sum, before
  // finish_gradients halves it), for every routing mode and both expert shapes. Whole gives rank 0 the whole
  // model back. Tolerance: the experts' rows are batched differently (1e-5, float32 summation order).
  void expertsSplitOverRanksComputeTheWholeModel() {
    struct Variant {
      RoutingMode mode;
      bool capacity;
      bool all_to_expert_0 = false;  // rank 1's experts receive no rows at all
      double capacity_factor = 0.5;   // 0.5: C = 6 of 24 tokens binds (padded slots); 4: it does not
    };
    for (const ExpertShape shape : {ExpertShape::mlp, ExpertShape::linear})
      for (const Variant v : {Variant{RoutingMode::softmax, false}, Variant{RoutingMode::topk, false},
                              Variant{RoutingMode::topk, true}, Variant{RoutingMode::sigmoid, false},
                              Variant{RoutingMode::hash, false}, Variant{RoutingMode::topk, false, true},
                              Variant{RoutingMode::topk, true, false, 4.0}}) {
        Config c;
        c.n_layer = 2, c.n_head = 2, c.n_embd = 16, c.block_size = 8, c.bias = true;
        c.ffn = Ffn::moe, c.n_experts = 4, c.expert_shape = shape, c.routing = v.mode, c.top_k = 2;
        c.use_capacity = v.capacity, c.capacity_factor = v.capacity_factor, c.aux_alpha = 0.01, c.sigmoid_tau = 0.4;
        const QString label = QString("%1 %2%3")
                                  .arg(QString::fromStdString(name_of(shape)), QString::fromStdString(name_of(v.mode)),
                                       v.capacity ? QString(" with capacity factor %1").arg(v.capacity_factor)
                                       : v.all_to_expert_0 ? QString(" forced to expert 0")
                                                           : QString());
        checkSplitModel(c, label, v.all_to_expert_0 ? 0 : -1);
      }
  }

  // A training step's gradient pipeline -- GradientSync over the replicated parameters, the experts' sum over
  // ranks scaled by 1/W, clipping to the global norm -- leaves each rank the gradient that one process computes
  // on the whole batch, clipped. The clip (0.05) lies far below the norm, so a per-rank norm would show.
  void expertParallelStepClipsTheWholeBatchsGradient() {
    Config c;
    c.n_layer = 2, c.n_head = 2, c.n_embd = 16, c.block_size = 8, c.ffn = Ffn::moe, c.n_experts = 4, c.top_k = 2;
    c.grad_clip = 0.05;
    const int vocab = 11;
    torch::manual_seed(4);
    GPT whole(c, vocab);
    const auto idx = torch::randint(vocab, {6, c.block_size}, torch::kInt64);
    const auto targets = torch::randint(vocab, {6, c.block_size}, torch::kInt64);
    TrainingOptimizer whole_optimizer(whole, c, Precision::fp32, torch::kCPU);
    whole_optimizer.backward(0.5 * (whole->forward(idx.narrow(0, 0, 3), targets.narrow(0, 0, 3)).loss +
                                    whole->forward(idx.narrow(0, 3, 3), targets.narrow(0, 3, 3)).loss));
    std::map<std::string, torch::Tensor> expected;
    double norm = 0;
    for (const auto& p : whole->named_parameters()) {
      expected[p.key()] = p.value().grad().clone();
      norm += p.value().grad().pow(2).sum().item<double>();
    }
    QVERIFY2(std::sqrt(norm) < 0.05 + 1e-6, "the whole model's gradient was not clipped");
    QTemporaryDir dir;
    std::vector<std::string> mismatches(2);
    const auto errors = on_two_ranks(dir.path(), [&](int rank, const std::shared_ptr<Collective>& group) {
      GPT part(c, vocab);
      {
        torch::NoGradGuard no_grad;
        auto from = whole->parameters(), to = part->parameters();
        for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
      }
      TrainingOptimizer optimizer(part, c, Precision::fp32, torch::kCPU);
      ExpertParallel experts(part, optimizer, group);
      optimizer.set_sharded(experts.sharded(), group);
      GradientSync sync(experts.replicated(), group);
      sync.arm();
      const auto loss = part->forward(idx.narrow(0, 3 * rank, 3), targets.narrow(0, 3 * rank, 3)).loss;
      optimizer.backward(loss, [&] {
        sync.finish();
        experts.finish_gradients();
      });
      for (const auto& p : part->named_parameters()) {
        auto want = expected.at(p.key());
        const auto& got = p.value().grad();
        if (got.sizes() != want.sizes()) {  // an expert block: this rank's half
          const int64_t dim = got.size(0) == want.size(0) ? 1 : 0;
          want = want.narrow(dim, rank * got.size(dim), got.size(dim));
        }
        if (!torch::allclose(got, want, 1e-5, 1e-7)) mismatches[rank] += " " + p.key();
      }
    });
    QCOMPARE(errors, std::vector<std::string>(2));
    for (int r = 0; r < 2; ++r)
      QVERIFY2(mismatches[r].empty(), qPrintable(QString("rank %1 differs in:").arg(r) +
                                                 QString::fromStdString(mismatches[r])));
  }

 private:
  static void checkSplitModel(const Config& c, const QString& label, int forced_expert) {
    const int vocab = 11;
    torch::manual_seed(3);
    GPT whole(c, vocab);
    for (auto& block : whole->h) block->moe->routing.forced_expert = forced_expert;
    whole->eval();
    const auto idx = torch::randint(vocab, {6, c.block_size}, torch::kInt64);
    const auto targets = torch::randint(vocab, {6, c.block_size}, torch::kInt64);
    torch::Tensor one_token;
    {
      torch::NoGradGuard no_grad;
      one_token = whole->forward(idx.narrow(0, 0, 1).narrow(1, 0, 1)).logits;
    }
    // the whole model on each half: what rank 0 and rank 1 must compute
    std::vector<torch::Tensor> logits(2);
    std::vector<std::map<std::string, torch::Tensor>> grads(2);
    for (int half = 0; half < 2; ++half) {
      for (auto& p : whole->parameters()) p.mutable_grad() = torch::Tensor();
      const auto out = whole->forward(idx.narrow(0, 3 * half, 3), targets.narrow(0, 3 * half, 3));
      out.loss.backward();
      logits[half] = out.logits.detach();
      for (const auto& p : whole->named_parameters())
        grads[half][p.key()] = p.value().grad().defined() ? p.value().grad().clone() : torch::zeros_like(p.value());
    }
    QTemporaryDir dir;
    std::vector<std::string> mismatches(2);
    const auto errors = on_two_ranks(dir.path(), [&](int rank, const std::shared_ptr<Collective>& group) {
      GPT part(c, vocab);
      for (auto& block : part->h) block->moe->routing.forced_expert = forced_expert;
      {
        torch::NoGradGuard no_grad;
        auto from = whole->parameters(), to = part->parameters();
        for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
      }
      part->eval();
      TrainingOptimizer optimizer(part, c, Precision::fp32, torch::kCPU);
      ExpertParallel experts(part, optimizer, group);
      std::string& bad = mismatches[rank];
      if (experts.experts_per_rank() != 2) bad += " experts_per_rank";
      const auto out = part->forward(idx.narrow(0, 3 * rank, 3), targets.narrow(0, 3 * rank, 3));
      out.loss.backward();
      if (!torch::allclose(out.logits, logits[rank], 1e-5, 1e-5)) bad += " logits";
      // one token (a trace's last character): its experts lie on one rank at most, the other gets no rows
      {
        torch::NoGradGuard no_grad;
        if (!torch::allclose(part->forward(idx.narrow(0, 0, 1).narrow(1, 0, 1)).logits, one_token, 1e-5, 1e-5))
          bad += " one-token logits";
      }
      std::set<c10::TensorImpl*> sharded;
      for (const auto& p : experts.sharded()) sharded.insert(p.unsafeGetTensorImpl());
      int64_t held = 0, total = 0;
      for (const auto& p : part->named_parameters()) {
        const auto& expected = grads[rank].at(p.key());
        auto g = p.value().grad().defined() ? p.value().grad() : torch::zeros_like(p.value());
        held += p.value().numel(), total += expected.numel();
        if (!sharded.count(p.value().unsafeGetTensorImpl())) {
          if (!torch::allclose(g, expected, 1e-5, 1e-6)) bad += " " + p.key();
          continue;
        }
        // the expert blocks lie along dim 0 (c_fc) or dim 1 (an mlp's c_proj); this rank's are the second half
        const int64_t dim = p.key().find("c_proj") != std::string::npos ? 1 : 0;
        const int64_t part_size = p.value().size(dim);
        if (part_size * 2 != expected.size(dim)) bad += " size of " + p.key();
        const auto both = (grads[0].at(p.key()) + grads[1].at(p.key())).narrow(dim, rank * part_size, part_size);
        if (!torch::allclose(g, both, 1e-5, 1e-6)) bad += " " + p.key();
      }
      if (held >= total) bad += " holds every expert";
      experts.finish_gradients();
      {
        ExpertParallel::Whole gathered(experts);
        if (rank == 0) {
          auto from = whole->parameters(), to = part->parameters();
          for (size_t i = 0; i < from.size(); ++i)
            if (!torch::equal(from[i], to[i])) bad += " gathered parameter " + std::to_string(i);
        }
      }
      int64_t after = 0;
      for (const auto& p : part->parameters()) after += p.numel();
      if (after != held) bad += " not split again after the checkpoint";
    });
    QVERIFY2(errors == std::vector<std::string>(2), qPrintable(label + ": " + QString::fromStdString(errors[0] + errors[1])));
    for (int r = 0; r < 2; ++r)
      QVERIFY2(mismatches[r].empty(),
               qPrintable(label + QString(", rank %1 differs in:").arg(r) + QString::fromStdString(mismatches[r])));
  }

 private Q_SLOTS:
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
