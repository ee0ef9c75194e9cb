// Pruning experts and upcycling dense models: a pruned model computes what the original computes with those
// experts disabled, a never-used expert goes without changing the loss, plans keep N equal across layers,
// prune + resume equals a run started from the pruned model, and upcycled experts reproduce the dense FFN.
#include <QtTest>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/base/files.h"
#include "core/inference/inference_impl.h"
#include "core/runs/metrics_csv.h"
#include "core/runs/run_summary.h"
#include "core/train/derived_run.h"
#include "core/train/training.h"
#include "fixtures.h"

using namespace moewb;
namespace fs = std::filesystem;

namespace {

InferenceModel trained(const Config& c, int steps = 6) {
  auto t = Trainer::create(c, corpus(), "", "");
  for (int i = 0; i < steps && !t->done(); ++i) t->advance();
  return t->snapshot();
}

// Per-character losses agree to float rounding (the first character has none).
void same_losses(const std::vector<double>& a, const std::vector<double>& b, double tolerance) {
  QCOMPARE(a.size(), b.size());
  for (size_t i = 1; i < a.size(); ++i)
    QVERIFY2(std::abs(a[i] - b[i]) <= tolerance,
             qPrintable(QString("character %1: %2 vs %3").arg(i).arg(a[i], 0, 'g', 9).arg(b[i], 0, 'g', 9)));
}

}  // namespace

class TestSurgery : public QObject, ScratchFolder {
  Q_OBJECT

 private Q_SLOTS:
  void prunedModelComputesWhatDisablingComputes_data() {
    QTest::addColumn<int>("routing");
    QTest::addColumn<bool>("renormalize");
    QTest::addColumn<int>("shape");
    QTest::newRow("top-2 mlp") << int(RoutingMode::topk) << true << int(ExpertShape::mlp);
    QTest::newRow("top-2 unnormalised") << int(RoutingMode::topk) << false << int(ExpertShape::mlp);
    QTest::newRow("top-2 linear") << int(RoutingMode::topk) << true << int(ExpertShape::linear);
    QTest::newRow("softmax") << int(RoutingMode::softmax) << true << int(ExpertShape::mlp);
    QTest::newRow("sigmoid") << int(RoutingMode::sigmoid) << true << int(ExpertShape::mlp);
  }
  // Removing E1 of layer 0 and E2 of layer 1 gives the original's losses with those two experts disabled, and
  // fewer parameters; the original is untouched.
  void prunedModelComputesWhatDisablingComputes() {
    QFETCH(int, routing);
    QFETCH(bool, renormalize);
    QFETCH(int, shape);
    Config c = moe(tiny_config(8, 4), static_cast<RoutingMode>(routing));
    c.renormalize = renormalize, c.expert_shape = static_cast<ExpertShape>(shape);
    const InferenceModel m = trained(c);
    const std::string text = synthetic_corpus(200, 7);
    const std::vector<double> before = m.char_losses(text);
    const InferenceModel pruned = prune_experts(m, {{1}, {2}});
    QCOMPARE(pruned.config().n_experts, 3);
    QVERIFY(pruned.parameter_count() < m.parameter_count());
    QCOMPARE(pruned.parameter_count(), count_parameters(pruned.config(), m.vocab().size()));
    const InferenceModel disabled = m.intervened({0, 1, -1}).intervened({1, 2, -1});
    same_losses(pruned.char_losses(text), disabled.char_losses(text), 2e-5);
    same_losses(m.char_losses(text), before, 0);
    const RoutingTrace trace = pruned.trace(text);
    QCOMPARE(trace.n_experts, 3);
  }

  // A hand-built model whose routers can never choose E3 (its logit is -100 for every token): its share is 0, a
  // min-share plan removes exactly E3 from every layer, and the loss does not change.
  void pruningANeverUsedExpertLeavesTheLossUnchanged() {
    for (RoutingMode mode : {RoutingMode::topk, RoutingMode::softmax, RoutingMode::sigmoid}) {
      Config c = moe(tiny_config(8, 4), mode);
      c.bias = true;
      const InferenceModel m = trained(c, 2);
      {
        torch::NoGradGuard no_grad;
        for (auto& block : m.impl().model->h) {
          block->ln_2->weight.index_put_({0}, 0.0);  // the router input's first coordinate is the bias, 100
          block->ln_2->bias.index_put_({0}, 100.0);
          auto& router = block->moe->router->weight;
          router.index_put_({torch::indexing::Slice(), 0}, 0.0);
          router[3].zero_().index_put_({0}, -1.0);
        }
      }
      const std::string text = synthetic_corpus(300, 9);
      const auto shares = routing_shares(m, text);
      for (const auto& layer : shares) QVERIFY2(layer[3] < 1e-30, name_of(mode).c_str());
      PruneRequest request;
      request.min_share = 0.01;
      const PrunePlan plan = plan_pruning(m.config(), shares, request);
      QCOMPARE(plan.removed, (std::vector<std::vector<int>>{{3}, {3}}));
      QVERIFY(plan.notes.empty());
      const InferenceModel pruned = prune_experts(m, plan.removed);
      same_losses(pruned.char_losses(text), m.char_losses(text), 1e-6);
    }
  }

