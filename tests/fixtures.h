// Fixtures the LibTorch tests share: the tiny model their golden values were recorded with and its MoE variant,
// the synthetic corpus as a dataset (test_corpus.h makes the text), a scratch folder per test class, a run's
// metrics column as text, and a trainer run to its end. Changing a value here changes those tests' recorded losses.
#pragma once

#include <QStringList>
#include <QTemporaryDir>

#include <cmath>
#include <string>

#include "core/base/files.h"
#include "core/config/config.h"
#include "core/runs/metrics_csv.h"
#include "core/train/training.h"
#include "test_corpus.h"

// 2 layers of 2 heads, d = 32, a context of 16 and batches of 4: a run takes milliseconds. The learning rate
// decays over the whole run.
inline moewb::Config tiny_config(int max_iters = 12, int eval_interval = 5) {
  moewb::Config c;
  c.n_layer = 2, c.n_head = 2, c.n_embd = 32, c.block_size = 16, c.dropout = 0.0;
  c.batch_size = 4, c.max_iters = max_iters, c.warmup_iters = 2, c.lr_decay_iters = max_iters;
  c.eval_interval = eval_interval, c.eval_iters = 2, c.log_interval = 1, c.learning_rate = 3e-3, c.min_lr = 3e-4;
  return c;
}

// `c` with an MoE FFN: n experts, k of them per token where the routing picks k.
inline moewb::Config moe(moewb::Config c, moewb::RoutingMode routing = moewb::RoutingMode::topk, int n = 4,
                         int k = 2) {
  c.ffn = moewb::Ffn::moe, c.n_experts = n, c.top_k = k, c.routing = routing;
  return c;
}

// The same, the routing named as in a config file ("topk", "sigmoid", ...).
inline moewb::Config moe(moewb::Config c, const std::string& routing) {
  return moe(c, moewb::enum_from_name<moewb::RoutingMode>(routing).value());
}

// synthetic_corpus(4000) as the dataset the tests train on.
inline moewb::TextDataset corpus() { return moewb::TextDataset::from_text(synthetic_corpus(4000), "synthetic"); }

// A test class's scratch folder, removed with it, and paths in it. Test classes derive from QObject first.
struct ScratchFolder {
  QTemporaryDir tmp_;

  std::string dir(const char* name) const { return (tmp_.path() + "/" + name).toStdString(); }
};

// A metrics column as text: empty cells ("not measured") compare equal, and values must match exactly.
inline QStringList column(const std::string& run_dir, const std::string& name) {
  QStringList cells;
  const moewb::MetricsTable table = moewb::parse_metrics_csv(moewb::read_file(run_dir + "/metrics.csv"));
  for (double v : table.column(name)) cells << (std::isnan(v) ? QString() : QString::number(v, 'g', 17));
  return cells;
}

inline void run_to_end(moewb::Trainer& t) {
  while (!t.done()) t.advance();
}
