// The Intervene tab: knock out or force one expert of a layer on the current model (a snapshot of the training
// weights or the opened run's checkpoint, never modified) and see what changes — the validation loss on the
// same batches, the mean loss per character class, each character of the shown text coloured by its loss
// change (red = worse), and text generated from the same seed with and without the intervention. The work runs
// off the GUI thread.
#pragma once

#include <QFutureWatcher>
#include <QWidget>

#include <memory>

#include "core/trace/intervention.h"
#include "ui/common/meta_types.h"
#include "ui/render/figure.h"

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QTableWidget;

namespace moewb {

class RoutingReadingView;

struct InterventionResult {
  Intervention intervention;
  double val_before = 0, val_after = 0;
  int batches = 0;
  std::u32string text;
  std::vector<double> before, after;  // per character of text
  LossComparison classes;
  std::string generated_before, generated_after;
  QString error;
};

class InterventionPanel : public QWidget {
  Q_OBJECT

 public:
  explicit InterventionPanel(QWidget* parent = nullptr);
  ~InterventionPanel() override;  // waits for a running comparison (it reports to this panel)

  // Layers and experts to offer (a dense model offers none).
  void reset(const Config& config);
  // The text whose characters are compared (the Routing tab's shown text) and the dataset for the validation loss.
  void setText(const QString& text);
  void setDatasetPath(const QString& path);
  void setIntervention(const Intervention& intervention);
  Intervention intervention() const;
  // Runs the comparison with this model, off the GUI thread.
  void runWith(const InferenceModel& model);
  // Why no model could be had.
  void setStatus(const QString& text);
  QString status() const;
  // Named in the exported figures' subtitles.
  void setRunName(const QString& name) { run_name_ = name; }
  // The figures the loss-change view and the class table export (right-click, Menu key).
  std::unique_ptr<Figure> lossChangeFigure() const;
  std::unique_ptr<Figure> classTableFigure() const;

  const InterventionResult& result() const { return result_; }
  RoutingReadingView* lossView() const { return loss_view_; }
  QTableWidget* classTable() const { return classes_; }

 Q_SIGNALS:
  // Apply was pressed: the owner answers with runWith(model).
  void modelRequested();
  void finished();

 private:
  void display(const InterventionResult& r);

  Config config_;
  QString text_, dataset_path_, run_name_;
  InterventionResult result_;
  QFutureWatcher<InterventionResult> watcher_;
  QComboBox *layer_, *kind_, *expert_;
  QPushButton* apply_;
  QLabel *status_, *summary_;
  QTableWidget* classes_;
  RoutingReadingView* loss_view_;
  QPlainTextEdit *generated_before_, *generated_after_;
};

}  // namespace moewb