  // Every layer loses as many experts as the layer with the most below the threshold; the extra ones are the
  // lowest ranked and named in a note. Impossible requests say why.
  void plansKeepOneExpertCountForEveryLayer() {
    const Config c = moe(tiny_config(8, 4), RoutingMode::topk);
    const std::vector<std::vector<double>> share = {{0.001, 0.35, 0.30, 0.349}, {0.001, 0.001, 0.5, 0.498}};
    PruneRequest below;
    below.min_share = 0.01;
    PrunePlan plan = plan_pruning(c, share, below);
    QCOMPARE(plan.removed, (std::vector<std::vector<int>>{{0, 2}, {0, 1}}));
    QCOMPARE(plan.notes.size(), size_t{1});
    QVERIFY(QString::fromStdString(plan.notes[0]).contains("layer 0") &&
            QString::fromStdString(plan.notes[0]).contains("E2"));
    PruneRequest by_loss;
    by_loss.remove = 1, by_loss.ranking = PruneRanking::loss;
    plan = plan_pruning(c, share, by_loss, {{0.2, 0.01, 0.5, 0.3}, {0.4, 0.3, -0.01, 0.1}});
    QCOMPARE(plan.removed, (std::vector<std::vector<int>>{{1}, {2}}));

    auto rejects = [&](const Config& config, PruneRequest r, const char* words) {
      try {
        plan_pruning(config, share, r);
      } catch (const std::invalid_argument& e) {
        QVERIFY2(QString(e.what()).contains(words), e.what());
        return;
      }
      QFAIL("accepted an impossible pruning");
    };
    PruneRequest none;
    none.min_share = 0.0001;
    rejects(c, none, "least used: layer 0 E0");
    PruneRequest all;
    all.min_share = 0.9;
    rejects(c, all, "leaves none");
    PruneRequest both = below;
    both.remove = 1;
    rejects(c, both, "either");
    rejects(moe(tiny_config(8, 4), RoutingMode::hash), below, "hash");
    rejects(tiny_config(8, 4), below, "dense");
  }

  // `prune` writes a new run at step 0 whose run.json says what was removed from where; resuming it gives exactly
  // the run that Trainer::create starts from the same pruned model.
  void pruneThenResumeEqualsARunStartedFromThePrunedModel() {
    const std::string data_path = dir("corpus.txt");
    std::ofstream(data_path) << synthetic_corpus(4000);
    const TextDataset data = TextDataset::from_file(data_path);
    auto source = Trainer::create(moe(tiny_config(8, 4), RoutingMode::topk), data, dir("source"), data_path);
    while (!source->done()) source->advance();
    source.reset();

    DerivedRunOptions o;
    o.source = dir("source");
    o.out_dir = dir("pruned");
    o.finetune_steps = 6;
    PruneRequest request;
    request.remove = 1;
    const DerivedRunReport report = make_pruned_run(o, request);
    QCOMPARE(report.plan.removed_per_layer(), 1);
    QVERIFY(report.parameters_after < report.parameters_before);
    const auto run = nlohmann::json::parse(read_file(dir("pruned") + "/run.json"));
    QCOMPARE(run["derived_from"]["operation"].get<std::string>(), std::string("prune"));
    QCOMPARE(run["derived_from"]["removed"].get<std::vector<std::vector<int>>>(), report.plan.removed);
    QVERIFY(run["derived_from"]["source_run"].get<std::string>().find("source") != std::string::npos);
    const RunSummary summary = summarize_run(dir("pruned"));
    QVERIFY(QString::fromStdString(summary.derived_from).startsWith("pruned from source: 1 of 4 experts"));
    QCOMPARE(summary.parameters, report.parameters_after);
    QCOMPARE(summary.config.n_experts, 3);
    QCOMPARE(summary.config.max_iters, 6);

    auto resumed = Trainer::resume(dir("pruned"));
    while (!resumed->done()) resumed->advance();
    resumed.reset();

    const InferenceModel original = InferenceModel::load(source_checkpoint(dir("source")));
    const InferenceModel pruned = prune_experts(original, report.plan.removed);
    auto direct = Trainer::create(finetune_config(pruned.config(), 6), data, dir("direct"), data_path, &pruned);
    while (!direct->done()) direct->advance();
    direct.reset();
    for (const char* name : {"train_loss", "val_loss", "L0_load_e0", "L1_load_e2"})
      QCOMPARE(column(dir("pruned"), name), column(dir("direct"), name));
    QCOMPARE(summarize_run(dir("pruned")).last_step, 6);
  }

