// The export dialog: file, format, size in pixels or centimetres (the height follows the width for figures
// that wrap, like long routing texts), PNG DPI, style (screen / paper / paper serif) and background. It only
// collects options; export_figure() does the work.
#pragma once

#include <QDialog>

#include "ui/render/figure_export.h"

class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace moewb {

class ExportDialog : public QDialog {
  Q_OBJECT

 public:
  ExportDialog(const QString& suggestedPath, const Figure& figure, QWidget* parent = nullptr);
  // The file written: the typed name, with the format's suffix added when it names no figure format (the note
  // under the name says so).
  QString path() const;
  ExportOptions options() const;

 private:
  // The dialog, built in these steps: the fields (the file's, the style's, the size's), what their edits do, the
  // form that lays them out and the Save / Cancel buttons.
  QPushButton* buildFileFields(const QString& suggestedPath);  // the name, its note, the format; returns Browse
  void buildStyleFields();
  bool buildSizeFields();  // whether the figure wraps (the height then follows the width, in centimetres)
  void connectFileFields(QPushButton* browse);
  void connectSizeFields();
  QFormLayout* buildLayout(QPushButton* browse);
  void addButtons(QFormLayout* form);
  void updateSize();
  void followTypedSuffix();

  const Figure& figure_;
  QLineEdit* path_;
  QComboBox *format_, *unit_, *background_, *style_;
  QDoubleSpinBox *width_, *height_;
  QSpinBox* dpi_;
  QLabel* pixels_;
  QLabel* suffix_note_;
  QPushButton* save_ = nullptr;
};

}  // namespace moewb
