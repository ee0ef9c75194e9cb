// The export dialog: format, size in pixels or centimetres, DPI, background and file. It only collects
// options; export_figure() does the work.
#pragma once

#include <QDialog>

#include "figure_export.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QSpinBox;

namespace moewb {

class ExportDialog : public QDialog {
  Q_OBJECT

 public:
  ExportDialog(const QString& suggestedPath, const QSize& naturalSize, QWidget* parent = nullptr);
  QString path() const;
  ExportOptions options() const;

 private:
  QLineEdit* path_;
  QComboBox *format_, *unit_, *background_;
  QDoubleSpinBox *width_, *height_;
  QSpinBox* dpi_;
};

}  // namespace moewb
