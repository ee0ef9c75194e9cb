#include "ui/routing/stability_page.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QSplitter>
#include <QStringList>
#include <QVBoxLayout>

#include <cmath>

#include "ui/common/line_chart.h"
#include "ui/routing/stability_heatmap.h"

namespace moewb {

StabilityPage::StabilityPage(LineChart* curve, QWidget* parent) : QWidget(parent) {
  layer_ = new QComboBox;
  layer_->setObjectName("stability_layer");
  layer_->setToolTip("Layer whose per-character changes the heatmap shows.");
  zoom_ = new QSlider(Qt::Horizontal);
  zoom_->setRange(3, 48);
  zoom_->setValue(14);
  zoom_->setMaximumWidth(140);
  zoom_->setToolTip("Pixels per character (also Ctrl + mouse wheel over the heatmap).");
  heatmap_ = new StabilityHeatmap;
  heatmap_->setObjectName("stability_heatmap");
  status_ = new QLabel;
  status_->setObjectName("stability_status");
  status_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // a long description never widens the window
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* controls = new QWidget;
  auto* row = new QHBoxLayout(controls);
  row->setContentsMargins(0, 0, 0, 0);
  auto* what = new QLabel("Rows: snapshot pairs · colour: the new top expert where it changed · band: changes "
                          "per character");
  what->setToolTip(what->text());
  what->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  row->addWidget(new QLabel("Layer"));
  row->addWidget(layer_);
  row->addWidget(new QLabel("Zoom"));
  row->addWidget(zoom_);
  row->addWidget(what, 1);

  auto* lower = new QWidget;
  auto* lower_layout = new QVBoxLayout(lower);
  lower_layout->setContentsMargins(0, 0, 0, 0);
  lower_layout->addWidget(controls);
  lower_layout->addWidget(heatmap_, 1);
  lower_layout->addWidget(status_);
  auto* split = new QSplitter(Qt::Vertical);
  split->setChildrenCollapsible(false);
  split->addWidget(curve);
  split->addWidget(lower);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(split);

  connect(layer_, &QComboBox::currentIndexChanged, this, &StabilityPage::refresh);
  connect(zoom_, &QSlider::valueChanged, heatmap_, [this](int v) { heatmap_->setCellWidth(v); });
  connect(heatmap_, &StabilityHeatmap::cellWidthChanged, this, [this](double pixels) {
    const QSignalBlocker block(zoom_);  // the slider follows Ctrl + wheel without zooming again
    zoom_->setValue(static_cast<int>(std::lround(pixels)));
  });
  connect(heatmap_, &StabilityHeatmap::hovered, this, [this](int r, int c) {
    if (c >= 0) describe(r, c);
    else describe(heatmap_->currentRow(), heatmap_->currentColumn());
  });
  connect(heatmap_, &StabilityHeatmap::currentChanged, this, &StabilityPage::describe);
  refresh();
}

void StabilityPage::setSnapshots(const QList<RoutingTrace>& snapshots) {
  snapshots_.assign(snapshots.begin(), snapshots.end());
  const int layers = snapshots_.empty() ? 0 : static_cast<int>(snapshots_.front().layers.size());
  if (layer_->count() != layers) {
    const QSignalBlocker block(layer_);
    layer_->clear();
    for (int l = 0; l < layers; ++l) layer_->addItem(QString("Layer %1").arg(l));
    layer_->setCurrentIndex(layers - 1);
  }
  refresh();
}

void StabilityPage::setRunName(const QString& name, const Config& config) {
  run_name_ = name;
  config_ = config;
  refresh();
}

void StabilityPage::setLayer(int layer) { layer_->setCurrentIndex(layer); }

int StabilityPage::layer() const { return layer_->currentIndex(); }

QString StabilityPage::statusText() const { return status_->text(); }

void StabilityPage::refresh() {
  const int layer = layer_->currentIndex();
  const TopExpertChangeMatrix m = top_expert_change_matrix(snapshots_, layer);
  heatmap_->setDescription(QString("Top-expert changes per character between snapshots, layer %1").arg(layer),
                           stability_subtitle(run_name_, config_, m));
  heatmap_->setEmptyMessage(snapshots_.size() < 2
                                ? "Routing stability needs at least two routing snapshots of the probe text (one "
                                  "per evaluation)."
                                : "The snapshots are not all of the same probe text and model: nothing to compare.");
  heatmap_->setMatrix(m);
  describe(heatmap_->currentRow(), heatmap_->currentColumn());
}

void StabilityPage::describe(int row, int column) {
  const QString text = stability_cell_text(heatmap_->matrix(), row, column, false);
  status_->setText(text.isEmpty() ? QString("Hover or click a cell (arrows, PgUp/PgDn, Home/End move it) to see "
                                            "which expert a character left and joined.")
                                  : text);
}

}  // namespace moewb
