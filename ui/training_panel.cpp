#include "training_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QVBoxLayout>

#include "palette.h"

namespace moewb {

namespace {
constexpr int kRedrawMs = 40;
}

TrainingPanel::TrainingPanel(QWidget* parent)
    : QWidget(parent),
      loss_(new LineChart),
      lr_(new LineChart),
      throughput_(new LineChart),
      load_(new LineChart),
      balance_(new LineChart) {
  auto* controls = new QHBoxLayout;
  log_scale_ = new QCheckBox("Log scale");
  log_scale_->setToolTip("Plot the loss on a logarithmic axis.");
  connect(log_scale_, &QCheckBox::toggled, this, &TrainingPanel::setLogScale);
  smoothing_ = new QSlider(Qt::Horizontal);
  smoothing_->setRange(0, 99);
  smoothing_->setValue(60);
  smoothing_->setMaximumWidth(160);
  smoothing_->setToolTip("Exponential moving average of the training loss, debiased as in TensorBoard.");
  smoothing_label_ = new QLabel;
  connect(smoothing_, &QSlider::valueChanged, this, [this](int v) { setSmoothing(v / 100.0); });
  layer_ = new QComboBox;
  layer_->setToolTip("MoE layer shown in the expert-load and balance charts.");
  connect(layer_, &QComboBox::currentIndexChanged, this, [this] { redrawLayerCharts(); });
  controls->addWidget(log_scale_);
  controls->addSpacing(12);
  controls->addWidget(new QLabel("Smoothing"));
  controls->addWidget(smoothing_);
  controls->addWidget(smoothing_label_);
  controls->addStretch();
  controls->addWidget(new QLabel("Layer"));
  controls->addWidget(layer_);

  scalars_ = new QLabel;
  scalars_->setWordWrap(true);
  scalars_->setToolTip("Latest evaluation: normalised load entropy H(f)/log N (1 = balanced), largest load share, "
                       "share of assignments dropped by capacity, mean experts that processed a character, "
                       "experts with f_i < 1/(10N).");

  grid_ = new QGridLayout;
  auto* grid = grid_;
  for (int col = 0; col < 4; ++col) grid->setColumnStretch(col, 1);
  grid->setRowStretch(0, 3);
  grid->setRowStretch(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addLayout(grid, 1);
  layout->addWidget(scalars_);

  redraw_.setInterval(kRedrawMs);
  connect(&redraw_, &QTimer::timeout, this, &TrainingPanel::flush);
  redraw_.start();
  setSmoothing(0.6);
  reset(Config{});
}

void TrainingPanel::reset(const Config& config) { load(TrainingHistory{}, config); }

void TrainingPanel::load(const TrainingHistory& history, const Config& config) {
  history_ = history;
  config_ = config;
  layer_->blockSignals(true);
  layer_->clear();
  if (config.is_moe())
    for (int l = 0; l < config.n_layer; ++l) layer_->addItem(QString("layer %1").arg(l));
  layer_->setEnabled(config.is_moe());
  layer_->blockSignals(false);
  load_->setVisible(config.is_moe());
  balance_->setVisible(config.is_moe());
  // a dense model has no expert charts: loss and the small charts take the whole width
  const bool moe = config.is_moe();
  grid_->addWidget(loss_, 0, 0, 1, moe ? 2 : 4);
  grid_->addWidget(lr_, 1, 0, 1, moe ? 1 : 2);
  grid_->addWidget(throughput_, 1, moe ? 1 : 2, 1, moe ? 1 : 2);
  if (moe) {
    grid_->addWidget(load_, 0, 2, 1, 2);
    grid_->addWidget(balance_, 1, 2, 1, 2);
  }
  dirty_ = true;
  flush();
}

void TrainingPanel::showLayer(int layer) {
  layer_->setCurrentIndex(layer);
  redrawLayerCharts();
}

void TrainingPanel::addStep(const StepReport& r) {
  if (!r.logged) return;
  history_.add(r);
  dirty_ = true;
}

void TrainingPanel::addEval(const EvalReport& r) {
  history_.add(r);
  dirty_ = true;
}

void TrainingPanel::setLogScale(bool on) {
  log_scale_->setChecked(on);
  loss_->setSpec(loss_plot(history_, figureOptions()));
}

void TrainingPanel::setSmoothing(double weight) {
  smoothing_->setValue(static_cast<int>(weight * 100 + 0.5));
  smoothing_label_->setText(QString::number(weight, 'f', 2));
  loss_->setSpec(loss_plot(history_, figureOptions()));
}

void TrainingPanel::setRunName(const QString& name) {
  run_name_ = name;
  dirty_ = true;
  flush();
}

TrainingFigureOptions TrainingPanel::figureOptions() const {
  TrainingFigureOptions o;
  o.run = run_name_;
  o.smoothing = smoothing_->value() / 100.0;
  o.log_loss = log_scale_->isChecked();
  return o;
}

void TrainingPanel::flush() {
  if (!dirty_) return;
  dirty_ = false;
  const TrainingFigureOptions o = figureOptions();
  loss_->setSpec(loss_plot(history_, o));
  lr_->setSpec(lr_plot(history_, o));
  throughput_->setSpec(throughput_plot(history_, o));
  redrawLayerCharts();
}

void TrainingPanel::redrawLayerCharts() {
  const int l = layer_->currentIndex();
  load_->setSpec(expert_load_plot(history_, l, config_.is_moe() ? config_.n_experts : 0, figureOptions()));
  balance_->setSpec(load_balance_plot(history_, l, figureOptions()));
  if (l < 0 || l >= history_.layers.size()) {
    scalars_->setText(config_.is_moe() ? "Load balance: waiting for the first evaluation."
                                       : "Dense model: no routing, so no expert load to show.");
    return;
  }
  const LayerHistory& h = history_.layers[l];
  if (!h.entropy.isEmpty())
    scalars_->setText(QString("Layer %1 at step %2 — load entropy %3 · max share %4 · dropped %5 · "
                              "mean active experts %6 · dead experts %7")
                          .arg(l)
                          .arg(h.entropy.last().x())
                          .arg(h.entropy.last().y(), 0, 'f', 3)
                          .arg(h.max_share.last().y(), 0, 'f', 3)
                          .arg(h.dropped.last().y(), 0, 'f', 3)
                          .arg(h.active.last().y(), 0, 'f', 2)
                          .arg(h.dead.last().y()));
}

}  // namespace moewb
