// The model: parameter counts, the KV cache against the full forward, overfitting one batch, every routing mode
// in bf16; and the memory it lives in (mimalloc, the resettable peak).
#include <QtTest>

#include <random>
#include <string>

#ifdef MOEWB_MIMALLOC
#include <mimalloc.h>
#endif

#include "core/base/process_memory.h"
#include "core/inference/inference_impl.h"
#include "core/model/batches.h"
#include "core/model/gpt.h"
#include "core/model/machine.h"
#include "core/train/optimizer.h"
#include "fixtures.h"
#include "routing_rows.h"

using namespace moewb;

class TestModel : public QObject {
  Q_OBJECT

 private Q_SLOTS:
#ifdef MOEWB_MIMALLOC
  // LibTorch's CPU tensors come from mimalloc (linked, it replaces malloc for the whole process), and a reset
  // peak starts again from what is resident.
  void cpuTensorsComeFromMimalloc() {
    const auto t = torch::empty({1 << 22});  // 16 MiB: glibc would map it with mmap
    QVERIFY(mi_is_in_heap_region(t.data_ptr()));
    QCOMPARE(QString::fromStdString(allocator_name()).section(' ', 0, 0), QString("mimalloc"));
  }
#endif

  void resetPeakStartsFromWhatIsResident() {
    {
      auto big = torch::ones({1 << 26});  // 256 MiB, touched, then freed
    }
    const double before = peak_rss_mb();
    QVERIFY(reset_peak_rss());
    const double after = peak_rss_mb();
    QVERIFY2(after < before - 200, qPrintable(QString("peak %1 MiB before the reset, %2 after").arg(before).arg(after)));
  }

  void initTestCase() { init_torch_threads(); }

  void parameterCounts_data() {
    QTest::addColumn<int>("experts");
    QTest::addColumn<bool>("bias");
    for (int n : {1, 2, 4, 8, 16, 32, 64, 128})
      for (bool bias : {false, true})
        QTest::newRow(qPrintable(QString("N=%1 bias=%2").arg(n).arg(bias))) << n << bias;
  }
  void parameterCounts() {
    QFETCH(int, experts);
    QFETCH(bool, bias);
    Config dense = tiny_config();
    dense.bias = bias;
    Config m = moe(dense);
    m.n_experts = experts, m.top_k = 1;
    GPT dense_model(dense, 30), moe_model(m, 30);
    // an mlp-shaped MoE partitions the dense FFN: the only extra parameters are the routers (N x d per layer)
    QCOMPARE(moe_model->parameter_count() - dense_model->parameter_count(),
             int64_t{m.n_layer} * experts * m.n_embd);
    QCOMPARE(count_parameters(dense, 30), dense_model->parameter_count());
    QCOMPARE(count_parameters(m, 30), moe_model->parameter_count());
    Config linear = m;
    linear.expert_shape = ExpertShape::linear;
    QCOMPARE(count_parameters(linear, 30), GPT(linear, 30)->parameter_count());
  }

  // The cached character (on the CPU: the decoder's own loops, routing decided on the host) against the whole
  // context recomputed, for every routing mode, both expert shapes, biases and the interventions.
  void kvCacheGivesTheSameLogits_data() {
    QTest::addColumn<QString>("ffn");
    QTest::addColumn<QString>("routing");
    QTest::addColumn<QString>("variant");
    QTest::newRow("dense") << "dense" << "topk" << "";
    QTest::newRow("dense with biases") << "dense" << "topk" << "bias";
    for (const char* routing : {"topk", "softmax", "sigmoid", "hash"}) {
      QTest::newRow(routing) << "moe" << routing << "";
      QTest::newRow((std::string(routing) + " biases").c_str()) << "moe" << routing << "bias";
      QTest::newRow((std::string(routing) + " linear experts, biases").c_str()) << "moe" << routing << "linear bias";
      QTest::newRow((std::string(routing) + " expert 1 disabled").c_str()) << "moe" << routing << "disabled";
      QTest::newRow((std::string(routing) + " expert 2 forced").c_str()) << "moe" << routing << "forced";
    }
    QTest::newRow("topk 3 of 8, not renormalised") << "moe" << "topk" << "k3";
    QTest::newRow("topk with capacity") << "moe" << "topk" << "capacity";
  }
  void kvCacheGivesTheSameLogits() {
    QFETCH(QString, ffn);
    QFETCH(QString, routing);
    QFETCH(QString, variant);
    Config c = tiny_config();
    c.ffn = enum_from_name<Ffn>(ffn.toStdString()).value();
    c.routing = enum_from_name<RoutingMode>(routing.toStdString()).value();
    c.sigmoid_tau = 0.45;
    c.bias = variant.contains("bias");
    if (variant.contains("linear")) c.expert_shape = ExpertShape::linear;
    if (variant == "k3") c.n_experts = 8, c.top_k = 3, c.renormalize = false;
    if (variant == "capacity") c.use_capacity = true, c.capacity_factor = 0.5;
    torch::manual_seed(1);
    GPT model(c, 20);
    model->eval();
    for (auto& block : model->h) {
      if (!block->moe) continue;
      if (variant == "disabled") block->moe->routing.disabled_expert = 1;
      if (variant == "forced") block->moe->routing.forced_expert = 2;
    }
    torch::NoGradGuard no_grad;
    auto idx = torch::randint(0, 20, {1, c.block_size}, torch::kInt64);
    // a capacity limit never binds on one token: the capped model decodes as the uncapped one computes
    auto full = without_capacity(model)->forward(idx).logits;
    KVCache cache;
    const int first = c.use_capacity ? 1 : 5;
    auto prefix = model->forward_cached(idx.narrow(1, 0, first), cache);
    QVERIFY(torch::allclose(prefix, full.narrow(1, 0, first), 1e-4, 1e-5));
    for (int t = first; t < c.block_size; ++t) {
      auto step = model->forward_cached(idx.narrow(1, t, 1), cache);
      QVERIFY2(torch::allclose(step[0][0], full[0][t], 1e-4, 1e-5),
               qPrintable(QString("position %1 differs by %2").arg(t).arg((step[0][0] - full[0][t]).abs().max().item<float>())));
    }
  }

