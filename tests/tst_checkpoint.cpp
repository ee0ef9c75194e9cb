// Checkpoints: bitwise round trips, resuming one written on another device, damaged, fuzzed and unframed files,
// stored configs validated by key, a full disk, streaming through memory, falling back to best.pt, edited
// configs and corpora refused at resume, and the disk space a run's checkpoints need.
#include <QtTest>

#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>

#include "core/inference/inference_impl.h"
#include "core/model/checkpoint.h"
#include "core/model/machine.h"
#include "core/runs/disk_space.h"
#include "core/train/optimizer.h"
#include "fixtures.h"

using namespace moewb;
namespace fs = std::filesystem;

class TestCheckpoint : public QObject, ScratchFolder {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    init_torch_threads();
    atomic_write(dir("corpus.txt"), synthetic_corpus(4000));  // corpus() as a file, for the runs that resume
  }

  void checkpointRoundTripIsBitwise() {
    const std::string run = dir("roundtrip");
    auto t = Trainer::create(moe(tiny_config()), corpus(), run, "synthetic");
    for (int i = 0; i < 4; ++i) t->advance();
    t->save_latest();
    InferenceModel live = t->snapshot();
    InferenceModel loaded = InferenceModel::load(run + "/checkpoints/latest.pt", DeviceChoice::cpu);
    auto idx = torch::randint(0, corpus().vocab.size(), {2, 16}, torch::kInt64);
    torch::NoGradGuard no_grad;
    QVERIFY(torch::equal(live.impl().model->forward(idx).logits, loaded.impl().model->forward(idx).logits));
    QCOMPARE(loaded.vocab().to_utf8(), corpus().vocab.to_utf8());
  }

  // A CUDA run's checkpoint holds a CUDA generator state and names device auto; on a machine without CUDA it
  // resumes on the CPU (the archive is read to the CPU, the optimizer moments follow their parameters).
  void aCheckpointFromAnotherDeviceResumesHere() {
    Config c = moe(tiny_config());
    c.max_iters = 8;
    const std::string data_file = dir("corpus_device.txt"), run = dir("from_cuda");
    atomic_write(data_file, synthetic_corpus(4000));
    {
      auto t = Trainer::create(c, corpus(), run, data_file);
      while (t->step() < 5) t->advance();
      t->save_latest();
    }
    LoadedCheckpoint ck = load_checkpoint(run + "/checkpoints/latest.pt", torch::kCPU);
    CheckpointMeta meta = ck.meta;
    meta.cuda_rng = torch::arange(16, torch::kUInt8);  // as a CUDA generator's state would be stored
    TrainingOptimizer opt(ck.model, ck.meta.config, Precision::fp32, torch::kCPU);
    opt.load(ck.optimizer_state);
    save_checkpoint(run + "/checkpoints/latest.pt", ck.model, [&](torch::serialize::OutputArchive& a) { opt.save(a); }, meta);
    auto resumed = Trainer::resume(run);
    QCOMPARE(resumed->step(), 5);
    QCOMPARE(resumed->device(), std::string("cpu"));
    run_to_end(*resumed);
    QCOMPARE(resumed->step(), 8);

    // the moments take their parameter's device and dtype, whatever the archive held
    LoadedCheckpoint again = load_checkpoint(run + "/checkpoints/latest.pt", torch::kCPU);
    again.model->to(torch::kBFloat16);
    TrainingOptimizer moved(again.model, again.meta.config, Precision::fp32, torch::kCPU);
    moved.load(again.optimizer_state);
    const auto moments = moved.moments();
    QCOMPARE(moments.size(), 2 * again.model->parameters().size());
    for (const auto& m : moments) QCOMPARE(m.scalar_type(), torch::kBFloat16);
  }

  void badCheckpointsGiveClearErrors_data() {
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("message");
    QTest::newRow("missing") << "missing" << "does not exist";
    QTest::newRow("empty") << "empty" << "not a readable checkpoint";
    QTest::newRow("truncated") << "truncated" << "truncated";
    QTest::newRow("text file") << "text" << "not a readable checkpoint";
    QTest::newRow("one flipped weight byte") << "flipped" << "checksum does not match";
    QTest::newRow("4 layers under a 2-layer config") << "extra layers" << "that its config (n_layer 2";
    QTest::newRow("weights of another width") << "other width" << "needs [";
    QTest::newRow("NaN weights") << "nan" << "NaN or infinite";
    QTest::newRow("a folder") << "folder" << "it is a folder";
    QTest::newRow("a FIFO (its open would wait for a writer)") << "fifo" << "it is not a regular file";
  }
  void badCheckpointsGiveClearErrors() {
    QFETCH(QString, kind);
    QFETCH(QString, message);
    const std::string run = dir("bad_ck");
    if (!file_exists(run + "/checkpoints/latest.pt")) {
      auto t = Trainer::create(tiny_config(), corpus(), run, "synthetic");
      t->advance();
    }
    const std::string path = dir(qPrintable("bad_" + kind + ".pt"));
    const std::string good = read_file(run + "/checkpoints/latest.pt");
    if (kind == "empty") atomic_write(path, "");
    if (kind == "truncated") atomic_write(path, good.substr(0, good.size() / 2));
    if (kind == "text") atomic_write(path, "hello, not a checkpoint\n");
    if (kind == "folder") fs::create_directories(path);
    if (kind == "fifo") QCOMPARE(::mkfifo(path.c_str(), 0644), 0);
    if (kind == "flipped") {
      std::string bad = good;
      bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x10);
      atomic_write(path, bad);
    }
    if (kind == "extra layers" || kind == "other width" || kind == "nan") {
      // well-formed files whose weights disagree with the config stored beside them
      const LoadedCheckpoint ck = load_checkpoint(run + "/checkpoints/latest.pt", torch::kCPU);
      Config built = ck.meta.config;
      if (kind == "extra layers") built.n_layer = 4;
      if (kind == "other width") built.n_embd = 48;
      GPT model(built, ck.meta.vocab.size());
      if (kind == "nan") {
        torch::NoGradGuard no_grad;
        model->parameters().front().fill_(NAN);
      }
      save_checkpoint(path, model, {}, ck.meta);
    }
    try {
      InferenceModel::load(path, DeviceChoice::cpu);
      QFAIL("loading succeeded");
    } catch (const CheckpointError& e) {
      QVERIFY2(QString(e.what()).contains(message), e.what());
    }
  }

  // 1,000 mutations of a good checkpoint (flipped bytes, truncations, inserted and deleted bytes): each one
  // either fails with a CheckpointError or loads exactly the saved weights; never a crash, never a silent change.
  void fuzzedCheckpointsNeverLoadSilently() {
    const std::string run = dir("fuzz");
    {
      auto t = Trainer::create(tiny_config(), corpus(), run, "synthetic");
      t->advance();
    }
    const std::string good = read_file(run + "/checkpoints/latest.pt");
    const auto reference = load_checkpoint(run + "/checkpoints/latest.pt", torch::kCPU).model->parameters();
    std::mt19937 rng(17);
    int rejected = 0, identical = 0;
    for (int i = 0; i < 1000; ++i) {
      std::string bad = good;
      const size_t at = rng() % bad.size();
      switch (i % 4) {
        case 0: bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8))); break;
        case 1: bad.resize(at); break;
        case 2: bad.insert(at, 1, static_cast<char>(rng())); break;
        default: bad.erase(at, 1 + rng() % 64); break;
      }
      const std::string path = dir("fuzzed.pt");
      atomic_write(path, bad);
      try {
        const auto loaded = load_checkpoint(path, torch::kCPU);
        const auto params = loaded.model->parameters();
        QCOMPARE(params.size(), reference.size());
        for (size_t p = 0; p < params.size(); ++p) QVERIFY(torch::equal(params[p], reference[p]));
        ++identical;
      } catch (const CheckpointError&) {
        ++rejected;
      }
    }
    qInfo("1000 mutations: %d rejected with a reason, %d loaded the saved weights unchanged", rejected, identical);
    QVERIFY(rejected >= 990);
  }

  // A corrupt latest.pt falls back to best.pt with a notice; half-written *.tmp files of a killed run go.
  void aCorruptLatestFallsBackToBest() {
    const std::string run = dir("fallback");
    {
      auto t = Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt"));
      while (t->step() < 7) t->advance();  // best.pt at step 5, latest.pt at step 7
      t->save_latest();
    }
    std::string latest = read_file(run + "/checkpoints/latest.pt");
    latest[latest.size() / 3] = static_cast<char>(latest[latest.size() / 3] ^ 1);
    atomic_write(run + "/checkpoints/latest.pt", latest);
    atomic_write(run + "/checkpoints/latest.pt.tmp", "half a checkpoint");
    auto t = Trainer::resume(run);
    QCOMPARE(t->step(), 5);
    QVERIFY2(t->notice().find("(damaged on disk or edited): resumed from best.pt at step 5 instead") != std::string::npos,
             t->notice().c_str());
    QVERIFY(!file_exists(run + "/checkpoints/latest.pt.tmp"));
  }

  // Checkpoints from before the frame (a bare torch archive) still load, the same weights, without a checksum.
  void aCheckpointWithoutItsFrameStillLoads() {
    const std::string run = dir("unframed");
    {
      auto t = Trainer::create(tiny_config(), corpus(), run, "synthetic");
      t->advance();
    }
    const std::string framed = read_file(run + "/checkpoints/latest.pt");
    QCOMPARE(framed.substr(0, 8), std::string("MOEWBCK1"));
    atomic_write(dir("bare.pt"), framed.substr(16, framed.size() - 24));  // magic + length ... hash
    const auto reference = load_checkpoint(run + "/checkpoints/latest.pt", torch::kCPU);
    const auto bare = load_checkpoint(dir("bare.pt"), torch::kCPU);
    QCOMPARE(bare.meta.step, reference.meta.step);
    const auto a = reference.model->parameters(), b = bare.model->parameters();
    QCOMPARE(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) QVERIFY(torch::equal(a[i], b[i]));
    // nothing verified it, and the user is told (the CLI prints the notice as a warning)
    QVERIFY(reference.notice.empty());
    QVERIFY2(bare.notice.find("'" + dir("bare.pt") + "' has no checksum") != std::string::npos, bare.notice.c_str());
    QCOMPARE(InferenceModel::load(dir("bare.pt"), DeviceChoice::cpu).notice(), bare.notice);
  }

  // Without a frame nothing catches damage before LibTorch parses the archive, whose TorchScript errors quote the
  // damaged code over several lines and name no file: each is one line naming the file. (Random mutations are not
  // tried here: some crash LibTorch's TorchScript parser, which only the frame's checksum keeps away.)
  void damagedCheckpointsWithoutTheirFrameFailInOneLine_data() {
    QTest::addColumn<QString>("from");
    QTest::addColumn<QString>("to");
    QTest::addColumn<QString>("reason");
    QTest::newRow("code that does not parse") << "class Module(Module)" << "clqss Module(Module)"
                                              << "(Unexpected token in code import: ident)";
    QTest::newRow("a base class renamed") << "class Module(Module)" << "class Module(Mndule)"
                                          << "(Torchscript does not support class inheritance.)";
    QTest::newRow("a type renamed") << "__torch__.___torch_mangle_0" << "__torch__.___torch_mangld_0"
                                    << "(Unknown type name '__torch__.___torch_mangld_0.Module')";
  }
  void damagedCheckpointsWithoutTheirFrameFailInOneLine() {
    QFETCH(QString, from);
    QFETCH(QString, to);
    QFETCH(QString, reason);
    const std::string run = dir("bare_damage");
    if (!file_exists(run + "/checkpoints/latest.pt")) {
      auto t = Trainer::create(tiny_config(), corpus(), run, "synthetic");
      t->advance();
    }
    const std::string framed = read_file(run + "/checkpoints/latest.pt");
    std::string bare = framed.substr(16, framed.size() - 24);
    const size_t at = bare.find(from.toStdString());
    QVERIFY(at != std::string::npos);
    bare.replace(at, static_cast<size_t>(from.size()), to.toStdString());
    const std::string path = dir("bare_damaged.pt");
    atomic_write(path, bare);
    try {
      load_checkpoint(path, torch::kCPU);
      QFAIL("loaded");
    } catch (const CheckpointError& e) {
      QCOMPARE(QString(e.what()), QString::fromStdString("'" + path + "' is damaged or not a moewb checkpoint ") + reason);
    }
  }

  // A stored config is validated as a new one is: a checkpoint whose config was damaged or edited (its frame
  // rewritten to match) is refused naming the key, instead of dividing by zero (n_head 0), failing deep in LibTorch
  // or running with values no run could have.
  void anInvalidStoredConfigIsRefusedByKey_data() {
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("message");
    QTest::newRow("n_head 0") << "n_head" << "0" << "n_head: must be at least 1";
    QTest::newRow("n_head 3") << "n_head" << "3" << "n_embd: width d = 32 is not divisible by n_head = 3";
    QTest::newRow("top_k 0") << "top_k" << "0" << "top_k: must be at least 1";
    QTest::newRow("top_k 9") << "top_k" << "9" << "top_k: k = 9 exceeds the number of experts N = 4";
    QTest::newRow("dropout 9") << "dropout" << "9" << "dropout: must be in [0, 1)";
    QTest::newRow("capacity_factor 0") << "capacity_factor" << "0" << "capacity_factor: must be in (0, 1e+06]";
    QTest::newRow("sigmoid_tau 9.5") << "sigmoid_tau" << "9.5" << "sigmoid_tau: must be in (0, 1)";
  }
  void anInvalidStoredConfigIsRefusedByKey() {
    QFETCH(QString, key);
    QFETCH(QString, value);
    QFETCH(QString, message);
    const std::string run = dir("stored_config");
    if (!file_exists(run + "/checkpoints/latest.pt")) {
      Config c = moe(tiny_config());
      c.use_capacity = true;
      auto t = Trainer::create(c, corpus(), run, "synthetic");
      t->advance();
    }
    LoadedCheckpoint ck = load_checkpoint(run + "/checkpoints/latest.pt", torch::kCPU);
    QCOMPARE(QString::fromStdString(apply_override(ck.meta.config, key.toStdString(), value.toStdString())), QString());
    const std::string path = dir("stored_config.pt");
    save_checkpoint(path, ck.model, {}, ck.meta);
    try {
      InferenceModel::load(path, DeviceChoice::cpu);
      QFAIL("loaded");
    } catch (const CheckpointError& e) {
      QVERIFY2(QString(e.what()) == QString::fromStdString("cannot load '" + path + "': its stored config is invalid: ") +
                                        message,
               e.what());
    }
  }

  // A disk that fills up while a checkpoint streams out fails the save with the reason and leaves the previous
  // checkpoint as it was, with no half-written file beside it. The full disk is a file-size limit (RLIMIT_FSIZE,
  // with SIGXFSZ ignored the write fails with EFBIG), so no mount is needed.
  void aFullDiskFailsTheSaveAndKeepsTheLastCheckpoint() {
    const std::string run = dir("full_disk");
    {
      auto t = Trainer::create(tiny_config(), corpus(), run, "synthetic");
      t->advance();
    }
    const std::string path = run + "/checkpoints/latest.pt", before = read_file(path);
    CheckpointMeta meta = load_checkpoint(path, torch::kCPU).meta;
    meta.config.n_embd = 256, meta.config.n_head = 4;  // about 6 MB, against a 1 MB limit
    GPT big(meta.config, meta.vocab.size());
    rlimit previous{};
    QVERIFY(::getrlimit(RLIMIT_FSIZE, &previous) == 0);
    rlimit full = previous;
    full.rlim_cur = 1 << 20;
    const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
    QVERIFY(::setrlimit(RLIMIT_FSIZE, &full) == 0);
    std::string error;
    try {
      save_checkpoint(path, big, {}, meta);
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &previous);
    std::signal(SIGXFSZ, previous_handler);
    QVERIFY2(error.find("cannot write '" + path + "': File too large") != std::string::npos, error.c_str());
    QVERIFY(read_file(path) == before);
    QVERIFY(!file_exists(path + ".tmp"));
    QCOMPARE(load_checkpoint(path, torch::kCPU).meta.config.n_embd, tiny_config().n_embd);
  }

  // A checkpoint streams between its archive and the file: saving holds no copy of the file in memory, and
  // loading allocates the tensors, not the file besides. Before, a 1 GB checkpoint cost 4 GB more at every save
  // and a run that passed the memory check was killed at its first one. Measured as the rise of the process's
  // peak resident memory (VmHWM, reset through clear_refs) over its resident memory before each call.
  void checkpointsStreamThroughMemory() {
    const std::string run = dir("streamed");
    {
      auto t = Trainer::create(tiny_config(), corpus(), run, "synthetic");
      t->advance();
    }
    CheckpointMeta meta = load_checkpoint(run + "/checkpoints/latest.pt", torch::kCPU).meta;
    meta.config.n_layer = 4, meta.config.n_embd = 512, meta.config.n_head = 8;
    const std::string path = dir("big.pt");
    auto peak_rise_mib = [](const std::function<void()>& work) {
      auto status_kib = [](const char* field) {
        std::ifstream in("/proc/self/status");
        for (std::string line; std::getline(in, line);)
          if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field)));
        return -1.0;
      };
      std::ofstream reset("/proc/self/clear_refs");
      if (!(reset << "5" << std::flush)) return -1.0;  // this kernel cannot reset the peak
      const double before = status_kib("VmRSS:");
      work();
      return (status_kib("VmHWM:") - before) / 1024.0;
    };
    double save_rise = 0;
    {
      GPT model(meta.config, meta.vocab.size());
      save_rise = peak_rise_mib([&] { save_checkpoint(path, model, {}, meta); });
    }
    if (save_rise < 0) QSKIP("this kernel cannot reset a process's peak resident memory");
    const double file = static_cast<double>(fs::file_size(path)) / (1024.0 * 1024.0);
    std::optional<LoadedCheckpoint> loaded;
    const double load_rise = peak_rise_mib([&] { loaded.emplace(load_checkpoint(path, torch::kCPU)); });
    qInfo("a %.0f MiB checkpoint: saving rose the peak by %.0f MiB, loading by %.0f MiB", file, save_rise, load_rise);
    QVERIFY(file > 45);
    QVERIFY2(save_rise < 0.25 * file, "saving held the checkpoint in memory");  // before: 4.0 x the file
    // loading builds the model from the config, then the stored tensors replace its weights
    QVERIFY2(load_rise < 2.5 * file, "loading held the checkpoint in memory");  // before: 3.6 x the file
    QCOMPARE(loaded->model->parameter_count(), count_parameters(meta.config, meta.vocab.size()));
  }

  // A run whose latest.pt was deleted resumes from best.pt with a notice, and a new run may not take its folder.
  void aMissingLatestResumesFromBest() {
    const std::string run = dir("latest_gone");
    {
      auto t = Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt"));
      while (t->step() < 7) t->advance();  // best.pt at step 5, latest.pt at step 7
      t->save_latest();
    }
    fs::remove(run + "/checkpoints/latest.pt");
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt")));
    QVERIFY(file_exists(run + "/checkpoints/best.pt"));
    auto t = Trainer::resume(run);
    QCOMPARE(t->step(), 5);
    QVERIFY2(t->notice().find("does not exist: resumed from best.pt at step 5 instead") != std::string::npos,
             t->notice().c_str());
  }

  void resumeRejectsAnEditedConfig() {
    const std::string run = dir("edited");
    {
      auto t = Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt"));
      t->advance();
    }
    Config edited = tiny_config();
    edited.n_layer = 3;
    atomic_write(run + "/config.json", to_json(edited));
    QVERIFY_THROWS_EXCEPTION(CheckpointError, Trainer::resume(run));
  }

  // An edited corpus that keeps its character set would resume on different batches: refused, naming why.
  void resumeRejectsAnEditedDataset() {
    const std::string run = dir("edited_data"), data_file = dir("corpus_edited.txt");
    std::string text = synthetic_corpus(4000);
    atomic_write(data_file, text);
    {
      auto t = Trainer::create(tiny_config(), TextDataset::from_file(data_file), run, data_file);
      t->advance();
    }
    std::reverse(text.begin(), text.begin() + 200);
    atomic_write(data_file, text);
    try {
      Trainer::resume(run);
      QFAIL("resume accepted an edited dataset");
    } catch (const CheckpointError& e) {
      QVERIFY2(std::string(e.what()).find("has changed since the run started") != std::string::npos, e.what());
    }
  }

  // A model whose checkpoints cannot fit the disk is refused before anything is made, beside the memory check.
  void checkpointsThatCannotFitTheDiskAreRefused() {
    if (!free_disk_bytes(dir(""))) QSKIP("the free space of this disk is unknown");
    Config c = tiny_config();
    c.n_layer = 100000, c.n_embd = 1024, c.n_head = 8;  // 13.7 TiB per checkpoint
    const std::string run = dir("no_room");
    try {
      Trainer::create(c, corpus(), run, "synthetic");
      QFAIL("a run whose checkpoints cannot fit was accepted");
    } catch (const ConfigError& e) {
      QVERIFY2(QString(e.what()).contains("the run's checkpoints need about 41.2 TiB more on disk"), e.what());
    }
    QVERIFY(!fs::exists(run));
  }

  // A run that failed before its first checkpoint can be started again in the same folder.
  void aFolderWithoutACheckpointCanBeRestarted() {
    const std::string run = dir("no_checkpoint");
    { auto t = Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt")); }  // nothing trained
    QVERIFY_THROWS_EXCEPTION(CheckpointError, Trainer::resume(run));
    auto again = Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt"));
    again->advance();
    QVERIFY(file_exists(run + "/checkpoints/latest.pt"));
  }
};

QTEST_APPLESS_MAIN(TestCheckpoint)
#include "tst_checkpoint.moc"
