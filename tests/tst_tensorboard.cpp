// TensorBoard event files: CRC-32C against its published check value; a run's event file read back record by
// record (both CRCs checked, every message parsed with the protobuf classes) holds the version record and, per
// metrics.csv row, the same losses and routing metrics; a resumed run's new file starts a session after the
// checkpoint, so a reader that applies TensorBoard's purge rule sees exactly metrics.csv.
#include <QtTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/base/files.h"
#include "core/runs/metrics_csv.h"
#include "core/tensorboard/tensorboard_writer.h"
#include "core/train/training.h"
#include "fixtures.h"
#include "tensorboard_event.pb.h"

using namespace moewb;
namespace fs = std::filesystem;

namespace {

Config tiny_moe(int max_iters) {
  Config c;
  c.n_layer = 2, c.n_head = 2, c.n_embd = 32, c.block_size = 16, c.dropout = 0.0;
  c.batch_size = 4, c.max_iters = max_iters, c.warmup_iters = 2, c.lr_decay_iters = 12;
  c.eval_interval = 4, c.eval_iters = 2, c.log_interval = 2;
  c.ffn = Ffn::moe, c.n_experts = 4, c.top_k = 2, c.routing = RoutingMode::topk;
  return c;
}

uint64_t little_endian(const std::string& bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// Every record of an event file, each frame's CRCs checked.
std::vector<tensorboard::Event> read_events(const std::string& path) {
  const std::string bytes = read_file(path);
  std::vector<tensorboard::Event> events;
  size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 12) throw std::runtime_error("a torn frame header");
    const uint64_t length = little_endian(bytes, at, 8);
    if (little_endian(bytes, at + 8, 4) != masked_crc32c(std::string_view(bytes).substr(at, 8)))
      throw std::runtime_error("length CRC");
    const std::string_view data = std::string_view(bytes).substr(at + 12, length);
    if (little_endian(bytes, at + 12 + length, 4) != masked_crc32c(data)) throw std::runtime_error("data CRC");
    tensorboard::Event e;
    if (!e.ParseFromArray(data.data(), static_cast<int>(data.size()))) throw std::runtime_error("not an Event");
    events.push_back(e);
    at += 12 + length + 4;
  }
  return events;
}

std::vector<std::string> event_files(const std::string& run) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(run))
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) files.push_back(entry.path());
  std::sort(files.begin(), files.end());  // TensorBoard reads them in name order
  return files;
}

// tag -> step -> value after TensorBoard's rule: a session start at step S drops what it holds from S on.
std::map<std::string, std::map<int64_t, double>> scalars_as_tensorboard_reads(const std::string& run) {
  std::map<std::string, std::map<int64_t, double>> out;
  for (const auto& file : event_files(run))
    for (const auto& e : read_events(file)) {
      if (e.has_session_log() && e.session_log().status() == tensorboard::SessionLog::START)
        for (auto& [tag, series] : out) series.erase(series.lower_bound(e.step()), series.end());
      if (e.has_summary())
        for (const auto& v : e.summary().value()) {
          // TensorBoard ignores a value whose simple_value is absent: zeros must be written too
          if (!v.has_simple_value()) throw std::runtime_error(v.tag() + " has no value at step " + std::to_string(e.step()));
          out[v.tag()][e.step()] = v.simple_value();
        }
    }
  return out;
}

// Every non-empty cell of `column` equals the tag's value at that step (float precision), and nothing more.
void same_series(const std::string& run, const std::string& column, const std::map<int64_t, double>& series) {
  const MetricsTable table = parse_metrics_csv(read_file(run + "/metrics.csv"));
  const auto& steps = table.column("step");
  const auto& values = table.column(column);
  size_t cells = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (std::isnan(values[i])) continue;
    ++cells;
    const auto it = series.find(static_cast<int64_t>(steps[i]));
    QVERIFY2(it != series.end(), qPrintable(QString("%1 at step %2 is missing").arg(column.c_str()).arg(steps[i])));
    QVERIFY2(std::abs(it->second - values[i]) <= 1e-6 * std::max(1.0, std::abs(values[i])),
             qPrintable(
                 QString("%1 at step %2: %3 vs %4").arg(column.c_str()).arg(steps[i]).arg(it->second).arg(values[i])));
  }
  QCOMPARE(series.size(), cells);
}

}  // namespace

class TestTensorBoard : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void crcMatchesTheCheckValue() {
    QCOMPARE(crc32c("123456789"), 0xE3069283u);  // the CRC-32C check value (RFC 3720)
    QCOMPARE(crc32c(""), 0u);
    QVERIFY(masked_crc32c("123456789") != crc32c("123456789"));
  }

  void aRunsEventFileHoldsItsMetrics() {
    QTemporaryDir dir;
    const std::string run = dir.filePath("run").toStdString();
    auto t = Trainer::create(tiny_moe(8), corpus(), run, "s");
    while (!t->done()) t->advance();
    const auto files = event_files(run);
    QCOMPARE(files.size(), size_t(1));
    const auto events = read_events(files[0]);
    QVERIFY(!events.empty());
    QCOMPARE(events[0].file_version(), std::string("brain.Event:2"));
    const auto scalars = scalars_as_tensorboard_reads(run);
    same_series(run, "train_loss", scalars.at("loss/train"));
    same_series(run, "val_loss", scalars.at("loss/val"));
    same_series(run, "eval_train_loss", scalars.at("loss/eval_train"));
    same_series(run, "lr", scalars.at("lr"));
    same_series(run, "L1_load_entropy", scalars.at("routing/L1/load_entropy"));
    same_series(run, "L0_dropped", scalars.at("routing/L0/dropped"));
    same_series(run, "L1_router_entropy", scalars.at("routing/L1/router_entropy"));
  }

  void aResumedRunReadsAsOneCurve() {
    QTemporaryDir dir;
    const std::string run = dir.filePath("run").toStdString();
    const TextDataset data = corpus();
    const std::string corpus_file = dir.filePath("corpus.txt").toStdString();
    std::ofstream(corpus_file) << synthetic_corpus(4000);
    {
      auto t = Trainer::create(tiny_moe(12), TextDataset::from_file(corpus_file), run, corpus_file);
      // past the checkpoint at step 4: rows 5 and 6 are written, then the run is killed (no save)
      while (t->step() < 6) t->advance();
    }
    auto t = Trainer::resume(run);
    QCOMPARE(t->step(), 4);
    while (!t->done()) t->advance();
    const auto files = event_files(run);
    QVERIFY(!files.empty());
    // the resumed session says where it starts
    bool started = false;
    for (const auto& e : read_events(files.back()))
      if (e.has_session_log() && e.session_log().status() == tensorboard::SessionLog::START) {
        QCOMPARE(e.step(), int64_t(5));
        started = true;
      }
    QVERIFY(started);
    // step 6 was written by both sessions: only the purge rule leaves one value
    int written_at_6 = 0;
    for (const auto& file : files)
      for (const auto& e : read_events(file))
        for (const auto& v : e.summary().value()) written_at_6 += e.step() == 6 && v.tag() == "loss/train";
    QCOMPARE(written_at_6, 2);
    const auto scalars = scalars_as_tensorboard_reads(run);
    same_series(run, "train_loss", scalars.at("loss/train"));
    same_series(run, "val_loss", scalars.at("loss/val"));
  }
};

QTEST_GUILESS_MAIN(TestTensorBoard)
#include "tst_tensorboard.moc"
