// Prune a run's experts, or upcycle a dense run into an MoE, in one dialog: choose the rule, watch the
// measurement (off the GUI thread), read what changed (validation loss before and after, parameters, what was
// removed), then open the new run and fine-tune it like any stopped run. The source run is only read.
#pragma once

#include <QDialog>
#include <QFutureWatcher>

#include "core/config/config.h"
#include "core/train/derived_run.h"

class QComboBox;
class QDialogButtonBox;
class QDoubleSpinBox;
class QFormLayout;
class QGroupBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QVBoxLayout;

namespace moewb {

class DerivedRunDialog : public QDialog {
  Q_OBJECT

 public:
  // A MoE source is pruned, a dense one upcycled.
  DerivedRunDialog(const QString& sourceRun, const Config& sourceConfig, QWidget* parent = nullptr);
  ~DerivedRunDialog() override;  // waits for a running job (closing is refused while one runs)

  bool prunes() const { return prune_; }
  // Starts the job with the dialog's settings; created() or failed() follows.
  void create();
  bool running() const { return watcher_.isRunning(); }
  QString createdRun() const { return created_run_; }
  const DerivedRunReport& report() const { return report_data_; }
  QString reportText() const;

  QRadioButton* belowShare() const { return below_share_; }
  QDoubleSpinBox* minShare() const { return min_share_; }
  QRadioButton* removeCount() const { return remove_count_; }
  QSpinBox* removePerLayer() const { return remove_; }
  QComboBox* ranking() const { return ranking_; }
  QComboBox* method() const { return method_; }
  QSpinBox* experts() const { return experts_; }
  QComboBox* routing() const { return routing_; }
  QSpinBox* topK() const { return top_k_; }
  QSpinBox* finetuneSteps() const { return steps_; }
  QLineEdit* outputFolder() const { return out_; }
  QPushButton* fineTuneButton() const { return fine_tune_; }

  void reject() override;

 Q_SIGNALS:
  void created(const QString& runDir);
  void failed(const QString& message);
  void fineTuneRequested(const QString& runDir);
  void progressed(const QString& what, qint64 done, qint64 total);

 private:
  struct Outcome {
    DerivedRunReport report;
    QString error;
  };
  // The constructor's steps, in order: widgets are created and laid out in the order that sets the tab order.
  QLabel* buildIntro();
  // Which experts to prune (a MoE source) or how to upcycle (a dense one).
  QGroupBox* buildExpertChoice();
  void addPruneRows(QGroupBox* what, QFormLayout* form);
  void addUpcycleRows(QGroupBox* what, QFormLayout* form);
  QGroupBox* buildFineTuning();
  // The progress line and bar, and the report, at the end of `layout`.
  void buildProgress(QVBoxLayout* layout);
  QDialogButtonBox* buildButtons();
  // The content scrolls; the buttons stay under it.
  void buildScrollArea(QDialogButtonBox* buttons);
  void connectButtons();
  void finish();
  void updateEnabled();
  // As large as the settings and the report need, within 90 % of the screen (the rest scrolls).
  void fitToContent();

  QWidget* content_ = nullptr;
  QString source_;
  Config config_;
  bool prune_;
  QRadioButton *below_share_ = nullptr, *remove_count_ = nullptr;
  QDoubleSpinBox* min_share_ = nullptr;
  QSpinBox *remove_ = nullptr, *experts_ = nullptr, *top_k_ = nullptr, *steps_ = nullptr;
  QComboBox *ranking_ = nullptr, *method_ = nullptr, *routing_ = nullptr;
  QLineEdit* out_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel *progress_label_ = nullptr, *report_ = nullptr;
  QPushButton *create_ = nullptr, *fine_tune_ = nullptr, *close_ = nullptr;
  QFutureWatcher<Outcome> watcher_;
  QString created_run_;
  DerivedRunReport report_data_;
};

}  // namespace moewb
