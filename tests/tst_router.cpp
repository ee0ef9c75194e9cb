// Router invariants on hand-made logits: how many experts each token gets, weight sums, capacity limits and
// which assignments each drop policy removes, straight-through gradients, hash determinism, and the MoE
// layer's dispatch against a per-token reference.
#include <QtTest>

#include "core/model/moe.h"
#include "routing_rows.h"

using namespace moewb;

class TestRouter : public QObject {
  Q_OBJECT

 private:
  // A top-2 layer of 4 experts in eval mode, for the intervention tests.
  static MoEFeedForward eval_layer(const QString& mode) {
    Config c;
    c.ffn = Ffn::moe, c.n_embd = 16, c.n_experts = 4, c.top_k = 2;
    c.routing = enum_from_name<RoutingMode>(mode.toStdString()).value();
    MoEFeedForward layer(c, 1);
    layer->eval();
    return layer;
  }

  static RoutingOptions options(const std::string& mode, int n, int k = 2) {
    RoutingOptions o;
    o.routing = enum_from_name<RoutingMode>(mode).value();
    o.n_experts = n;
    o.top_k = k;
    return o;
  }

 private Q_SLOTS:
  void init() { torch::manual_seed(7); }

  void topkChoosesKDistinctExpertsWithUnitWeights() {
    auto logits = torch::randn({50, 8});
    auto r = route(logits, {}, options("topk", 8, 3));
    QCOMPARE(r.experts.size(1), 3);
    for (int t = 0; t < 50; ++t) QCOMPARE(std::get<0>(at::_unique(r.experts[t])).numel(), 3);
    QVERIFY(torch::allclose(r.weights.sum(-1), torch::ones({50}), 1e-5, 1e-6));
    // the chosen experts are the most probable ones
    auto kth = std::get<0>(r.probs.topk(3, -1)).select(1, 2);
    QVERIFY((r.probs.gather(1, r.experts) >= kth.unsqueeze(1) - 1e-7).all().item<bool>());
    QVERIFY(!r.dropped.any().item<bool>());
  }

  void topkWithoutRenormalisationKeepsProbabilities() {
    auto logits = torch::randn({20, 4});
    auto o = options("topk", 4, 2);
    o.renormalize = false;
    auto r = route(logits, {}, o);
    QVERIFY(torch::allclose(r.weights, r.probs.gather(1, r.experts)));
  }

  void softmaxUsesEveryExpertWithProbabilities() {
    auto logits = torch::randn({10, 5});
    auto r = route(logits, {}, options("softmax", 5));
    QCOMPARE(r.experts.size(1), 5);
    QVERIFY(r.kept.all().item<bool>());
    QVERIFY(torch::allclose(r.weights, torch::softmax(logits, -1)));
    QVERIFY(torch::allclose(r.weights.sum(-1), torch::ones({10})));
  }

  void capacityFormula() {
    QCOMPARE(expert_capacity(1.0, 2, 768, 4), 384);
    QCOMPARE(expert_capacity(0.5, 2, 768, 4), 192);
    QCOMPARE(expert_capacity(1.0, 2, 5, 4), 3);  // ceil(2.5)
  }

  void capacityNeverExceededAndDroppedWeightsAreZero_data() {
    QTest::addColumn<QString>("policy");
    QTest::addColumn<double>("cf");
    QTest::newRow("position cf0.5") << "position" << 0.5;
    QTest::newRow("position cf1.0") << "position" << 1.0;
    QTest::newRow("probability cf0.5") << "probability" << 0.5;
    QTest::newRow("probability cf1.25") << "probability" << 1.25;
  }
  void capacityNeverExceededAndDroppedWeightsAreZero() {
    QFETCH(QString, policy);
    QFETCH(double, cf);
    auto logits = torch::randn({64, 4}) + torch::tensor({2.0f, 0.f, 0.f, -1.f});  // skewed: expert 0 overflows
    auto o = options("topk", 4, 2);
    o.use_capacity = true;
    o.capacity_factor = cf;
    o.drop_policy = enum_from_name<DropPolicy>(policy.toStdString()).value();
    auto r = route(logits, {}, o);
    const int64_t C = expert_capacity(cf, 2, 64, 4);
    for (int e = 0; e < 4; ++e) QVERIFY(((r.experts == e) & r.kept).sum().item<int64_t>() <= C);
    QVERIFY(r.dropped.any().item<bool>());
    QVERIFY((r.weights.masked_select(r.dropped) == 0).all().item<bool>());
    QVERIFY(torch::equal(r.dropped, ~r.kept));
  }

