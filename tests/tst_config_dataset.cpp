// Values without torch: config validation and JSON, dataset loading and its rejections, metrics.csv and routing
// trace round trips, and the char x expert affinity of a hand-made trace.
#include <QtTest>

#include <QProcess>

#include <fcntl.h>
#include <sys/stat.h>

#include <clocale>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <locale>
#include <optional>
#include <random>

#include "core/base/files.h"
#include "core/base/numbers.h"
#include "core/base/process_memory.h"
#include "core/config/config.h"
#include "core/config/memory_estimate.h"
#include "core/data/text_dataset.h"
#include "core/runs/disk_space.h"
#include "core/runs/metrics_csv.h"
#include "core/runs/run_log.h"
#include "core/trace/routing_trace.h"
#include "test_corpus.h"

using namespace moewb;

class TestConfigDataset : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  static bool has_error(const std::vector<FieldError>& errors, const std::string& field) {
    for (const auto& e : errors)
      if (e.field == field) return true;
    return false;
  }

 private Q_SLOTS:
  void presetsAreValid() {
    for (const auto& name : preset_names()) QVERIFY2(validate(preset(name)).empty(), name.c_str());
    QCOMPARE(preset("paper").n_embd, 384);
    QCOMPARE(preset("cpu-quick").block_size, 64);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, preset("nope"));
  }

  // A first Start trains a mixture of experts (top-2 of 4, no capacity, the Switch/Mixtral balancing loss): with
  // no balancing loss a top-2 model can put one expert into every character's pair.
  void presetsAreAMixtureWithLoadBalancing() {
    for (const auto& name : preset_names()) {
      const Config c = preset(name);
      QVERIFY2(c.ffn == Ffn::moe && c.routing == RoutingMode::topk, name.c_str());
      QCOMPARE(c.n_experts, 4);
      QCOMPARE(c.top_k, 2);
      QVERIFY(!c.use_capacity);
      QCOMPARE(c.aux_alpha, 0.01);
    }
  }

  void invalidFieldsAreNamed_data() {
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("field");
    QTest::newRow("k > N") << R"({"ffn":"moe","n_experts":4,"top_k":5})" << "top_k";
    QTest::newRow("cf <= 0") << R"({"ffn":"moe","use_capacity":true,"capacity_factor":0})" << "capacity_factor";
    QTest::newRow("negative cf") << R"({"ffn":"moe","use_capacity":true,"capacity_factor":-1.5})" << "capacity_factor";
    QTest::newRow("d % heads") << R"({"n_embd":130,"n_head":4})" << "n_embd";
    QTest::newRow("N does not divide 4d") << R"({"ffn":"moe","n_experts":3})" << "n_experts";
    QTest::newRow("unknown routing") << R"({"routing":"magic"})" << "routing";
    QTest::newRow("capacity with softmax") << R"({"ffn":"moe","routing":"softmax","use_capacity":true})"
                                           << "use_capacity";
    QTest::newRow("dropout 1") << R"({"dropout":1.0})" << "dropout";
    QTest::newRow("huge cf") << R"({"ffn":"moe","use_capacity":true,"capacity_factor":2.4e16})" << "capacity_factor";
  }
  void invalidFieldsAreNamed() {
    QFETCH(QString, json);
    QFETCH(QString, field);
    // a value outside an enum's names is refused while reading, the rest by validation: named either way
    std::vector<FieldError> errors;
    Config c = config_from_json(json.toStdString(), Config{}, errors);
    for (const auto& e : validate(c)) errors.push_back(e);
    QVERIFY2(has_error(errors, field.toStdString()), describe(errors).c_str());
  }

  // Which keys apply comes from the key table, and validation reads the same rule: a capacity limit outside top-k
  // routing, or expert_hidden on linear experts, is refused on that key.
  void keysApplyWhereTheTableSays() {
    Config c;
    c.ffn = Ffn::dense;
    for (const char* key : {"n_experts", "routing", "top_k", "aux_alpha", "sigmoid_tau"}) QVERIFY2(!key_applies(c, key), key);
    QVERIFY(key_applies(c, "n_layer") && key_applies(c, "learning_rate"));
    c.ffn = Ffn::moe, c.routing = RoutingMode::topk;
    QVERIFY(key_applies(c, "top_k") && key_applies(c, "use_capacity") && key_applies(c, "aux_alpha"));
    QVERIFY(!key_applies(c, "capacity_factor") && !key_applies(c, "sigmoid_tau"));
    c.use_capacity = true;
    QVERIFY(key_applies(c, "capacity_factor") && key_applies(c, "drop_policy"));
    c.routing = RoutingMode::hash;
    QVERIFY(!key_applies(c, "top_k") && !key_applies(c, "aux_alpha") && !key_applies(c, "router_jitter"));
    QCOMPARE(validate(c).size(), size_t{1});
    QCOMPARE(QString::fromStdString(validate(c).front().field), QString("use_capacity"));
    c.use_capacity = false, c.routing = RoutingMode::sigmoid, c.expert_shape = ExpertShape::linear, c.expert_hidden = 64;
    QVERIFY(key_applies(c, "sigmoid_tau") && !key_applies(c, "expert_hidden"));
    QCOMPARE(validate(c).size(), size_t{1});
    QCOMPARE(QString::fromStdString(validate(c).front().field), QString("expert_hidden"));
  }

  void jsonRejectsUnknownKeysAndWrongTypes() {
    std::vector<FieldError> errors;
    config_from_json(R"({"n_layers": 3, "n_embd": "wide", "bias": 1})", Config{}, errors);
    QVERIFY(has_error(errors, "n_layers"));
    QVERIFY(has_error(errors, "n_embd"));
    QVERIFY(has_error(errors, "bias"));
    errors.clear();
    config_from_json("{not json", Config{}, errors);
    QCOMPARE(errors.size(), size_t{1});
  }

  void jsonRoundTrip() {
    Config c = preset("paper");
    c.ffn = Ffn::moe, c.routing = RoutingMode::sigmoid, c.sigmoid_tau = 0.3, c.seed = 9;
    std::vector<FieldError> errors;
    Config back = config_from_json(to_json(c), Config{}, errors);
    QVERIFY(errors.empty());
    QCOMPARE(to_json(back), to_json(c));
  }

  // 1,200 mutated config files (flipped bytes, truncations, odd values, dropped, doubled and unknown keys) and
  // 1,000 odd option values: never an exception, every refusal a message, and whatever loads round-trips through
  // JSON with validation naming each remaining problem.
  void fuzzedConfigsNeverCrashOrLoadSilently() {
    std::mt19937 rng(5);
    const std::string base = to_json(preset("paper"));
    std::vector<std::string> keys;
    Config probe;
    visit_fields(probe, [&](const char* name, auto&, const FieldSpec&) { keys.push_back(name); });
    const std::vector<std::string> odd = {"null", "true", "-1", "0", "1e308", "-1e308", "1e999", "4294967297",
                                          "9223372036854775808", "\"\"", "\"x\"", "[]", "{}", "[1,2]", "0.5",
                                          "-0.0", "\"topk\"", "NaN", "1.5abc", "\"\\u0000\"", "2.4e16", "\"1\""};
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    auto accept = [&](const std::string& json) {
      std::vector<FieldError> errors;
      Config c;
      try {
        c = config_from_json(json, Config{}, errors);
      } catch (const std::exception& e) {
        QFAIL(qPrintable(QString("threw on %1: %2").arg(QString::fromStdString(json), e.what())));
      }
      for (const auto& e : errors) QVERIFY2(!e.message.empty(), json.c_str());
      if (!errors.empty()) return;
      std::vector<FieldError> again;
      const Config back = config_from_json(to_json(c), Config{}, again);
      QVERIFY2(again.empty() && to_json(back) == to_json(c), json.c_str());
      for (const auto& e : validate(c)) QVERIFY2(!e.field.empty() && !e.message.empty(), json.c_str());
    };
    for (int i = 0; i < 1200; ++i) {
      std::string json = base;
      const std::string key = "\"" + keys[pick(keys.size())] + "\": ";
      const size_t at = json.find(key), value = at + key.size(), end = json.find_first_of(",}", value);
      switch (i % 5) {
        case 0: json[pick(json.size())] = static_cast<char>(rng() % 256); break;
        case 1: json.resize(pick(json.size())); break;
        case 2: json.replace(value, end - value, odd[pick(odd.size())]); break;
        case 3: json.erase(at, end + 1 - at); break;  // may leave a dangling comma: invalid JSON is an input too
        case 4: json.insert(1, i % 2 ? key + odd[pick(odd.size())] + ", " : "\"no_such_key\": 1, "); break;
      }
      accept(json);
    }
    for (int i = 0; i < 1000; ++i) {
      Config c = preset("paper");
      const std::string& key = keys[pick(keys.size())];
      std::string value = odd[pick(odd.size())];
      if (i % 3 == 0) value = std::to_string(static_cast<int64_t>(rng()) - (1LL << 31));
      std::string error;
      try {
        error = apply_override(c, key, value);
      } catch (const std::exception& e) {
        QFAIL(qPrintable(QString("--%1=%2 threw: %3").arg(key.c_str(), value.c_str(), e.what())));
      }
      if (error.empty()) accept(to_json(c));
      else QVERIFY2(error.find(key) != std::string::npos, error.c_str());
    }
  }

  // core/README.md's key table is the config table's (regenerate it with `moewb-cli keys`).
  void readmeListsEveryKeyAsTheTableSays() {
    const std::string readme = read_file(MOEWB_SOURCE_DIR "/core/README.md");
    const std::string open = "<!-- keys: moewb-cli keys -->\n", close = "<!-- /keys -->";
    const size_t begin = readme.find(open), end = readme.find(close);
    QVERIFY(begin != std::string::npos && end != std::string::npos);
    QCOMPARE(QString::fromStdString(readme.substr(begin + open.size(), end - begin - open.size())),
             QString::fromStdString(config_keys_markdown()));
  }

  void overridesParseTypes() {
    Config c;
    QCOMPARE(apply_override(c, "n_layer", "7"), std::string());
    QCOMPARE(c.n_layer, 7);
    QCOMPARE(apply_override(c, "routing", "hash"), std::string());
    QVERIFY(c.routing == RoutingMode::hash);
    QCOMPARE(apply_override(c, "bias", "true"), std::string());
    QVERIFY(c.bias);
    QVERIFY(!apply_override(c, "n_layer", "seven").empty());
    QVERIFY(!apply_override(c, "no_such_key", "1").empty());
    // values that used to wrap or half-parse are errors naming the key, and the field keeps its value
    for (const char* wraps : {"4294967297", "-2147483649", "18446744073709551617", "1.5", "1e3"}) {
      const std::string error = apply_override(c, "n_layer", wraps);
      QVERIFY2(error.rfind("n_layer must be an integer between", 0) == 0, error.c_str());
      QCOMPARE(c.n_layer, 7);
    }
    QVERIFY(apply_override(c, "dropout", "1.5abc").rfind("dropout must be a finite number", 0) == 0);
    QCOMPARE(apply_override(c, "max_iters", "2147483647"), std::string());
    QCOMPARE(c.max_iters, 2147483647);
  }

  void truncationKeepsOneRowPerStepAndDropsTornLines() {
    const std::string text = "step,val_loss\n0,4.2\n10,3.1\n10,3.1\n20,2.5\n3\n30,2\n";  // "3" is torn (of "30,...")
    QCOMPARE(truncate_metrics_csv(text, 20), std::string("step,val_loss\n0,4.2\n10,3.1\n20,2.5\n"));
    QCOMPARE(truncate_metrics_csv("step,val_loss\n0,4.2\nx,1\n", 100), std::string("step,val_loss\n0,4.2\n"));
  }

  void numbersAreStrict() {
    QCOMPARE(parse_double("1.9202"), std::optional<double>(1.9202));
    QCOMPARE(parse_double("-2e-3"), std::optional<double>(-2e-3));
    QCOMPARE(parse_double("+4"), std::optional<double>(4));
    for (const char* bad : {"", "1.5abc", "1,5", " 1", "1 ", "--1", "e5"}) QVERIFY2(!parse_double(bad), bad);
    QVERIFY(std::isinf(*parse_double("inf")));
    QCOMPARE(parse_int64("9223372036854775807"), std::optional<int64_t>(INT64_MAX));
    for (const char* bad : {"9223372036854775808", "4.0", "1e3", "12abc", ""}) QVERIFY2(!parse_int64(bad), bad);
    for (double v : {1.9202, 6e-4, 123456.7, -0.5, 1e-300})
      QCOMPARE(*parse_double(format_double(v, 17)), v);
    QCOMPARE(format_double(1.9202, 7), std::string("1.9202"));
  }

  // Under a German locale (a comma as decimal separator, as the app's QApplication sets LC_NUMERIC from the
  // environment) metrics.csv still reads and writes with a point.
  void numbersIgnoreTheLocale() {
    const QString locales = tmp_.filePath("locales");
    QDir().mkpath(locales);
    QProcess localedef;
    localedef.start("localedef", {"-i", "de_DE", "-f", "UTF-8", locales + "/de_DE.UTF-8"});
    QVERIFY2(localedef.waitForFinished(60000) && localedef.exitCode() <= 1,  // 1: warnings only
             "localedef could not build de_DE.UTF-8 (is the 'locales' package installed?)");
    qputenv("LOCPATH", locales.toLocal8Bit());
    const std::string previous = std::setlocale(LC_NUMERIC, nullptr);
    QVERIFY(std::setlocale(LC_NUMERIC, "de_DE.UTF-8"));
    const std::locale previous_cpp = std::locale::global(std::locale("de_DE.UTF-8"));
    const bool comma_locale = std::strtod("1.5", nullptr) == 1.0;  // proves the locale is in force
    Config c;
    MetricsRow row;
    row.step = 10, row.val_loss = 1.9202, row.lr = 6e-4;
    const std::string line = format_metrics_row(c, row);
    const MetricsTable t = parse_metrics_csv("step,val_loss\n10,1.9202\n");
    std::locale::global(previous_cpp);
    std::setlocale(LC_NUMERIC, previous.c_str());
    qunsetenv("LOCPATH");
    QVERIFY(comma_locale);
    QCOMPARE(t.column("val_loss").front(), 1.9202);
    QVERIFY2(line.find(",0.0006,") != std::string::npos && line.find(",1.9202,") != std::string::npos, line.c_str());
  }

  // The estimate against peaks measured on this project's 2-core Debian machine (LibTorch 1.13, fp32, mimalloc,
  // 2026-12-06): `moewb-cli bench --preset cpu-quick --steps 2 --repeats 1` peak resident MiB (each variant's own:
  // bench restarts the peak at its start) minus 212 MiB, the same for a 1-layer width-16 model (torch, the 1.1 MB
  // corpus), on tiny Shakespeare (65 characters). The estimate is within 17 % of each; the test allows 20 %.
  void memoryEstimateTracksMeasuredPeaks_data() {
    QTest::addColumn<QString>("overrides");
    QTest::addColumn<double>("measured_mib");
    QTest::newRow("cpu-quick dense") << "" << 42.0;
    QTest::newRow("batch 48") << "batch_size=48" << 178.0;
    QTest::newRow("context 256") << "block_size=256" << 222.0;
    QTest::newRow("width 384") << "n_embd=384" << 221.0;
    QTest::newRow("12 layers") << "n_layer=12" << 168.0;
    QTest::newRow("batch 48, context 256, dropout") << "batch_size=48 block_size=256 dropout=0.2" << 1117.0;
    QTest::newRow("top-2") << "ffn=moe top_k=2" << 39.0;
    QTest::newRow("softmax") << "ffn=moe routing=softmax" << 50.0;
    QTest::newRow("sigmoid N16") << "ffn=moe routing=sigmoid n_experts=16" << 107.0;
    QTest::newRow("hash") << "ffn=moe routing=hash" << 32.0;
    const QString paper = "n_layer=6 n_embd=384 n_head=6 block_size=256 batch_size=16";
    QTest::newRow("paper-size dense, batch 16") << paper << 995.0;
    QTest::newRow("paper-size top-2") << paper + " ffn=moe" << 950.0;
    QTest::newRow("paper-size top-2, linear experts") << paper + " ffn=moe expert_shape=linear" << 891.0;
    QTest::newRow("paper-size softmax") << paper + " ffn=moe routing=softmax" << 1045.0;
    // weights dominate and two checkpoints are written (`moewb-cli train --max_iters 4 --eval_interval 2`, peak
    // 1577 MiB, minus 221 MiB for the same run of a 1-layer width-16 model): saving streams, so it adds nothing
    QTest::newRow("85M parameters, batch 1, saving") << "n_layer=12 n_embd=768 n_head=12 batch_size=1 block_size=32"
                                                      << 1356.0;
  }
  void memoryEstimateTracksMeasuredPeaks() {
    QFETCH(QString, overrides);
    QFETCH(double, measured_mib);
    Config c = preset("cpu-quick");
    c.ffn = Ffn::dense, c.aux_alpha = 0, c.n_experts = 4;  // what was measured: dense unless a row says otherwise
    for (const QString& kv : overrides.split(' ', Qt::SkipEmptyParts))
      QCOMPARE(QString::fromStdString(apply_override(c, kv.section('=', 0, 0).toStdString(),
                                                     kv.section('=', 1).toStdString())), QString());
    const MemoryEstimate e = estimate_training_memory(c, 65, 0, /*cuda=*/false);
    const double mib = e.total() / (1024.0 * 1024.0);
    QVERIFY2(mib > 0.8 * measured_mib && mib < 1.2 * measured_mib,
             qPrintable(QString("estimate %1 MiB, measured %2 MiB").arg(mib, 0, 'f', 0).arg(measured_mib)));
  }

  void impossibleMemoryIsRefusedByKey() {
    Config c = preset("cpu-quick");
    c.n_layer = 100000, c.n_embd = 1024, c.n_head = 8;
    auto errors = check_memory(estimate_training_memory(c, 65, 1000000, false), 24e9, "this machine");
    QCOMPARE(errors.size(), size_t{1});
    QCOMPARE(errors[0].field, std::string("n_layer"));
    QVERIFY(QString::fromStdString(errors[0].message).contains("TiB"));
    c = preset("cpu-quick");
    c.batch_size = 100000;
    errors = check_memory(estimate_training_memory(c, 65, 1000000, false), 24e9, "this machine");
    QCOMPARE(errors.size(), size_t{1});
    QCOMPARE(errors[0].field, std::string("batch_size"));
    QVERIFY(check_memory(estimate_training_memory(preset("cpu-quick"), 65, 1000000, false), 24e9, "x").empty());
    QCOMPARE(QString::fromStdString(format_bytes(1536.0 * 1024 * 1024)), QString("1.5 GiB"));
  }

  // A refusal names the key the user most likely raised (the form shows it under that key), and the sizes it
  // enters: a wide model is refused on n_embd and wide experts on expert_hidden, not on n_layer; the disk check
  // names the same key.
  void refusalsNameTheKeyThatWasRaised_data() {
    QTest::addColumn<QString>("overrides");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("growth");
    QTest::newRow("deep") << "n_layer=100000 n_embd=1024 n_head=8" << "n_layer"
                          << "the weights grow with n_layer × n_embd² = 100000 × 1024²";
    QTest::newRow("wide") << "n_embd=65536" << "n_embd" << "the weights grow with n_layer × n_embd² = 4 × 65536²";
    QTest::newRow("wide experts") << "ffn=moe expert_hidden=50000000" << "expert_hidden"
                                  << "the weights grow with n_layer × n_experts × expert_hidden × n_embd = 4 × 4 × "
                                     "50000000 × 128";
    QTest::newRow("large batch") << "batch_size=100000" << "batch_size"
                                 << "the activations grow with batch_size × block_size × n_layer × n_embd = 100000 × "
                                    "64 × 4 × 128";
    QTest::newRow("long context") << "block_size=20000" << "block_size"
                                  << "the activations grow with batch_size × n_layer × n_head × block_size² = 12 × 4 × "
                                     "4 × 20000²";
  }
  void refusalsNameTheKeyThatWasRaised() {
    QFETCH(QString, overrides);
    QFETCH(QString, field);
    QFETCH(QString, growth);
    Config c;
    for (const QString& kv : overrides.split(' ', Qt::SkipEmptyParts))
      QCOMPARE(QString::fromStdString(apply_override(c, kv.section('=', 0, 0).toStdString(),
                                                     kv.section('=', 1).toStdString())), QString());
    const auto errors = check_memory(estimate_training_memory(c, 65, 1000000, false), 24e9, "this machine");
    QCOMPARE(errors.size(), size_t{1});
    QCOMPARE(QString::fromStdString(errors[0].field), field);
    QVERIFY2(QString::fromStdString(errors[0].message).endsWith("reduce " + field + " (" + growth + ")"),
             errors[0].message.c_str());
    if (!growth.startsWith("the weights")) return;
    const auto disk = check_checkpoint_space(checkpoint_file_bytes(c, 65), 0, 1e9, "runs/a", weights_driver(c, 65));
    QCOMPARE(disk.size(), size_t{1});
    QCOMPARE(QString::fromStdString(disk[0].field), field);
    QVERIFY2(QString::fromStdString(disk[0].message).endsWith("reduce " + field + " (" + growth + ")"),
             disk[0].message.c_str());
  }

  // A checkpoint's checksum is read in a pass of its own before its records: the reader must notice a file
  // rewritten in place between the two, while a file replaced by a rename (every save here) stays the one opened.
  void aFileReaderNoticesAnInPlaceRewrite() {
    QTemporaryDir tmp;
    const std::string path = tmp.filePath("f").toStdString();
    atomic_write(path, "first version");
    FileReader reader(path);
    atomic_write(path, "a second version, renamed over the first");
    QVERIFY(!reader.changed_since_open());
    char text[5] = {};
    QCOMPARE(reader.read_at(0, text, 5), size_t{5});
    QCOMPARE(std::string(text, 5), std::string("first"));
    FileReader current(path);
    std::ofstream(path, std::ios::in | std::ios::out | std::ios::binary) << "A";  // in place, same size
    const timespec later[2] = {{0, UTIME_OMIT}, {2000000000, 0}};  // a coarse clock may not have ticked
    QCOMPARE(::utimensat(AT_FDCWD, path.c_str(), later, 0), 0);
    QVERIFY(current.changed_since_open());
  }

  // A run keeps latest.pt and best.pt and writes the next one beside them: three checkpoints must fit its disk,
  // less what a resumed run's folder already holds; the advice differs when the model cannot change.
  void checkpointSpaceIsCheckedBeforeARun() {
    constexpr double GiB = 1024.0 * 1024.0 * 1024.0;
    const SizeDriver w = weights_driver(Config{}, 65);  // no key raised: n_layer
    QVERIFY(check_checkpoint_space(1 * GiB, 0, 3.1 * GiB, "runs/a", w).empty());
    auto errors = check_checkpoint_space(1 * GiB, 0, 2.5 * GiB, "runs/a", w);
    QCOMPARE(errors.size(), size_t{1});
    QCOMPARE(errors[0].field, std::string("n_layer"));
    QVERIFY2(QString::fromStdString(errors[0].message)
                 .startsWith("the run's checkpoints need about 3.0 GiB more on disk (latest.pt, best.pt and the next "
                             "one beside them, 1.0 GiB each) but 'runs/a' has 2.5 GiB free: free some space, choose a "),
             errors[0].message.c_str());
    QVERIFY(check_checkpoint_space(1 * GiB, 2 * GiB, 1.1 * GiB, "runs/a", w, true).empty());  // only the next one
    errors = check_checkpoint_space(1 * GiB, 2 * GiB, 0.9 * GiB, "runs/a", w, /*resuming=*/true);
    QCOMPARE(errors.size(), size_t{1});
    QVERIFY2(QString::fromStdString(errors[0].message).endsWith("free some space or move the run folder to another disk"),
             errors[0].message.c_str());
    QVERIFY(check_checkpoint_space(1 * GiB, 0, std::nullopt, "runs/a", w).empty());  // free space unknown
    QCOMPARE(check_checkpoint_space(1 * GiB, 0, 0.0, "runs/a", w).size(), size_t{1});  // a full disk
    // one checkpoint: 12 bytes per parameter and the archive's own (measured: 99,693 bytes for 4,672 parameters,
    // 128,033,894 for 10.66M; the archive's part grows with the tensors, from 44 to 220 KB)
    Config c = preset("cpu-quick");
    c.n_layer = 1, c.n_embd = 16, c.n_head = 1, c.block_size = 32;
    QVERIFY(checkpoint_file_bytes(c, 65) >= 99693 && checkpoint_file_bytes(c, 65) < 99693 + 256 * 1024);
    c.n_layer = 6, c.n_embd = 384, c.n_head = 6;
    QVERIFY(checkpoint_file_bytes(c, 65) >= 128033894 && checkpoint_file_bytes(c, 65) < 1.002 * 128033894);
    // a folder not made yet is on its nearest existing ancestor's disk
    QTemporaryDir tmp;
    QVERIFY(free_disk_bytes(tmp.path().toStdString()).value_or(0) > 0);
    QCOMPARE(free_disk_bytes(tmp.path().toStdString() + "/not/yet"), free_disk_bytes(tmp.path().toStdString()));
  }

  // Ranks on one machine share its memory but each has a GPU of its own; each trains its slice of the batch.
  void ranksOnOneMachineShareItsMemory() {
    Config c = preset("cpu-quick");
    c.batch_size = 64;
    Config slice = c;
    slice.batch_size = 16;
    const MemoryEstimate one = estimate_training_memory(slice, 65, 1000000, false);
    const MemoryEstimate here = estimate_for_ranks(c, 65, 1000000, false, /*local_ranks=*/2, /*world_size=*/4);
    QCOMPARE(here.model_bytes, 2 * one.model_bytes);
    QCOMPARE(here.activations_bytes, 2 * one.activations_bytes);
    QCOMPARE(here.dataset_bytes, 2 * one.dataset_bytes);
    QVERIFY(here.activations_bytes < estimate_training_memory(c, 65, 1000000, false).activations_bytes);
    const MemoryEstimate gpu = estimate_for_ranks(c, 65, 1000000, true, 2, 4);
    QCOMPARE(gpu.total(), estimate_training_memory(slice, 65, 1000000, true).total());
    const MemoryEstimate alone = estimate_for_ranks(c, 65, 1000000, false, 1, 1);
    QCOMPARE(alone.total(), estimate_training_memory(c, 65, 1000000, false).total());
    QCOMPARE(QString::fromStdString(format_bytes(812.4 * 1024 * 1024)), QString("812 MiB"));
    QCOMPARE(QString::fromStdString(format_bytes(99693)), QString("97 KiB"));  // a tiny model's checkpoint
    QCOMPARE(QString::fromStdString(format_bytes(0)), QString("0 MiB"));  // a full disk
  }

  void contextLongerThanDatasetIsRejected() {
    Config c;
    c.block_size = 64;
    QVERIFY(validate(c, 1000, 64).size() == 1);
    QVERIFY(validate(c, 1000, 65).empty());
  }

  void datasetRejections_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << QByteArray() << "empty";
    QTest::newRow("binary") << QByteArray("abc\0def", 7).repeated(50) << "binary";
    QTest::newRow("non-UTF-8") << (QByteArray(200, 'a') + QByteArray("\xC3\x28")) << "byte offset 200";
    QTest::newRow("truncated UTF-8") << (QByteArray(200, 'a') + QByteArray("\xE2\x82")) << "not valid UTF-8";
    QTest::newRow("too short") << QByteArray("hello") << "too short";
  }
  void datasetRejections() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, message);
    const std::string path = (tmp_.path() + "/bad.txt").toStdString();
    atomic_write(path, bytes.toStdString());
    try {
      TextDataset::from_file(path);
      QFAIL("accepted");
    } catch (const DatasetError& e) {
      QVERIFY2(QString(e.what()).contains(message), e.what());
    }
  }

  // A folder or a FIFO as the dataset is refused at once, naming it (a FIFO's open waited for a writer, deaf to a
  // first SIGTERM; a folder failed with "basic_filebuf::underflow").
  void aDatasetThatIsNoFileIsRefusedNamingIt() {
    const std::string folder = tmp_.filePath("a_folder").toStdString(), fifo = tmp_.filePath("a_fifo").toStdString();
    std::filesystem::create_directories(folder);
    QCOMPARE(::mkfifo(fifo.c_str(), 0644), 0);
    for (const auto& [path, reason] : {std::pair{folder, "it is a folder"}, std::pair{fifo, "not a regular file"}}) {
      try {
        TextDataset::from_file(path);
        QFAIL("accepted");
      } catch (const DatasetError& e) {
        const QString what = e.what();
        QVERIFY2(what.contains(QString::fromStdString("'" + path + "'")) && what.contains(reason), e.what());
      }
    }
  }

  // A text is read in pieces straight into its token array: the peak is the array's 4 bytes a character and a
  // piece, not the whole file, its UTF-32 copy and 8-byte ids at once (13 bytes a character before).
  void loadingATextTakesLittleMoreThanItsTokens() {
    const std::string path = tmp_.filePath("large.txt").toStdString();
    {
      const std::string piece = synthetic_corpus(1 << 20);
      std::ofstream out(path, std::ios::binary);
      for (int i = 0; i < 32; ++i) out << piece;
    }
    if (!reset_peak_rss()) QSKIP("this kernel cannot restart the peak resident memory");
    const double before = peak_rss_mb();
    const TextDataset d = TextDataset::from_file(path);
    const double per_character = (peak_rss_mb() - before) * 1024 * 1024 / static_cast<double>(d.tokens.size());
    QCOMPARE(d.tokens.size(), size_t{32} << 20);
    qInfo("loading 32 Mi characters peaked at %.2f bytes a character", per_character);
    QVERIFY2(per_character < 4.5, qPrintable(QString("%1 bytes a character at the peak").arg(per_character)));
  }

  // The 1 MiB pieces cut multi-byte characters: the text still decodes whole, and an invalid byte past the first
  // piece is named by its offset in the file.
  void aDatasetIsDecodedAcrossItsPieces() {
    std::string text;
    while (text.size() < (size_t{3} << 20)) text += "é→a𝄞 \n";  // 2-, 3-, 1- and 4-byte characters
    const std::string path = tmp_.filePath("pieces.txt").toStdString();
    atomic_write(path, text);
    const TextDataset d = TextDataset::from_file(path);
    QCOMPARE(d.vocab.size(), 6);
    QCOMPARE(d.vocab.decode(std::vector<int64_t>(d.tokens.begin(), d.tokens.end())), text);
    QCOMPARE(d.fingerprint(), TextDataset::from_text(text, "t").fingerprint());
    const size_t bad = text.find('a', size_t{5} << 19);
    text[bad] = '\xFF';
    atomic_write(path, text);
    try {
      TextDataset::from_file(path);
      QFAIL("accepted");
    } catch (const DatasetError& e) {
      QVERIFY2(QString(e.what()).endsWith("at byte offset " + QString::number(bad)), e.what());
    }
  }

  void datasetVocabularyAndSplit() {
    const std::string text = synthetic_corpus(1000) + "é→";
    TextDataset d = TextDataset::from_text(text, "t");
    QCOMPARE(static_cast<int64_t>(d.tokens.size()), int64_t{1002});
    QCOMPARE(d.n_train, int64_t{901});  // int(0.9 * 1002), as nanoGPT
    QCOMPARE(d.vocab.decode(std::vector<int64_t>(d.tokens.begin(), d.tokens.end())), text);
    QCOMPARE(d.vocab.encode("fox"), (std::vector<int64_t>{d.vocab.id_of('f'), d.vocab.id_of('o'), d.vocab.id_of('x')}));
    QVERIFY_THROWS_EXCEPTION(DatasetError, d.vocab.encode("Z"));
    QCOMPARE(Vocabulary(decode_utf8(d.vocab.to_utf8())).to_utf8(), d.vocab.to_utf8());
  }

  void metricsCsvRoundTrip() {
    Config c;
    c.ffn = Ffn::moe, c.n_layer = 2, c.n_experts = 4;
    MetricsRow row;
    row.step = 250, row.train_loss = 1.5, row.val_loss = 1.625, row.lr = 1e-3;
    LayerMetrics m;
    m.load = {0.1, 0.2, 0.3, 0.4}, m.importance = {0.25, 0.25, 0.25, 0.25}, m.load_entropy = 0.9, m.dead_experts = 1;
    row.layers = {m, m};
    std::string header;
    for (const auto& col : metrics_columns(c)) header += (header.empty() ? "" : ",") + col;
    const std::string text = header + "\n" + format_metrics_row(c, row) + format_metrics_row(c, MetricsRow{300});
    MetricsTable t = parse_metrics_csv(text);
    QCOMPARE(t.rows(), size_t{2});
    QCOMPARE(t.column("val_loss")[0], 1.625);
    QCOMPARE(t.column("L1_load_e3")[0], 0.4);
    QCOMPARE(t.column("L0_dead")[0], 1.0);
    QVERIFY(std::isnan(t.column("val_loss")[1]));
    QCOMPARE(parse_metrics_csv(truncate_metrics_csv(text, 250)).rows(), size_t{1});
  }

  void traceJsonRoundTripAndAffinity() {
    // "abab" routed by hand: 'a' always to expert 0 (once with expert 1), 'b' to expert 2 (once dropped)
    RoutingTrace t;
    t.routing = RoutingMode::topk, t.n_experts = 3, t.text = U"abab", t.step = 5;
    LayerTrace l;
    l.n_experts = 3, l.slots = 2;
    l.probs = {0.6f, 0.3f, 0.1f, 0.1f, 0.2f, 0.7f, 0.5f, 0.4f, 0.1f, 0.2f, 0.1f, 0.7f};
    l.chosen = {0, 1, 2, 1, 0, 1, 2, 0};
    l.weights = {0.67f, 0.33f, 0.78f, 0.0f, 0.56f, 0.44f, 0.78f, 0.22f};
    l.dropped = {0, 0, 0, 1, 0, 0, 0, 0};
    t.layers = {l};
    RoutingTrace back = RoutingTrace::from_json(t.to_json());
    QCOMPARE(back.to_json(), t.to_json());
    QVERIFY(back.routing == RoutingMode::topk);
    // the routing is a mode, named in the file; a dense model's trace has none, and a name nobody routes by is refused
    RoutingTrace dense;
    dense.text = U"ab", dense.step = 1;
    QVERIFY(QString::fromStdString(dense.to_json()).contains("\"routing\":\"dense\""));
    QVERIFY(!RoutingTrace::from_json(dense.to_json()).routing);
    std::string unknown = t.to_json();
    unknown.replace(unknown.find("\"topk\""), 6, "\"top3\"");
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, RoutingTrace::from_json(unknown));
    QCOMPARE(back.layers[0].top_expert(1), 2);
    QCOMPARE(back.layers[0].active_count(1), 1);
    QVERIFY(back.layers[0].any_dropped(1));

    AffinityMatrix a = affinity(t, 0);
    QCOMPARE(a.characters, std::u32string(U"ab"));  // equal counts: code-point order is kept
    QCOMPARE(a.counts, (std::vector<int>{2, 2}));
    // 'a': assignments 0,1,0,1 -> 0.5/0.5/0; 'b': 2,1,2,0 -> 0.25/0.25/0.5
    QCOMPARE(a.share[0], (std::vector<double>{0.5, 0.5, 0.0}));
    QCOMPARE(a.share[1], (std::vector<double>{0.25, 0.25, 0.5}));
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, RoutingTrace::from_json(R"({"step":1})"));
  }

  void layerStatsFinish() {
    LayerStatsAccumulator acc;
    acc.add({20, 10, 0, 0}, {40, 20, 10, 10}, 80, 4, 36, 0);
    acc.add({10, 10, 0, 0}, {20, 10, 0, 0}, 20, 0, 4, 0);
    LayerMetrics m = acc.finish();
    QCOMPARE(m.load, (std::vector<double>{0.6, 0.4, 0.0, 0.0}));
    QCOMPARE(m.importance[0], 0.6);
    QCOMPARE(m.dead_experts, 2);
    QCOMPARE(m.max_share, 0.6);
    QCOMPARE(m.dropped_fraction, 0.08);
    QCOMPARE(m.mean_active, 0.4);
    const double h = -(0.6 * std::log(0.6) + 0.4 * std::log(0.4)) / std::log(4.0);
    QVERIFY(std::abs(m.load_entropy - h) < 1e-12);
  }

  // What ended a run's last session, read from its train.log: only an error as the last stamped line counts; a
  // backtrace after it is not part of the message; a tail cut mid-line starts with an unstamped fragment.
  void sessionErrorReadsTheLastLine() {
    const std::string start = "2026-12-01 23:19:53.275 info    run r started on cpu (fp32)\n";
    const std::string error = "2026-12-01 23:20:01.002 error   the loss became nan at step 7\n";
    QCOMPARE(session_error(start), std::string());
    QCOMPARE(session_error(start + error), "the loss became nan at step 7");
    QCOMPARE(session_error("ted on cpu\n" + error + "Exception raised from f at a.cpp:1\nframe #0: g\n"),
             "the loss became nan at step 7");
    QCOMPARE(session_error(start + error + "2026-12-01 23:21:00.000 info    run r resumed at step 5 on cpu\n"),
             std::string());  // a later session started: that error is history
    QCOMPARE(session_error(error.substr(0, 30)), std::string());
    QCOMPARE(session_error(""), std::string());
  }

  // A container's memory limit is what the OOM killer enforces, while MemAvailable shows the whole machine: the
  // headroom is the tightest limit minus usage along the process's cgroup and its ancestors, in v2 and v1, the
  // usage without the inactive file cache that reclaim takes back first.
  void cgroupLimitsBoundTheAvailableMemory() {
    QTemporaryDir tmp;
    const std::string mount = tmp.path().toStdString();
    auto put = [&](const std::string& file, const std::string& text) {
      std::filesystem::create_directories(std::filesystem::path(mount + "/" + file).parent_path());
      atomic_write(mount + "/" + file, text + "\n");
    };
    constexpr double MiB = 1024.0 * 1024.0;
    put("a/b/memory.max", "1073741824");  // v2: 1 GiB, 256 MiB used
    put("a/b/memory.current", "268435456");
    put("a/memory.max", "max");
    put("a/memory.current", "900000000");
    QCOMPARE(cgroup_headroom(mount, "0::/a/b\n") / MiB, 768.0);
    put("a/memory.max", "1048576000");  // the parent's 1000 MiB with 900 MB used is tighter
    QCOMPARE(cgroup_headroom(mount, "0::/a/b\n"), 1048576000.0 - 900000000.0);
    QCOMPARE(cgroup_headroom(mount, "0::/\n"), 0.0);  // the root cgroup: no limit file, no limit
    put("memory/c/memory.limit_in_bytes", "2147483648");  // v1: 2 GiB, 1 GiB used, under an unlimited parent
    put("memory/c/memory.usage_in_bytes", "1073741824");
    put("memory/memory.limit_in_bytes", "9223372036854771712");
    QCOMPARE(cgroup_headroom(mount, "5:cpu,cpuacct:/c\n4:memory:/c\n0::/\n") / MiB, 1024.0);
    QCOMPARE(cgroup_headroom(mount, "4:memory:/elsewhere\n"), 0.0);  // no such cgroup: nothing known
    QCOMPARE(cgroup_headroom(mount, "garbage"), 0.0);
    // written files' pages not read since (checkpoints) are reclaimed before the OOM killer acts: they do not count
    put("a/b/memory.stat", "anon 104857600\nfile 163577856\nactive_file 12582912\ninactive_file 150994944\n");
    put("a/memory.max", "max");
    QCOMPARE(cgroup_headroom(mount, "0::/a/b\n") / MiB, 768.0 + 144.0);
    put("memory/c/memory.stat", "cache 1073741824\ninactive_file 0\ntotal_cache 1073741824\n"
                                "total_inactive_file 805306368\n");  // v1: the hierarchy's total counts
    QCOMPARE(cgroup_headroom(mount, "4:memory:/c\n") / MiB, 1024.0 + 768.0);
    put("a/b/memory.stat", "inactive_file 999999999999\n");  // a stat larger than the usage leaves the limit
    QCOMPARE(cgroup_headroom(mount, "0::/a/b\n") / MiB, 1024.0);
    put("full/memory.max", "1000");  // a full cgroup still limits: it leaves (almost) nothing
    put("full/memory.current", "5000");
    QVERIFY(cgroup_headroom(mount, "0::/full\n") > 0 && cgroup_headroom(mount, "0::/full\n") < 2);
    // this machine: no more than MemAvailable says
    QVERIFY(available_host_memory() > 0);
  }
};

QTEST_APPLESS_MAIN(TestConfigDataset)
#include "tst_config_dataset.moc"
