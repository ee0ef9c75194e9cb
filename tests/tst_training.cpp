// The training loop: golden losses, determinism, 50 steps in lockstep with nanoGPT's train.py, resume = the
// uninterrupted run, configs refused by field, divergence, train.log, one writer per run folder, a full disk.
#include <QtTest>

#include <QProcess>

#include <cmath>
#include <filesystem>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include <spdlog/logger.h>
#include <torch/script.h>

#include "core/config/memory_estimate.h"
#include "core/inference/inference_impl.h"
#include "core/model/batches.h"
#include "core/model/machine.h"
#include "fixtures.h"

using namespace moewb;

class TestTraining : public QObject, ScratchFolder {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    init_torch_threads();
    atomic_write(dir("corpus.txt"), synthetic_corpus(4000));  // corpus() as a file, for the runs that resume
  }

  void goldenFirstLosses() {
    // Reference values from this implementation at seed 1337 (recorded with the trainer-owned generator; LibTorch
    // 1.13, OpenBLAS, x86-64).
    // The first sits just above ln V = ln 29 = 3.367, as nanoGPT's small-logit initialisation gives.
    const double golden[] = {3.3990, 3.3609, 3.3306, 3.2763, 3.2315};
    Config c = moe(tiny_config());
    c.eval_interval = 100;
    auto t = Trainer::create(c, corpus(), "", "");
    std::vector<double> losses;
    while (losses.size() < 5) {
      Progress p = t->advance();
      if (p.step && p.step->logged) losses.push_back(p.step->loss);
    }
    QVERIFY(std::abs(losses[0] - std::log(29.0)) < 0.1);
    for (int i = 0; i < 5; ++i)
      QVERIFY2(std::abs(losses[i] - golden[i]) < 2e-3, qPrintable(QString("loss %1 = %2, golden %3")
                                                                   .arg(i).arg(losses[i], 0, 'f', 4).arg(golden[i])));
  }

  void sameSeedSameCurve() {
    Config c = moe(tiny_config(), "sigmoid");
    auto a = Trainer::create(c, corpus(), dir("seed_a"), "synthetic");
    auto b = Trainer::create(c, corpus(), dir("seed_b"), "synthetic");
    run_to_end(*a);
    run_to_end(*b);
    QCOMPARE(column(dir("seed_a"), "train_loss"), column(dir("seed_b"), "train_loss"));
    c.seed = 99;
    auto other = Trainer::create(c, corpus(), dir("seed_c"), "synthetic");
    run_to_end(*other);
    QVERIFY(column(dir("seed_a"), "train_loss") != column(dir("seed_c"), "train_loss"));
  }

  // Snapshots for generation, models built on other threads and draws from LibTorch's default generator between
  // steps leave a run with dropout and router jitter on exactly the trajectory it has alone: the trainer draws
  // from its own generator.
  void otherRandomDrawsNeverChangeTraining() {
    Config c = moe(tiny_config());
    c.dropout = 0.2, c.router_jitter = 0.1;
    auto losses = [&](bool busy) {
      auto t = Trainer::create(c, corpus(), "", "");
      std::vector<double> out;
      while (!t->done()) {
        if (busy) {
          InferenceModel m = t->snapshot();
          GenerationOptions g;
          g.length = 8;
          std::thread([&] {
            m.generate("ab", g);
            GPT other(c, corpus().vocab.size());
          }).join();
          torch::rand({16});
        }
        Progress p = t->advance();
        if (p.step && p.step->logged) out.push_back(p.step->loss);
      }
      return out;
    };
    const std::vector<double> alone = losses(false);
    QCOMPARE(losses(true), alone);
    QCOMPARE(static_cast<int>(alone.size()), c.max_iters);
  }

  // Training is nanoGPT's training: from the same weights and the same batches (the trainer's own sequence,
  // drawn here as it draws them), 50 steps of nanoGPT train.py's loop in PyTorch (nanogpt_lockstep.py) give the
  // same loss at every step: warm-up, cosine decay, steps past lr_decay_iters at min_lr, clipping at 0.5 and
  // weight decay all take part. Measured: the losses agree to 7e-7 (fp32, different reduction orders); 1e-4
  // leaves room for other BLAS thread counts while any difference in the recipe moves them by far more.
  void trainingMatchesNanoGptStepByStep() {
    if (std::string(MOEWB_TORCH_PYTHON).empty()) QSKIP("no python3 with torch (python3-torch) at configure time");
    Config c = tiny_config();
    c.max_iters = 50, c.lr_decay_iters = 40, c.warmup_iters = 5, c.eval_interval = 1000, c.log_interval = 1;
    c.learning_rate = 1e-2, c.min_lr = 1e-3, c.grad_clip = 0.5, c.weight_decay = 0.1;
    const TextDataset data = corpus();
    auto t = Trainer::create(c, data, "", "");
    t->snapshot().export_state_dict(dir("lockstep_init.pt"));
    std::mt19937_64 rng(static_cast<uint64_t>(c.seed));
    const auto train = token_split(data, 0, data.n_train);
    std::vector<torch::Tensor> xs, ys;
    for (int i = 0; i < c.max_iters; ++i) {
      Batch b = sample_batch(train, c.batch_size, c.block_size, rng);
      xs.push_back(b.x), ys.push_back(b.y);
    }
    c10::Dict<std::string, torch::Tensor> batches;
    batches.insert("x", torch::stack(xs));
    batches.insert("y", torch::stack(ys));
    const std::vector<char> bytes = torch::pickle_save(c10::IValue(batches));
    atomic_write(dir("lockstep_batches.pt"), std::string(bytes.begin(), bytes.end()));
    atomic_write(dir("lockstep_config.json"), to_json(c));

    std::vector<double> ours;
    while (!t->done()) {
      Progress p = t->advance();
      if (p.step && p.step->logged) ours.push_back(p.step->loss);
    }
    QProcess py;
    QStringList args = {QString(MOEWB_TESTS_DIR) + "/nanogpt_lockstep.py"};
    for (const char* file : {"lockstep_init.pt", "lockstep_batches.pt", "lockstep_config.json"})
      args << QString::fromStdString(dir(file));
    py.start(MOEWB_TORCH_PYTHON, args);
    QVERIFY(py.waitForFinished(300000));
    QVERIFY2(py.exitCode() == 0, py.readAllStandardError().constData());
    const QStringList theirs = QString(py.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(theirs.size(), static_cast<int>(ours.size()));
    double worst = 0;
    for (int i = 0; i < theirs.size(); ++i) worst = std::max(worst, std::abs(ours[i] - theirs[i].toDouble()));
    qInfo("largest loss difference over %d steps: %.3g (first %.6f vs %.6f, last %.6f vs %.6f)", theirs.size(), worst,
          ours.front(), theirs.front().toDouble(), ours.back(), theirs.back().toDouble());
    QVERIFY(worst < 1e-4);
  }

  void resumeEqualsUninterruptedRun_data() {
    QTest::addColumn<QString>("routing");
    QTest::addColumn<double>("dropout");
    QTest::newRow("topk") << "topk" << 0.0;
    QTest::newRow("softmax with dropout") << "softmax" << 0.2;
    QTest::newRow("topk with dropout and router jitter") << "topk jitter" << 0.2;
    QTest::newRow("sigmoid with dropout, bf16 autocast") << "sigmoid bf16" << 0.1;
  }
  void resumeEqualsUninterruptedRun() {
    QFETCH(QString, routing);
    QFETCH(double, dropout);
    const QStringList words = routing.split(' ');
    Config c = moe(tiny_config(), words[0].toStdString());
    c.dropout = dropout;
    if (words.contains("jitter")) c.router_jitter = 0.1;
    if (words.contains("bf16")) c.precision = PrecisionChoice::bf16;
    c.log_interval = 3;  // stop mid-interval: the partial loss sum must survive the checkpoint
    const TextDataset data = corpus();
    const std::string data_file = dir("corpus.txt");
    atomic_write(data_file, synthetic_corpus(4000));
    const QString tag = QString(routing).replace(' ', '_');
    const std::string whole = dir(qPrintable("whole_" + tag)), split = dir(qPrintable("split_" + tag));
    auto a = Trainer::create(c, data, whole, data_file);
    run_to_end(*a);
    {
      auto b = Trainer::create(c, data, split, data_file);
      while (b->step() < 7) b->advance();
      b->save_latest();
      // the interrupted run went further than its checkpoint: those rows must not survive the resume
      b->advance();
      b->advance();
    }
    auto resumed = Trainer::resume(split);
    QCOMPARE(resumed->step(), 7);
    run_to_end(*resumed);
    for (const char* col : {"step", "train_loss", "lr", "val_loss", "eval_train_loss", "L0_load_entropy"})
      QCOMPARE(column(split, col), column(whole, col));
    auto p1 = a->snapshot().impl().model->parameters();
    auto p2 = resumed->snapshot().impl().model->parameters();
    for (size_t i = 0; i < p1.size(); ++i) QVERIFY(torch::equal(p1[i], p2[i]));
  }

  // A divergence between log steps is caught by the evaluation before it writes anything: latest.pt keeps the
  // last good weights, metrics.csv gets no row for the diverged evaluation, the message says where.
  void nanBetweenLogStepsNeverReachesACheckpoint() {
    const std::string run = dir("diverged");
    Config c = tiny_config();
    c.learning_rate = 1e30, c.min_lr = 0, c.warmup_iters = 0, c.grad_clip = 0;
    c.log_interval = 1000, c.eval_interval = 6, c.max_iters = 12, c.lr_decay_iters = 12;
    auto t = Trainer::create(c, corpus(), run, dir("corpus.txt"));
    std::string message;
    int thrown_at = -1;
    try {
      for (int guard = 0; guard < 30 && !t->done(); ++guard) t->advance();
    } catch (const NumericError& e) {
      message = e.what(), thrown_at = e.step;
    }
    t.reset();               // lets go of the run folder
    QCOMPARE(thrown_at, 6);  // the first evaluation after step 0
    QVERIFY2(message.find("the evaluation loss became") == 0 && message.find("between step 0 and step 6") != std::string::npos,
             message.c_str());
    auto back = Trainer::resume(run);  // the checkpoint of step 0, finite
    QCOMPARE(back->step(), 0);
    const MetricsTable m = parse_metrics_csv(read_file(run + "/metrics.csv"));
    for (double v : m.column("val_loss")) QVERIFY(std::isnan(v) || std::isfinite(v));
    QCOMPARE(m.column("step").back(), 0.0);
    // the failed session's last word is in the run's log, whoever ran it (the app has no terminal)
    QVERIFY(read_file(run + "/train.log").find(" error   the evaluation loss became") != std::string::npos);
  }

  // train.log is the run's journal: every session's start, logged step, evaluation, save and end, each line with
  // its time and level, appended across resumes; a trainer without a folder writes none.
  void trainLogRecordsEverySession() {
    const std::string run = dir("journal");
    atomic_write(dir("corpus.txt"), synthetic_corpus(4000));  // what corpus() holds: resume reads the file
    Config c = tiny_config();
    c.max_iters = 4, c.eval_interval = 2, c.log_interval = 2, c.lr_decay_iters = 8;
    {
      auto t = Trainer::create(c, corpus(), run, dir("corpus.txt"));
      while (!t->done()) t->advance();
      t->save_latest();
    }
    atomic_write(run + "/run.lock", "pid 999999 on elsewhere\n");  // as a killed run leaves it
    {
      auto t = Trainer::resume(run, 6);
      while (!t->done()) t->advance();
    }
    std::vector<std::string> lines;
    std::istringstream in(read_file(run + "/train.log"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    const std::regex stamped(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (info   |warning|error  ) .+)");
    for (const auto& line : lines) QVERIFY2(std::regex_match(line, stamped), line.c_str());
    auto text = [&](size_t i) { return i < lines.size() ? lines[i].substr(24) : std::string(); };
    QVERIFY2(text(0).rfind("info    run " + run + " started on cpu (fp32), ", 0) == 0, text(0).c_str());
    QVERIFY2(text(1).rfind("info    step 0: train loss ", 0) == 0, text(1).c_str());
    QVERIFY2(text(2).rfind("info    step 2/4 | loss ", 0) == 0, text(2).c_str());
    QVERIFY2(text(3).rfind("info    step 2: train loss ", 0) == 0, text(3).c_str());
    QCOMPARE(text(6), "info    done: " + run);
    QCOMPARE(text(7), "info    saved checkpoints/latest.pt at step 4");
    QVERIFY2(text(8).rfind("info    run " + run + " resumed at step 4 on cpu", 0) == 0, text(8).c_str());
    QCOMPARE(text(9), "warning took over '" + run + "' from pid 999999 on elsewhere, which did not stop cleanly");
    QCOMPARE(text(lines.size() - 1), "info    done: " + run);

    auto unfiled = Trainer::create(c, corpus(), "", dir("corpus.txt"));
    unfiled->advance();
    QVERIFY(unfiled->log().sinks().empty());
  }

  // One writer per run folder: a second trainer is refused with the holder named; a lock left by a killed
  // process is taken over and said so.
  void aRunFolderHasOneWriter() {
    const std::string run = dir("locked");
    auto first = Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt"));
    first->advance();
    try {
      Trainer::resume(run);
      QFAIL("a second writer was let in");
    } catch (const std::runtime_error& e) {
      QVERIFY2(QString(e.what()).contains("is in use by pid " + QString::number(QCoreApplication::applicationPid())),
               e.what());
    }
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt")));
    first.reset();
    QVERIFY(read_file(run + "/run.lock").empty());  // a clean stop leaves no holder named
    atomic_write(run + "/run.lock", "pid 999999 on elsewhere\n");  // as a killed run leaves it
    auto second = Trainer::resume(run);
    QCOMPARE(second->notice(), "took over '" + run + "' from pid 999999 on elsewhere, which did not stop cleanly");
  }

  // A metrics row that cannot be written (disk full) stops the run with the reason, instead of a "done" run
  // with rows missing.
  void aFullDiskStopsTheRun() {
    const std::string run = dir("disk_full");
    auto t = Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt"));
    t->advance();  // step 0's evaluation row
    std::filesystem::remove(run + "/metrics.csv");
    std::filesystem::create_symlink("/dev/full", run + "/metrics.csv");  // every write: ENOSPC
    try {
      for (int guard = 0; guard < 5; ++guard) t->advance();  // log_interval 1: the first step writes a row
      QFAIL("a row was lost without an error");
    } catch (const std::runtime_error& e) {
      QVERIFY2(QString(e.what()).contains("cannot append to") && QString(e.what()).contains("No space left"), e.what());
    }
  }

  // Shortening a run below its step used to spin forever (the loop waited for a step it had passed).
  void resumeBelowTheCurrentStepIsRejected() {
    const std::string run = dir("shortened");
    {
      auto t = Trainer::create(tiny_config(), corpus(), run, dir("corpus.txt"));
      while (t->step() < 4) t->advance();
      t->save_latest();
    }
    try {
      Trainer::resume(run, 3);
      QFAIL("resume accepted max_iters below the run's step");
    } catch (const ConfigError& e) {
      QCOMPARE(e.errors.front().field, std::string("max_iters"));
      QVERIFY2(QString(e.what()).contains("already at step 4"), e.what());
    }
    auto same = Trainer::resume(run, 4);  // ending exactly where it is: one evaluation, then done
    for (int guard = 0; !same->done() && guard < 3; ++guard) same->advance();
    QVERIFY(same->done());
    QCOMPARE(same->step(), 4);
  }

  void impossibleConfigsAreRejectedByField_data() {
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("field");
    QTest::newRow("k > N") << "top_k" << "5" << "top_k";
    QTest::newRow("cf <= 0") << "capacity_factor" << "0" << "capacity_factor";
    QTest::newRow("d % heads") << "n_head" << "3" << "n_embd";
    QTest::newRow("context too long") << "block_size" << "500" << "block_size";
  }
  void impossibleConfigsAreRejectedByField() {
    QFETCH(QString, key);
    QFETCH(QString, value);
    QFETCH(QString, field);
    Config c = moe(tiny_config());
    c.use_capacity = true;
    QCOMPARE(apply_override(c, key.toStdString(), value.toStdString()), std::string());
    try {
      Trainer::create(c, corpus(), "", "");
      QFAIL("an impossible configuration was accepted");
    } catch (const ConfigError& e) {
      QCOMPARE(e.errors.size(), size_t{1});
      QCOMPARE(QString::fromStdString(e.errors[0].field), field);
    }
  }

  // The memory check counts every rank on this machine: a model (50 MB with its optimizer) that one process
  // trains is refused for 4,096 ranks here, saying why, before anything is allocated.
  void ranksOnOneMachineAreCountedTogether() {
    Config c = tiny_config();
    c.n_layer = 4, c.n_embd = 256, c.n_head = 4, c.batch_size = 4096;
    const double available = available_host_memory();
    const double need = estimate_for_ranks(c, corpus().vocab.size(), 0, false, 4096, 4096).total();
    if (available <= 0 || need <= available) QSKIP("this machine holds 4,096 ranks of the tiny model");
    set_ranks_on_this_machine(4096, 4096);
    try {
      Trainer::create(c, corpus(), "", "");
      set_ranks_on_this_machine(1, 1);
      QFAIL("4,096 ranks' memory was not counted");
    } catch (const ConfigError& e) {
      set_ranks_on_this_machine(1, 1);
      QVERIFY2(QString(e.what()).contains("this machine, shared by 4096 ranks, has"), e.what());
    }
    c.batch_size = 1;  // what each of those ranks would train, alone: it fits
    QCOMPARE(Trainer::create(c, corpus(), "", "")->step(), 0);
  }
};

QTEST_APPLESS_MAIN(TestTraining)
#include "tst_training.moc"