  // The host's pass and the tensor formulation (which a GPU runs) keep the same assignments.
  void capacityOnTheHostEqualsTheTensorFormulation() {
    for (const auto policy : {DropPolicy::position, DropPolicy::probability}) {
      for (const int64_t C : {1, 7, 20, 200}) {
        const auto probs = torch::softmax(torch::randn({97, 8}), -1);
        const auto [top_p, top_i] = probs.topk(3, -1);
        const auto host = capacity_keep_on_host(top_i, top_p, 8, C, policy);
        QVERIFY2(torch::equal(host, capacity_keep_as_tensors(top_i, top_p, 8, C, policy)),
                 qPrintable(QString("policy %1, capacity %2").arg(static_cast<int>(policy)).arg(C)));
        QVERIFY((host.to(torch::kInt64).sum() <= 8 * C).item<bool>());
      }
    }
  }

  void positionPolicyKeepsEarlierTokensAndFirstChoices() {
    // 4 tokens all prefer expert 0 first and expert 1 second; capacity 2 per expert
    auto logits = torch::tensor({3.f, 2.f, 0.f, 0.f}).repeat({4, 1});
    auto keep = capacity_keep(std::get<1>(torch::softmax(logits, -1).topk(2, -1)), torch::ones({4, 2}), 4, 2,
                              DropPolicy::position);
    // expert 0 takes the first choices of tokens 0 and 1, expert 1 their second choices; tokens 2 and 3 drop
    auto expected = torch::tensor({true, true, true, true, false, false, false, false}).view({4, 2});
    QVERIFY(torch::equal(keep, expected));
  }

  void probabilityPolicyKeepsMostProbableAssignments() {
    // one expert, three tokens, capacity 1: the token with the highest probability wins
    auto experts = torch::zeros({3, 1}, torch::kInt64);
    auto priority = torch::tensor({0.2f, 0.9f, 0.5f}).view({3, 1});
    auto keep = capacity_keep(experts, priority, 1, 1, DropPolicy::probability);
    QVERIFY(torch::equal(keep.squeeze(1), torch::tensor({false, true, false})));
    keep = capacity_keep(experts, priority, 1, 1, DropPolicy::position);
    QVERIFY(torch::equal(keep.squeeze(1), torch::tensor({true, false, false})));
  }

  void sigmoidMasksBelowThresholdAndPassesGradientStraightThrough() {
    auto z = torch::tensor({{2.0f, -2.0f, 0.1f}}).requires_grad_(true);
    auto o = options("sigmoid", 3);
    auto r = route(z, {}, o);
    auto g = torch::sigmoid(z).detach();
    QVERIFY(torch::equal(r.kept, g > 0.5));
    QVERIFY(torch::allclose(r.weights, g * (g > 0.5).to(torch::kFloat32)));
    // d(sum c*w)/dz = c*(mask + g)*g*(1-g): non-zero even for the masked expert (index 1)
    auto c = torch::tensor({{1.0f, 1.0f, 1.0f}});
    (r.weights * c).sum().backward();
    auto expected = ((g > 0.5).to(torch::kFloat32) + g) * g * (1 - g);
    QVERIFY(torch::allclose(z.grad(), expected, 1e-5, 1e-6));
    QVERIFY(z.grad()[0][1].item<float>() > 0);
  }