  void upcycledCopiesComputeWhatTheDenseModelComputes_data() {
    QTest::addColumn<int>("routing");
    QTest::addColumn<int>("k");
    QTest::newRow("top-2 of 4") << int(RoutingMode::topk) << 2;
    QTest::newRow("top-1 of 4") << int(RoutingMode::topk) << 1;
    QTest::newRow("softmax") << int(RoutingMode::softmax) << 2;
  }
  // Sparse upcycling: every expert is the dense FFN, and the combine weights sum to 1, so the MoE model starts
  // exactly where the dense one is.
  void upcycledCopiesComputeWhatTheDenseModelComputes() {
    QFETCH(int, routing);
    QFETCH(int, k);
    const InferenceModel dense = trained(tiny_config(8, 4));
    const InferenceModel up =
        upcycle(dense, moe(tiny_config(8, 4), static_cast<RoutingMode>(routing), 4, k), UpcycleMethod::copy);
    QCOMPARE(up.config().expert_hidden_units(), 4 * 32);
    QCOMPARE(up.config().n_experts, 4);
    const std::string text = synthetic_corpus(200, 5);
    same_losses(up.char_losses(text), dense.char_losses(text), 2e-5);
  }

  // MoEfication: the experts' hidden units are the dense FFN's, regrouped (each expert's sum over its units
  // adds up to the dense FFN's output), every router row starts as its group's mean input weight.
  void partitionSplitsTheDenseFeedForwardExactly() {
    const InferenceModel dense = trained(tiny_config(8, 4));
    const InferenceModel up = upcycle(dense, moe(tiny_config(8, 4), RoutingMode::topk, 4, 2), UpcycleMethod::partition);
    QCOMPARE(up.config().expert_hidden_units(), 32);
    torch::NoGradGuard no_grad;
    const auto x = torch::randn({10, 32});
    for (int l = 0; l < 2; ++l) {
      auto mlp = dense.impl().model->h[static_cast<size_t>(l)]->mlp;
      auto& layer = up.impl().model->h[static_cast<size_t>(l)]->moe;
      const auto want = mlp->c_proj->forward(torch::gelu(mlp->c_fc->forward(x)));
      auto sum = torch::zeros_like(want);
      for (int e = 0; e < 4; ++e) sum += layer->expert_output(x, e);
      QVERIFY(torch::allclose(sum, want, 1e-5, 1e-6));
      const auto groups = layer->c_fc->weight.view({4, 32, 32});
      QVERIFY(torch::allclose(layer->router->weight, groups.mean(1)));
      // the grouping is a permutation of the dense units, not the identity split
      const auto sorted_dense = std::get<0>(mlp->c_fc->weight.sum(1).sort());
      const auto sorted_moe = std::get<0>(layer->c_fc->weight.sum(1).sort());
      QVERIFY(torch::equal(sorted_dense, sorted_moe));
      QVERIFY(!torch::equal(layer->c_fc->weight, mlp->c_fc->weight));
    }
  }

  void upcyclingRefusesWhatItCannotDo() {
    const InferenceModel sparse = trained(moe(tiny_config(8, 4), RoutingMode::topk), 1);
    QVERIFY_EXCEPTION_THROWN(upcycle(sparse, moe(tiny_config(8, 4), RoutingMode::topk), UpcycleMethod::copy),
                             std::invalid_argument);
    const InferenceModel dense = trained(tiny_config(8, 4), 1);
    try {
      upcycle(dense, moe(tiny_config(8, 4), RoutingMode::topk, 3, 2), UpcycleMethod::partition);
      QFAIL("partitioned 128 hidden units into 3 experts");
    } catch (const std::invalid_argument& e) {
      QVERIFY2(QString(e.what()).contains("n_experts must divide"), e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TestSurgery)
#include "tst_surgery.moc"
