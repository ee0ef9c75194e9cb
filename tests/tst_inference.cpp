// A trained model in use: seeded, streamed generation and its temperatures, its own thread count, routing traces
// (long ones in batches, capacity only when asked), routing counts, interventions, and the nanoGPT export and
// import.
#include <QtTest>

#include <atomic>
#include <cmath>
#include <map>
#include <thread>

#include <torch/script.h>

#include "core/inference/inference_impl.h"
#include "core/model/machine.h"
#include "fixtures.h"

using namespace moewb;

class TestInference : public QObject, ScratchFolder {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    init_torch_threads();
  }

  // Cached CPU generation runs its own thread on one core without changing the thread count that other threads
  // (a training started meanwhile) take up.
  void cachedGenerationNarrowsOnlyItsOwnThread() {
    auto fresh_thread_count = [] {
      int n = 0;
      std::thread([&] { n = at::get_num_threads(); }).join();
      return n;
    };
    const int before = fresh_thread_count();
    auto t = Trainer::create(tiny_config(), corpus(), "", "");
    InferenceModel m = t->snapshot();
    GenerationOptions g;
    g.length = 4;
    int inside = 0, elsewhere = 0;
    m.generate("ab", g, [&](const std::string&) {
      inside = at::get_num_threads();
      elsewhere = fresh_thread_count();
      return true;
    });
    QCOMPARE(elsewhere, before);
    QCOMPARE(inside, 1);
    QCOMPARE(at::get_num_threads(), before);
  }

  void exportUsesNanoGptKeysAndShapes_data() {
    QTest::addColumn<bool>("bias");
    QTest::newRow("bias=False") << false;
    QTest::newRow("bias=True") << true;
  }
  void exportUsesNanoGptKeysAndShapes() {
    QFETCH(bool, bias);
    Config c = tiny_config();
    c.bias = bias;
    const std::string run = dir(bias ? "export_bias" : "export");
    auto t = Trainer::create(c, corpus(), run, "synthetic");
    t->advance();
    t->snapshot().export_state_dict(run + "/model.pt");
    const std::string bytes = read_file(run + "/model.pt");
    auto dict = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toGenericDict();
    // nanoGPT model.py GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=16, vocab_size=V, bias=...))
    const int64_t V = corpus().vocab.size(), d = 32;
    std::map<std::string, std::vector<int64_t>> expected = {
        {"transformer.wte.weight", {V, d}}, {"transformer.wpe.weight", {16, d}},
        {"transformer.ln_f.weight", {d}}, {"lm_head.weight", {V, d}}};
    if (bias) expected["transformer.ln_f.bias"] = {d};
    for (int i = 0; i < 2; ++i) {
      const std::string h = "transformer.h." + std::to_string(i) + ".";
      std::map<std::string, std::vector<int64_t>> block = {
          {"ln_1.weight", {d}}, {"attn.c_attn.weight", {3 * d, d}}, {"attn.c_proj.weight", {d, d}},
          {"ln_2.weight", {d}}, {"mlp.c_fc.weight", {4 * d, d}}, {"mlp.c_proj.weight", {d, 4 * d}}};
      if (bias) {
        for (auto [k, n] : std::map<std::string, int64_t>{{"ln_1.bias", d}, {"attn.c_attn.bias", 3 * d},
                                                          {"attn.c_proj.bias", d}, {"ln_2.bias", d},
                                                          {"mlp.c_fc.bias", 4 * d}, {"mlp.c_proj.bias", d}})
          block[k] = {n};
      }
      for (auto& [k, shape] : block) expected[h + k] = shape;
    }
    QCOMPARE(static_cast<size_t>(dict.size()), expected.size());
    for (const auto& [key, shape] : expected) {
      QVERIFY2(dict.contains(key), key.c_str());
      QCOMPARE(dict.at(key).toTensor().sizes().vec(), shape);
    }
    QVERIFY(torch::equal(dict.at("lm_head.weight").toTensor(), dict.at("transformer.wte.weight").toTensor()));
  }

  // export-pt then import-pt gives the same model (with or without the torch < 2 mask buffers); files that are not
  // a dense nanoGPT model of this vocabulary are refused with the reason.
  void importReadsWhatExportWrites() {
    Config c = tiny_config();
    c.bias = true;
    auto t = Trainer::create(c, corpus(), "", "");
    t->advance();
    const InferenceModel live = t->snapshot();
    live.export_state_dict(dir("roundtrip.pt"));
    live.export_state_dict(dir("roundtrip_masks.pt"), /*attention_masks=*/true);
    auto idx = torch::randint(0, corpus().vocab.size(), {2, 16}, torch::kInt64);
    torch::NoGradGuard no_grad;
    for (const char* file : {"roundtrip.pt", "roundtrip_masks.pt"}) {
      const InferenceModel back = InferenceModel::import_nanogpt(dir(file), corpus().vocab, Config{}, 2);
      QCOMPARE(back.config().n_layer, 2);
      QCOMPARE(back.config().n_embd, 32);
      QVERIFY(back.config().bias);
      QVERIFY(torch::equal(live.impl().model->forward(idx).logits, back.impl().model->forward(idx).logits));
    }
    auto refused = [&](const std::string& file, const Vocabulary& vocab, int n_head, const QString& reason) {
      try {
        InferenceModel::import_nanogpt(file, vocab, Config{}, n_head);
        QFAIL(qPrintable("accepted, expected: " + reason));
      } catch (const CheckpointError& e) {
        QVERIFY2(QString(e.what()).contains(reason), e.what());
      } catch (const std::exception& e) {
        QFAIL(qPrintable(QString("not a CheckpointError: ") + e.what()));
      }
    };
    refused(dir("roundtrip.pt"), corpus().vocab, 0, "give --n_head");
    refused(dir("roundtrip.pt"), TextDataset::from_text(synthetic_corpus(4000) + "#", "x").vocab, 2,
            "characters but the dataset");
    auto add_key = [&](const std::string& key, const std::string& out) {
      const std::string bytes = read_file(dir("roundtrip.pt"));
      auto d = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end())).toGenericDict();
      d.insert(key, torch::zeros({4}));
      const std::vector<char> saved = torch::pickle_save(c10::IValue(d));
      atomic_write(dir(out.c_str()), std::string(saved.begin(), saved.end()));
    };
    add_key("transformer.h.0.mlp.extra", "extra.pt");
    refused(dir("extra.pt"), corpus().vocab, 2, "has a key this model lacks: transformer.h.0.mlp.extra");
    add_key("transformer.h.0.moe.router.weight", "moe.pt");
    refused(dir("moe.pt"), corpus().vocab, 2, "holds an MoE model");
    atomic_write(dir("not_a_model.pt"), "plain text");
    refused(dir("not_a_model.pt"), corpus().vocab, 2, "is not a file torch.save wrote");
  }

  void generationIsSeededAndStreams() {
    auto t = Trainer::create(moe(tiny_config()), corpus(), "", "");
    for (int i = 0; i < 3; ++i) t->advance();
    InferenceModel m = t->snapshot();
    GenerationOptions g;
    g.length = 40;  // longer than the context: exercises the cache refill
    std::string streamed;
    const std::string a = m.generate("the ", g, [&](const std::string& s) { return streamed += s, true; });
    QCOMPARE(a.size(), size_t{40});
    QCOMPARE(streamed, a);
    QCOMPARE(m.generate("the ", g), a);
    g.seed = 4;
    QVERIFY(m.generate("the ", g) != a);
    int calls = 0;
    m.generate("", g, [&](const std::string&) { return ++calls < 5; });
    QCOMPARE(calls, 5);
    QVERIFY_THROWS_EXCEPTION(DatasetError, m.generate("QZ#", g));
  }

  // The app's Generation panel passes its temperature as it is: the core refuses what sampling cannot divide by
  // (negative, not finite, or so small that float32 overflows) naming the option; 0 is greedy.
  void generationRefusesTemperaturesItCannotSampleWith() {
    const InferenceModel m = Trainer::create(tiny_config(), corpus(), "", "")->snapshot();
    GenerationOptions g;
    g.length = 5;
    for (double t : {-1.0, 1e-300, 0.005, std::nan(""), HUGE_VAL}) {
      g.temperature = t;
      try {
        m.generate("the ", g);
        QFAIL(qPrintable(QString("temperature %1 was accepted").arg(t)));
      } catch (const std::invalid_argument& e) {
        QVERIFY2(QString(e.what()).startsWith("temperature must be 0 (greedy) or a number of at least 0.01"), e.what());
      }
    }
    g.temperature = 0;
    const std::string greedy = m.generate("the ", g);
    g.seed = 9;
    QCOMPARE(m.generate("the ", g), greedy);  // no randomness
    g.temperature = kMinTemperature;
    QCOMPARE(m.generate("the ", g).size(), size_t{5});
  }

  void traceHasOneRowPerLayerAndCharacter() {
    auto t = Trainer::create(moe(tiny_config()), corpus(), "", "");
    t->advance();
    const std::string text = synthetic_corpus(40);  // two full chunks of 16 and a remainder of 8
    RoutingTrace trace = t->snapshot().trace(text);
    QCOMPARE(trace.length(), 40);
    QCOMPARE(trace.layers.size(), size_t{2});
    for (const auto& l : trace.layers) {
      QCOMPARE(l.length(), 40);
      QCOMPARE(l.slots, 2);
      for (int i = 0; i < 40; ++i) {
        float sum = 0;
        for (int e = 0; e < 4; ++e) sum += l.prob(i, e);
        QVERIFY(std::abs(sum - 1.0f) < 1e-5);
        QVERIFY(l.chosen_at(i, 0) != l.chosen_at(i, 1));
      }
    }
    auto dense = Trainer::create(tiny_config(), corpus(), "", "");
    QVERIFY(dense->snapshot().trace(text).empty());
  }

  // A long text goes through in forwards of at most batch_size chunks (bounded memory), reporting progress, and
  // routes each character as a short trace of the same chunks does.
  void longTracesStreamInBatches() {
    auto t = Trainer::create(moe(tiny_config()), corpus(), "", "");  // batch 4 x block 16
    t->advance();
    const InferenceModel m = t->snapshot();
    const std::string text = synthetic_corpus(3 * 64 + 10);
    std::vector<int64_t> reported;
    const RoutingTrace whole = m.trace(text, [&](int64_t done, int64_t total) {
      QCOMPARE(total, int64_t{202});
      reported.push_back(done);
    });
    QCOMPARE(reported, (std::vector<int64_t>{64, 128, 192, 202}));
    const RoutingTrace part = m.trace(text.substr(64, 64));
    for (size_t l = 0; l < whole.layers.size(); ++l)
      for (int i = 0; i < 64; ++i)
        for (int e = 0; e < 4; ++e)
          QVERIFY(std::abs(whole.layers[l].prob(64 + i, e) - part.layers[l].prob(i, e)) < 1e-5);
    QCOMPARE(whole.layers[0].length(), 202);
  }

  // An intervened model shares the weights and never changes the original; the no-op intervention changes no
  // loss at all; disabling an expert changes losses; class shares sum to 1; impossible interventions are named.
  void interventionsCompareLossesWithoutTouchingTheModel() {
    auto t = Trainer::create(moe(tiny_config()), corpus(), "", "");
    run_to_end(*t);
    const InferenceModel m = t->snapshot();
    const std::string text = synthetic_corpus(300);
    const std::vector<double> base = m.char_losses(text);
    QCOMPARE(base.size(), size_t{300});
    QVERIFY(std::isnan(base[0]));
    for (size_t i = 1; i < base.size(); ++i) QVERIFY(std::isfinite(base[i]) && base[i] >= 0);
    const std::vector<double> same = m.intervened(Intervention{}).char_losses(text);
    for (size_t i = 1; i < base.size(); ++i) QCOMPARE(same[i], base[i]);  // exactly: the no-op changes nothing
    const TextDataset data = corpus();
    QCOMPARE(m.intervened(Intervention{}).loss(data, true, 3, 42), m.loss(data, true, 3, 42));

    const InferenceModel without = m.intervened(Intervention{1, 0, -1});
    const std::vector<double> changed = without.char_losses(text);
    int differ = 0;
    for (size_t i = 1; i < base.size(); ++i) differ += std::abs(changed[i] - base[i]) > 1e-9;
    QVERIFY(differ > 0);
    const std::vector<double> again = m.char_losses(text);  // the original still routes as trained
    for (size_t i = 1; i < base.size(); ++i) QCOMPARE(again[i], base[i]);
    const LossComparison cmp = compare_losses(decode_utf8(text), base, changed);
    QCOMPARE(cmp.all.characters, int64_t{299});
    double shares = 0;
    int64_t counted = 0;
    for (const auto& row : cmp.classes) shares += row.share, counted += row.characters;
    QVERIFY(std::abs(shares - 1.0) < 1e-12);
    QCOMPARE(counted, cmp.all.characters);
    // forcing expert 2 in layer 0 routes every character there
    const RoutingTrace forced = m.intervened(Intervention{0, -1, 2}).trace(text);
    for (int i = 0; i < forced.length(); ++i) QCOMPARE(forced.layers[0].top_expert(i), 2);
    QVERIFY(forced.layers[1].length() == 300);

    auto rejects = [&](Intervention iv, const char* words) {
      try {
        m.intervened(iv);
      } catch (const std::invalid_argument& e) {
        QVERIFY2(QString(e.what()).contains(words), e.what());
        return;
      }
      QFAIL("accepted an impossible intervention");
    };
    rejects({5, 0, -1}, "layers 0 to 1");
    rejects({0, 9, -1}, "experts 0 to 3");
    rejects({0, 1, 2}, "either disables or forces");
  }

  // Statistics of a long text counted slice by slice equal those of one trace of the whole text; the expert
  // profiles' top characters are shares of that expert's assignments.
  void routingCountsOfAWholeTextMatchOneTrace() {
    auto t = Trainer::create(moe(tiny_config()), corpus(), "", "");  // slices of 4 x 16 x 16 = 1024 characters
    t->advance();
    const InferenceModel m = t->snapshot();
    const std::string text = synthetic_corpus(2600);
    std::vector<int64_t> reported;
    const RoutingCounts sliced = m.count_routing(text, [&](int64_t done, int64_t) { reported.push_back(done); });
    QCOMPARE(reported, (std::vector<int64_t>{1024, 2048, 2600}));
    RoutingCounts whole;
    whole.add(m.trace(text));
    QCOMPARE(sliced.characters(), int64_t{2600});
    QCOMPARE(sliced.layers(), 2);
    const AffinityMatrix a = sliced.affinity(1), b = whole.affinity(1);
    QCOMPARE(a.characters, b.characters);
    QCOMPARE(a.counts, b.counts);
    for (size_t i = 0; i < a.share.size(); ++i)
      for (int e = 0; e < 4; ++e) QCOMPARE(a.share[i][static_cast<size_t>(e)], b.share[i][static_cast<size_t>(e)]);
    int64_t occurrences = 0;
    for (int count : a.counts) occurrences += count;
    QCOMPARE(occurrences, int64_t{2600});
    // each character's top-2 assignments: two per occurrence
    for (size_t i = 0; i < a.characters.size(); ++i) {
      int64_t sum = 0;
      for (int e = 0; e < 4; ++e) sum += sliced.assignments(1, a.characters[i], e);
      QCOMPARE(sum, 2 * sliced.occurrences(a.characters[i]));
    }
    for (int e = 0; e < 4; ++e) {
      const auto top = sliced.top_characters(1, e, 1000);
      double total = 0;
      for (size_t i = 0; i < top.size(); ++i) {
        total += top[i].second;
        if (i > 0) QVERIFY(top[i - 1].second >= top[i].second);
      }
      if (!top.empty()) QVERIFY(std::abs(total - 1.0) < 1e-9);
    }
    // the expert profiles' windows cross the slice boundaries as if the text were one trace
    const std::u32string chars = decode_utf8(text);
    for (int l = 0; l < 2; ++l)
      for (int e = 0; e < 4; ++e) {
        const std::vector<RoutedWindow> windows = sliced.top_windows(l, e);
        QCOMPARE(windows, whole.top_windows(l, e));
        for (const RoutedWindow& w : windows) {
          const auto end = static_cast<size_t>(w.position) + 1, length = std::min<size_t>(20, end);
          QCOMPARE(w.window, chars.substr(end - length, length));
        }
      }
    std::atomic<bool> cancel{true};
    QCOMPARE(m.count_routing(text, {}, &cancel).characters(), int64_t{0});
  }

  // Inspection routes without capacity unless asked: default traces, the probe snapshots and generation drop
  // nothing; the explicit option drops as training would, says so, and survives the JSON round trip. The
  // capacity-free view shares the weights (it follows the model, it is not a stale copy).
  void tracesDropOnlyWhenAskedToActAsTraining() {
    Config c = moe(tiny_config());
    c.use_capacity = true, c.capacity_factor = 0.25;  // C = 0.25 * 2 * 64 / 4 = 8 of 64 tokens per batch
    auto t = Trainer::create(c, corpus(), dir("capacity_trace"), "");
    run_to_end(*t);
    const InferenceModel m = t->snapshot();
    const std::string text = synthetic_corpus(200);
    auto dropped = [](const RoutingTrace& trace) {
      int n = 0;
      for (const auto& l : trace.layers)
        for (int i = 0; i < l.length(); ++i) n += l.any_dropped(i) ? 1 : 0;
      return n;
    };
    const RoutingTrace free = m.trace(text);
    QVERIFY(!free.capacity);
    QCOMPARE(dropped(free), 0);
    const RoutingTrace capped = m.trace(text, {}, true);
    QVERIFY(capped.capacity);
    QVERIFY2(dropped(capped) > 100, qPrintable(QString::number(dropped(capped))));
    QVERIFY(RoutingTrace::from_json(capped.to_json()).capacity);
    QVERIFY(!RoutingTrace::from_json(free.to_json()).capacity);
    // the same weights: the first layer's router sees the same input either way (later layers see the drops)
    for (size_t i = 0; i < free.layers[0].probs.size(); ++i)
      QVERIFY(std::abs(free.layers[0].probs[i] - capped.layers[0].probs[i]) < 1e-5);
    // training's own evaluation still drops (the capacity is a training setting), its probe snapshot does not
    const MetricsTable metrics = parse_metrics_csv(read_file(dir("capacity_trace") + "/metrics.csv"));
    double eval_dropped = 0;
    for (double v : metrics.column("L0_dropped"))
      if (!std::isnan(v)) eval_dropped = std::max(eval_dropped, v);
    QVERIFY(eval_dropped > 0.1);
    const RoutingTrace snapshot = RoutingTrace::from_json(read_file(dir("capacity_trace") + "/routing/step_000012.json"));
    QVERIFY(!snapshot.empty());
    QCOMPARE(dropped(snapshot), 0);
    // a model without a limit gives the same trace with or without the option
    const RoutingTrace plain = Trainer::create(moe(tiny_config()), corpus(), "", "")->snapshot().trace(text, {}, true);
    QVERIFY(!plain.capacity);
    QCOMPARE(dropped(plain), 0);
  }
};

QTEST_APPLESS_MAIN(TestInference)
#include "tst_inference.moc"