  void sigmoidRouterReceivesGradientInTheLayer() {
    Config c;
    c.n_embd = 16, c.n_head = 2, c.ffn = Ffn::moe, c.n_experts = 4, c.routing = RoutingMode::sigmoid, c.sigmoid_tau = 0.3;
    MoEFeedForward moe(c, 1);
    auto x = torch::randn({2, 5, 16});
    moe->forward(x, torch::zeros({2, 5}, torch::kInt64)).pow(2).sum().backward();
    QVERIFY(moe->router->weight.grad().defined());
    QVERIFY(moe->router->weight.grad().abs().sum().item<float>() > 0);
  }

  void hashRoutingIsFixedPerToken() {
    auto ids = torch::tensor({0, 1, 2, 3, 1, 0, 2}, torch::kInt64);
    auto r1 = route({}, ids, options("hash", 4));
    auto r2 = route({}, ids, options("hash", 4));
    QVERIFY(torch::equal(r1.experts, r2.experts));
    QCOMPARE(r1.experts[0].item<int64_t>(), r1.experts[5].item<int64_t>());
    QCOMPARE(r1.experts[1].item<int64_t>(), r1.experts[4].item<int64_t>());
    QVERIFY(torch::equal(r1.weights, torch::ones({7, 1})));
    QVERIFY(torch::equal(r1.probs.argmax(-1), r1.experts.squeeze(1)));
    // 64 token ids spread over all 4 experts
    auto spread = route({}, torch::arange(64), options("hash", 4)).experts;
    QCOMPARE(std::get<0>(at::_unique(spread)).numel(), 4);
  }

  void auxiliaryLossesFollowTheirFormulas() {
    auto logits = torch::randn({32, 4});
    auto o = options("topk", 4, 1);
    o.aux_alpha = 0.01;
    o.z_beta = 0.001;
    auto r = route(logits, {}, o);
    auto p = torch::softmax(logits, -1);
    auto f = F_counts(r.experts, 4) / 32.0;
    auto expected = 0.01 * 4 * (f * p.mean(0)).sum() + 0.001 * logits.logsumexp(-1).pow(2).mean();
    QVERIFY(torch::allclose(r.aux_loss, expected, 1e-5, 1e-7));
  }

  void dispatchMatchesPerTokenReference_data() { add_routing_rows(); }
  void dispatchMatchesPerTokenReference() {
    const Config c = dispatch_config();
    MoEFeedForward moe(c, 2);
    moe->eval();
    auto x = torch::randn({2, 6, 16});
    auto ids = torch::randint(0, 10, {2, 6}, torch::kInt64);
    std::vector<RouterOutput> routing_out;
    auto y = moe->forward(x, ids, &routing_out).reshape({12, 16});
    const RouterOutput& r = routing_out.at(0);
    auto flat = x.reshape({12, 16});
    for (int t = 0; t < 12; ++t) {
      auto mixed = torch::zeros({1, 16});
      for (int s = 0; s < r.experts.size(1); ++s) {
        if (!r.kept[t][s].item<bool>()) continue;
        mixed += r.weights[t][s] * moe->expert_output(flat[t].unsqueeze(0), r.experts[t][s].item<int64_t>());
      }
      auto expected =
          c.expert_shape == ExpertShape::linear ? moe->c_proj->forward(torch::gelu(mixed)) : mixed + moe->c_proj->bias;
      QVERIFY2(torch::allclose(y[t].unsqueeze(0), expected, 1e-4, 1e-5), qPrintable(QString("token %1").arg(t)));
    }
  }

