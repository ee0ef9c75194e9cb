// The run folder (core/runs/run_folder.h): what the trainer writes reads back the same in one call, metrics rows
// round-trip through metrics.csv, snapshots come in step order with unreadable ones named, the writer is the lock's
// holder, and every error names the file.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/base/files.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_lock.h"

using namespace moewb;

namespace {

Config moe_config() {
  Config c;
  c.ffn = Ffn::moe, c.n_layer = 2, c.n_experts = 4, c.top_k = 2, c.max_iters = 20;
  return c;
}

// A one-layer-per-config-layer trace of "ab" at `step`.
RoutingTrace trace_at(int step, const Config& c) {
  RoutingTrace t;
  t.step = step, t.routing = RoutingMode::topk, t.n_experts = c.n_experts, t.text = U"ab";
  for (int l = 0; l < c.n_layer; ++l) {
    LayerTrace layer;
    layer.n_experts = c.n_experts, layer.slots = 1;
    for (int position = 0; position < 2; ++position) {
      for (int e = 0; e < c.n_experts; ++e) layer.probs.push_back(e == position ? 0.7f : 0.1f);
      layer.chosen.push_back(position);
      layer.weights.push_back(1.0f);
      layer.dropped.push_back(0);
    }
    t.layers.push_back(layer);
  }
  return t;
}

MetricsRow logged_row(int step) {
  MetricsRow r;
  r.step = step, r.elapsed_s = step * 0.5, r.lr = 1e-3, r.train_loss = 3.0 - step * 0.01, r.tokens_per_sec = 1234.5;
  return r;
}

MetricsRow evaluated_row(int step, const Config& c) {
  MetricsRow r = logged_row(step);
  r.eval_train_loss = 2.5, r.val_loss = 2.625, r.peak_memory_mb = 300;
  for (int l = 0; l < c.n_layer; ++l) {
    LayerMetrics m;
    m.load_entropy = 0.9 + l * 0.01, m.load_cv = 0.2, m.max_share = 0.4, m.dead_experts = l;
    m.dropped_fraction = 0.125, m.mean_active = 1.75, m.router_entropy = 0.5;
    for (int e = 0; e < c.n_experts; ++e) m.load.push_back(0.25 + (e - 1.5) * 0.01), m.importance.push_back(0.25);
    r.layers.push_back(m);
  }
  return r;
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || std::abs(a - b) < 1e-6 * (1 + std::abs(b)); }

}  // namespace