  void tinyMoeOverfitsOneBatch() {
    // 4 x 16 fixed characters and ~27k parameters: memorising them is easy, so the loss must fall from
    // ln(V) (about 3, chance level) to below 0.3 (the true next character gets probability > 0.74 on average).
    Config c = moe(tiny_config());
    TextDataset data = corpus();
    torch::manual_seed(2);
    GPT model(c, data.vocab.size());
    torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-3));
    auto split = token_split(data, 0, static_cast<int64_t>(data.tokens.size()));
    std::mt19937_64 rng(5);
    Batch b = sample_batch(split, 4, c.block_size, rng);
    double first = 0, last = 0;
    for (int i = 0; i < 300; ++i) {
      auto out = model->forward(b.x, b.y);
      opt.zero_grad();
      out.loss.backward();
      opt.step();
      (i == 0 ? first : last) = out.ce.item<double>();
    }
    QVERIFY2(first > 2.5, qPrintable(QString::number(first)));
    QVERIFY2(last < 0.3, qPrintable(QString::number(last)));
  }

  // Every routing mode and expert shape trains under CPU bf16 autocast (the Trainer's path) and as a model
  // whose weights are bf16 themselves; router probabilities stay fp32 either way.
  void everyRoutingTrainsInBf16_data() { add_routing_rows(); }
  void everyRoutingTrainsInBf16() {
    QFETCH(QString, routing);
    QFETCH(QString, shape);
    QFETCH(bool, capacity);
    Config c = moe(tiny_config(), routing.toStdString());
    c.expert_shape = enum_from_name<ExpertShape>(shape.toStdString()).value();
    c.use_capacity = capacity, c.capacity_factor = 0.5;
    c.sigmoid_tau = 0.4, c.aux_alpha = 0.01, c.z_beta = 0.001, c.router_jitter = 0.05, c.dropout = 0.1;
    c.precision = PrecisionChoice::bf16, c.max_iters = 4, c.eval_interval = 4, c.log_interval = 2;
    auto t = Trainer::create(c, corpus(), "", "");
    const auto before = t->snapshot().impl().model->parameters();
    std::vector<double> losses;
    while (!t->done()) {
      Progress p = t->advance();
      if (p.step && p.step->logged) losses.push_back(p.step->loss);
      if (p.eval) QVERIFY(std::isfinite(p.eval->val_loss));
    }
    QCOMPARE(losses.size(), size_t(2));
    for (double l : losses) QVERIFY2(std::isfinite(l) && l > 0, qPrintable(QString::number(l)));
    const auto after = t->snapshot().impl().model->parameters();
    QVERIFY(!torch::equal(before[0], after[0]));

    // pure bf16: weights, activations and gradients in bf16
    torch::manual_seed(3);
    GPT model(c, corpus().vocab.size());
    model->to(torch::kBFloat16);
    model->train();
    TrainingOptimizer opt(model, c, Precision::fp32, torch::kCPU);
    auto idx = torch::randint(0, corpus().vocab.size(), {2, c.block_size}, torch::kInt64);
    std::vector<RouterOutput> routing_out;
    GPTOutput out = model->forward(idx, idx.roll(-1, 1), &routing_out);
    QCOMPARE(out.logits.scalar_type(), torch::kBFloat16);
    QCOMPARE(routing_out.at(0).probs.scalar_type(), torch::kFloat32);
    opt.zero_grad();
    opt.backward(out.loss);
    opt.step();
    QVERIFY(std::isfinite(out.loss.item<double>()));
    for (const auto& p : model->parameters()) {
      QCOMPARE(p.scalar_type(), torch::kBFloat16);
      QVERIFY(torch::isfinite(p).all().item<bool>());
    }
  }
};

QTEST_APPLESS_MAIN(TestModel)
#include "tst_model.moc"