  // The layer's gradients (input, router, both expert projections and their biases) against autograd through the
  // per-token reference, in fp64 (the CPU's grouped experts with their hand-written backward) and fp32.
  void gradientsMatchPerTokenReference_data() { add_routing_rows(); }
  void gradientsMatchPerTokenReference() {
    for (const bool fp64 : {true, false}) {
      Config c = dispatch_config();
      c.sigmoid_tau = 0.45;
      torch::manual_seed(3);
      MoEFeedForward moe(c, 2);
      const auto dtype = fp64 ? torch::kFloat64 : torch::kFloat32;
      moe->to(dtype);
      const auto x0 = torch::randn({2, 9, 16}, dtype);
      const auto ids = torch::randint(0, 10, {2, 9}, torch::kInt64);
      const auto g = torch::randn({2, 9, 16}, dtype);
      auto grads = [&](bool reference) {
        moe->zero_grad();
        auto x = x0.clone().requires_grad_(true);
        torch::Tensor y;
        if (!reference) {
          y = moe->forward(x, ids);
        } else {
          auto flat = x.reshape({18, 16});
          const auto logits = moe->router ? moe->router->forward(flat).to(torch::kFloat32) : torch::Tensor();
          const RouterOutput r = route(logits, ids.reshape({-1}), moe->routing);
          std::vector<torch::Tensor> rows;
          for (int t = 0; t < 18; ++t) {
            auto mixed = torch::zeros({1, 16}, dtype);
            for (int s = 0; s < r.experts.size(1); ++s) {
              if (!r.kept[t][s].item<bool>()) continue;
              mixed = mixed + r.weights[t][s].to(dtype) *
                                  moe->expert_output(flat[t].unsqueeze(0), r.experts[t][s].item<int64_t>());
            }
            rows.push_back(c.expert_shape == ExpertShape::linear ? moe->c_proj->forward(torch::gelu(mixed))
                                                                 : mixed + moe->c_proj->bias);
          }
          y = torch::cat(rows).view({2, 9, 16});
        }
        (y * g).sum().backward();
        std::vector<torch::Tensor> out{x.grad()};
        for (const auto& p : moe->parameters()) out.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
        return out;
      };
      const auto got = grads(false), want = grads(true);
      const double rtol = fp64 ? 1e-9 : 1e-4, atol = fp64 ? 1e-12 : 1e-6;
      for (size_t i = 0; i < got.size(); ++i)
        QVERIFY2(torch::allclose(got[i], want[i], rtol, atol),
                 qPrintable(QString("%1 gradient %2 differs by %3")
                                .arg(fp64 ? "fp64" : "fp32")
                                .arg(i)
                                .arg((got[i] - want[i]).abs().max().item<double>())));
    }
  }

  // An expert that receives no rows in a batch gets a zero gradient, not whatever its buffer held.
  void anExpertWithoutRowsGetsAZeroGradient() {
    Config c;
    c.ffn = Ffn::moe, c.n_embd = 16, c.n_experts = 4, c.top_k = 2, c.bias = true;
    MoEFeedForward moe(c, 1);
    moe->routing.disabled_expert = 1;
    for (int pass = 0; pass < 2; ++pass) {  // the second pass reuses freed buffers
      moe->zero_grad();
      moe->forward(torch::randn({3, 20, 16}), torch::randint(0, 10, {3, 20})).pow(2).sum().backward();
      QCOMPARE(moe->c_fc->weight.grad().narrow(0, 16, 16).abs().max().item<float>(), 0.0f);
      QCOMPARE(moe->c_fc->bias.grad().narrow(0, 16, 16).abs().max().item<float>(), 0.0f);
      QCOMPARE(moe->c_proj->weight.grad().narrow(1, 16, 16).abs().max().item<float>(), 0.0f);
      QVERIFY(moe->c_fc->weight.grad().narrow(0, 0, 16).abs().max().item<float>() > 0);
    }
  }