class TestRunFolder : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  std::string fresh(const char* name) { return tmp_.filePath(name).toStdString(); }

 private Q_SLOTS:
  void namesEveryFileInsideTheFolder() {
    const RunFolder f("/r/top2");
    QCOMPARE(QString::fromStdString(f.config_file()), QString("/r/top2/config.json"));
    QCOMPARE(QString::fromStdString(f.metrics_file()), QString("/r/top2/metrics.csv"));
    QCOMPARE(QString::fromStdString(f.snapshot_file(250)), QString("/r/top2/routing/step_000250.json"));
    QCOMPARE(QString::fromStdString(f.latest_checkpoint()), QString("/r/top2/checkpoints/latest.pt"));
    QCOMPARE(QString::fromStdString(RunFolder::of_checkpoint(f.best_checkpoint()).dir()), QString("/r/top2"));
    QVERIFY(RunFolder::is_tensorboard_file("events.out.tfevents.1765000000.host.42"));
    QVERIFY(!RunFolder::is_tensorboard_file("metrics.csv"));
  }

  // What the trainer writes, read back in one call: config, metrics rows (format_metrics_row read back), and the
  // snapshots in step order.
  void whatIsWrittenReadsBackTheSame() {
    const RunFolder f(fresh("roundtrip"));
    const Config c = moe_config();
    f.create();
    QVERIFY(!f.holds_run());
    f.write_config(c);
    f.write_run_info(nlohmann::json{{"dataset", "corpus.txt"}});
    f.start_metrics(c);
    const std::vector<MetricsRow> written = {logged_row(5), evaluated_row(10, c), logged_row(15)};
    for (const MetricsRow& r : written) f.append_metrics(c, r);
    for (int step : {10, 0}) f.write_snapshot(step, trace_at(step, c));
    QVERIFY(f.holds_run());
    QVERIFY(!f.holds_checkpoint());

    const RunFolder::Contents read = f.read();
    QCOMPARE(QString::fromStdString(to_json(read.config)), QString::fromStdString(to_json(c)));
    QCOMPARE(QString::fromStdString(f.read_run_info().at("dataset").get<std::string>()), QString("corpus.txt"));
    QVERIFY(read.writer.empty());
    const std::vector<MetricsRow> rows = metrics_rows(read.metrics, read.config);
    QCOMPARE(rows.size(), written.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const MetricsRow &a = rows[i], &b = written[i];
      QCOMPARE(a.step, b.step);
      for (double MetricsRow::*v : {&MetricsRow::elapsed_s, &MetricsRow::lr, &MetricsRow::train_loss,
                                    &MetricsRow::tokens_per_sec, &MetricsRow::eval_train_loss, &MetricsRow::val_loss,
                                    &MetricsRow::peak_memory_mb})
        QVERIFY2(same(a.*v, b.*v), qPrintable(QString("row %1").arg(i)));
      QCOMPARE(a.layers.size(), b.layers.size());  // routing only on the evaluated row
      for (size_t l = 0; l < a.layers.size(); ++l) {
        const LayerMetrics &x = a.layers[l], &y = b.layers[l];
        QVERIFY(same(x.load_entropy, y.load_entropy) && same(x.load_cv, y.load_cv) && same(x.max_share, y.max_share));
        QVERIFY(same(x.dropped_fraction, y.dropped_fraction) && same(x.mean_active, y.mean_active));
        QVERIFY(same(x.router_entropy, y.router_entropy));
        QCOMPARE(x.dead_experts, y.dead_experts);
        QCOMPARE(x.load.size(), y.load.size());
        for (size_t e = 0; e < x.load.size(); ++e) QVERIFY(same(x.load[e], y.load[e]) && same(x.importance[e], y.importance[e]));
      }
    }
    QCOMPARE(read.snapshots.traces.size(), size_t{2});
    QCOMPARE(read.snapshots.traces[0].step, 0);
    QCOMPARE(read.snapshots.traces[1].step, 10);
    QCOMPARE(QString::fromStdString(read.snapshots.files[1]), QString("step_000010.json"));
    QVERIFY(read.snapshots.skipped.empty());
    // a follower that has seen the first file reads only the second
    const RunFolder::Snapshots newer = f.read_snapshots({"step_000000.json"});
    QCOMPARE(newer.traces.size(), size_t{1});
    QCOMPARE(newer.traces[0].step, 10);

    // a resumed run at step 10 drops the rows after it
    f.truncate_metrics(10);
    QCOMPARE(metrics_rows(f.read_metrics(), c).back().step, 10);
  }

  // A table without a layer's columns (hand-edited, or another configuration's) reads as "not measured".
  void missingColumnsReadAsNotMeasured() {
    const Config c = moe_config();
    const MetricsTable t = parse_metrics_csv("step,val_loss\n0,2.5\n5,\n");
    const std::vector<MetricsRow> rows = metrics_rows(t, c);
    QCOMPARE(rows.size(), size_t{2});
    QVERIFY(same(rows[0].val_loss, 2.5));
    QVERIFY(std::isnan(rows[0].train_loss));
    QCOMPARE(rows[0].layers.size(), size_t{2});
    QVERIFY(std::isnan(rows[0].layers[1].load_entropy));
    QCOMPARE(rows[0].layers[1].dead_experts, 0);
    QVERIFY(rows[1].layers.empty());  // no evaluation at step 5
  }

  // A snapshot that cannot be read is skipped and named with its reason; the others still come.
  void anUnreadableSnapshotIsNamed() {
    const RunFolder f(fresh("damaged"));
    const Config c = moe_config();
    f.create();
    f.write_snapshot(0, trace_at(0, c));
    atomic_write(f.snapshot_file(5), "{\"step\": 5");
    atomic_write(f.routing_dir() + "/notes.txt", "not a snapshot");
    const RunFolder::Snapshots s = f.read_snapshots();
    QCOMPARE(s.traces.size(), size_t{1});
    QCOMPARE(s.skipped.size(), size_t{1});
    QVERIFY2(QString::fromStdString(s.skipped[0]).startsWith("step_000005.json: "), s.skipped[0].c_str());
  }

  // The writer is whoever holds run.lock, as the lock names it; nobody once it is released.
  void theWriterIsTheLocksHolder() {
    const RunFolder f(fresh("locked"));
    f.create();
    {
      RunLock lock(f.dir());
      QVERIFY2(QString::fromStdString(f.writer()).startsWith("pid " + QString::number(QCoreApplication::applicationPid())),
               f.writer().c_str());
      lock.describe("rank 0 of 2");
      QVERIFY(QString::fromStdString(f.writer()).endsWith(", rank 0 of 2"));
    }
    QVERIFY(f.writer().empty());
  }

  // Every read error names the file it is about.
  void errorsNameTheFile() {
    const RunFolder f(fresh("broken"));
    f.create();
    auto message = [](auto read) {
      try {
        read();
      } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
      }
      return QString();
    };
    QVERIFY(message([&] { f.read_config(); }).contains(QString::fromStdString(f.config_file())));
    atomic_write(f.config_file(), "{\"n_layer\": \"two\"}");
    QVERIFY(message([&] { f.read_config(); }).contains(QString::fromStdString(f.config_file()) + " is invalid: n_layer"));
    atomic_write(f.run_info_file(), "{");
    QVERIFY(message([&] { f.read_run_info(); }).startsWith(QString::fromStdString(f.run_info_file()) + " is malformed"));
    atomic_write(f.metrics_file(), "step,lr\n0,1\n1\n");
    QVERIFY(message([&] { f.read_metrics(); }).startsWith(QString::fromStdString(f.metrics_file()) + " line 3"));
  }
};

QTEST_GUILESS_MAIN(TestRunFolder)
#include "tst_run_folder.moc"
