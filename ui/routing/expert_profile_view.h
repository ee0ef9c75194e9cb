// The Experts tab's browser: choose a layer (combo, PgUp/PgDn) and an expert (list with each expert's colour and
// share, arrow keys), and see its profile — top characters, most confidently routed windows, load over training —
// painted by the widget-free ExpertProfileFigure, so the screen and the exports agree. The counts come from the
// Routing panel (the shown text or the whole validation split, counted once for the affinity tab too).
#pragma once

#include <QVector>
#include <QWidget>

#include "ui/export/exportable_figure.h"
#include "ui/render/expert_profile_figure.h"
#include "ui/render/training_history.h"

class QComboBox;
class QListWidget;
class QScrollArea;

namespace moewb {

class ExpertProfileView : public QWidget, public ExportableFigure {
  Q_OBJECT

 public:
  explicit ExpertProfileView(QWidget* parent = nullptr);

  // New statistics (layers and experts follow them; the chosen layer and expert stay where they still exist).
  // `about` names whose statistics they are, in the figure's subtitle.
  void setCounts(const RoutingCounts& counts, const QString& about);
  // Per layer, each expert's load share over training (the run's history); empty for none.
  void setLoadHistory(const QVector<LayerHistory>& layers);
  void select(int layer, int expert);
  int layer() const;
  int expert() const;

  const ExpertProfileFigure& figure() const { return figure_; }
  std::unique_ptr<Figure> exportFigure() const override { return std::make_unique<ExpertProfileFigure>(figure_); }
  QComboBox* layerCombo() const { return layer_; }
  QListWidget* expertList() const { return experts_; }
  QWidget* canvas() const { return canvas_; }

 Q_SIGNALS:
  void selectionChanged(int layer, int expert);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void fillLayers();
  void fillExperts();
  void updateFigure();

  RoutingCounts counts_;
  QString about_;
  QVector<LayerHistory> load_;
  ExpertProfileFigure figure_;
  QComboBox* layer_;
  QListWidget* experts_;
  QScrollArea* scroll_;
  QWidget* canvas_;
};

}  // namespace moewb