  // The grouped experts give the same bits on one thread as on two: each expert's products run on one thread
  // whatever the count, and each token's slots are summed in slot order.
  void groupedExpertsDoNotDependOnTheThreadCount() {
    Config c;
    c.ffn = Ffn::moe, c.n_embd = 32, c.n_experts = 8, c.top_k = 2;
    MoEFeedForward moe(c, 2);
    const auto x0 = torch::randn({4, 32, 32});
    const auto ids = torch::randint(0, 30, {4, 32});
    const int threads = at::get_num_threads();
    auto pass = [&](int n) {
      at::set_num_threads(n);
      moe->zero_grad();
      auto x = x0.clone().requires_grad_(true);
      auto y = moe->forward(x, ids);
      y.pow(2).sum().backward();
      return std::vector<torch::Tensor>{y.detach(), x.grad(), moe->c_fc->weight.grad().clone(),
                                        moe->c_proj->weight.grad().clone(), moe->router->weight.grad().clone()};
    };
    const auto one = pass(1), two = pass(2);
    at::set_num_threads(threads);
    for (size_t i = 0; i < one.size(); ++i) QVERIFY2(torch::equal(one[i], two[i]), qPrintable(QString::number(i)));
  }

  // A bf16 layer against the fp32 per-token reference on the same (bf16-rounded) weights and inputs.
  void dispatchInBf16IsCloseToTheFp32Reference_data() { dispatchMatchesPerTokenReference_data(); }
  void dispatchInBf16IsCloseToTheFp32Reference() {
    const Config c = dispatch_config();
    torch::manual_seed(11);
    MoEFeedForward half(c, 2), full(c, 2);
    half->eval(), full->eval();
    half->to(torch::kBFloat16);
    {
      torch::NoGradGuard no_grad;
      auto from = half->parameters(), to = full->parameters();
      for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i].to(torch::kFloat32));
    }
    auto x = torch::randn({2, 6, 16}).to(torch::kBFloat16);
    auto ids = torch::randint(0, 10, {2, 6}, torch::kInt64);
    std::vector<RouterOutput> r_half, r_full;
    auto y_half = half->forward(x, ids, &r_half);
    auto y_full = full->forward(x.to(torch::kFloat32), ids, &r_full);
    QCOMPARE(y_half.scalar_type(), torch::kBFloat16);
    QCOMPARE(r_half[0].probs.scalar_type(), torch::kFloat32);
    // tokens whose routing decision flipped between the precisions are not comparable
    auto same = (r_half[0].experts == r_full[0].experts).all(1) & (r_half[0].kept == r_full[0].kept).all(1);
    QVERIFY(same.sum().item<int64_t>() >= 6);
    auto diff = (y_half.to(torch::kFloat32).reshape({12, 16}) - y_full.reshape({12, 16})).abs().amax(1);
    const double scale = y_full.abs().max().item<double>();
    QVERIFY2((diff.masked_select(same) <= 0.03 * scale).all().item<bool>(),
             qPrintable(QString("max error %1 of %2").arg(diff.max().item<double>()).arg(scale)));
  }

  // The combine puts rows back by a permutation and sums slots in a fixed order: two passes give the same bits,
  // forward and backward.
  // Interventions on a hand-built layer: disabling expert 1 changes exactly the tokens that expert processed
  // (top-k, sigmoid, hash) and removes its probability; forcing expert 2 makes the layer that expert's FFN.
  void disablingAnExpertChangesExactlyItsTokens_data() {
    QTest::addColumn<QString>("mode");
    for (const char* m : {"topk", "sigmoid", "hash", "softmax"}) QTest::newRow(m) << QString(m);
  }
  void disablingAnExpertChangesExactlyItsTokens() {
    QFETCH(QString, mode);
    MoEFeedForward layer = eval_layer(mode);
    torch::NoGradGuard no_grad;
    const auto x = torch::randn({2, 30, 16});
    const auto ids = torch::randint(0, 50, {2, 30});
    std::vector<RouterOutput> before;
    const auto base = layer->forward(x, ids, &before).reshape({60, 16});
    layer->routing.disabled_expert = 1;
    std::vector<RouterOutput> after;
    const auto changed = layer->forward(x, ids, &after).reshape({60, 16});
    QCOMPARE(after[0].probs.select(1, 1).abs().max().item<float>(), mode == "hash" ? 1.0f : 0.0f);
    int touched = 0;
    for (int t = 0; t < 60; ++t) {
      bool used = false;  // expert 1 processed token t before the intervention
      for (int64_t s = 0; s < before[0].experts.size(1); ++s)
        used = used || (before[0].experts[t][s].item<int64_t>() == 1 && before[0].kept[t][s].item<bool>() &&
                        before[0].weights[t][s].item<float>() > 0);
      const float diff = (changed[t] - base[t]).abs().max().item<float>();
      if (used) {
        ++touched;
        QVERIFY2(diff > 1e-6, qPrintable(QString("token %1 lost expert 1 but did not change").arg(t)));
      } else {
        QVERIFY2(diff < 1e-6, qPrintable(QString("token %1 never used expert 1 but changed by %2").arg(t).arg(diff)));
      }
    }
    QVERIFY(touched > 0 && (mode == "softmax" || touched < 60));
  }

  void forcingOneExpertEqualsThatExpertsFfn_data() { disablingAnExpertChangesExactlyItsTokens_data(); }
  void forcingOneExpertEqualsThatExpertsFfn() {
    QFETCH(QString, mode);
    MoEFeedForward layer = eval_layer(mode);
    torch::NoGradGuard no_grad;
    const auto x = torch::randn({2, 30, 16});
    layer->routing.forced_expert = 2;
    const auto y = layer->forward(x, torch::randint(0, 50, {2, 30})).reshape({60, 16});
    const auto dense = layer->expert_output(x.reshape({60, 16}), 2);  // expert 2 alone, weight 1
    QVERIFY2(torch::allclose(y, dense, 1e-5, 1e-6), qPrintable(QString::number((y - dense).abs().max().item<float>())));
  }

  void combineIsDeterministic() {
    Config c;
    c.n_embd = 32, c.n_head = 2, c.ffn = Ffn::moe, c.n_experts = 8, c.top_k = 2, c.routing = RoutingMode::topk;
    c.use_capacity = true, c.capacity_factor = 0.75;
    torch::manual_seed(5);
    MoEFeedForward moe(c, 2);
    auto x = torch::randn({4, 64, 32});
    auto ids = torch::randint(0, 30, {4, 64}, torch::kInt64);
    auto pass = [&] {
      auto xi = x.clone().requires_grad_(true);
      moe->zero_grad();
      auto y = moe->forward(xi, ids);
      (y * y).sum().backward();
      return std::vector<torch::Tensor>{y.detach(), xi.grad(), moe->c_fc->weight.grad().clone(),
                                        moe->router->weight.grad().clone()};
    };
    const auto a = pass(), b = pass();
    for (size_t i = 0; i < a.size(); ++i) QVERIFY2(torch::equal(a[i], b[i]), qPrintable(QString::number(i)));
  }

 private:
  // A small MoE layer for the current routing row.
  static Config dispatch_config() {
    QFETCH(QString, routing);
    QFETCH(QString, shape);
    QFETCH(bool, capacity);
    Config c;
    c.n_embd = 16, c.n_head = 2, c.bias = true, c.ffn = Ffn::moe, c.n_experts = 4, c.top_k = 2;
    c.routing = enum_from_name<RoutingMode>(routing.toStdString()).value();
    c.expert_shape = enum_from_name<ExpertShape>(shape.toStdString()).value();
    c.use_capacity = capacity, c.capacity_factor = 0.5, c.sigmoid_tau = 0.4;
    return c;
  }

  static torch::Tensor F_counts(const torch::Tensor& experts, int n) {
    return torch::bincount(experts.reshape({-1}), {}, n).to(torch::kFloat32);
  }
};

QTEST_APPLESS_MAIN(TestRouter)
#include "tst_router.moc"
