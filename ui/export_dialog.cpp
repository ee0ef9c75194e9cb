#include "export_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

namespace moewb {

ExportDialog::ExportDialog(const QString& suggestedPath, const QSize& naturalSize, QWidget* parent) : QDialog(parent) {
  setWindowTitle("Export figure");
  path_ = new QLineEdit(suggestedPath);
  auto* browse = new QPushButton("Browse…");
  format_ = new QComboBox;
  format_->addItems({"PNG (raster)", "SVG (vector)", "PDF (vector)"});
  unit_ = new QComboBox;
  unit_->addItems({"pixels (at 96 DPI)", "centimetres"});
  width_ = new QDoubleSpinBox;
  height_ = new QDoubleSpinBox;
  for (auto* s : {width_, height_}) s->setRange(1, 20000), s->setDecimals(1);
  width_->setValue(naturalSize.width());
  height_->setValue(naturalSize.height());
  dpi_ = new QSpinBox;
  dpi_->setRange(96, 600);
  dpi_->setValue(300);
  dpi_->setToolTip("PNG resolution: the image has size × DPI / 96 pixels (or size in cm × DPI / 2.54).");
  background_ = new QComboBox;
  background_->addItems({"White", "Transparent"});

  connect(unit_, &QComboBox::currentIndexChanged, this, [this](int cm) {
    const double factor = cm ? 2.54 / 96.0 : 96.0 / 2.54;
    width_->setValue(width_->value() * factor);
    height_->setValue(height_->value() * factor);
  });
  connect(format_, &QComboBox::currentIndexChanged, this, [this](int i) {
    const QFileInfo info(path_->text());
    path_->setText(info.dir().filePath(info.completeBaseName() + "." + suffix_of(static_cast<FigureFormat>(i))));
    dpi_->setEnabled(i == 0);
  });
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getSaveFileName(this, "Export figure", path_->text(), "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)");
    if (p.isEmpty()) return;
    path_->setText(p);
    try {
      format_->setCurrentIndex(static_cast<int>(format_of(QFileInfo(p).suffix())));
    } catch (const std::invalid_argument&) {
    }
  });
  auto* path_row = new QHBoxLayout;
  path_row->addWidget(path_, 1);
  path_row->addWidget(browse);
  auto* form = new QFormLayout(this);
  form->addRow("File", path_row);
  form->addRow("Format", format_);
  form->addRow("Width", width_);
  form->addRow("Height", height_);
  form->addRow("Unit", unit_);
  form->addRow("PNG DPI", dpi_);
  form->addRow("Background", background_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  form->addRow(buttons);
  try {
    format_->setCurrentIndex(static_cast<int>(format_of(QFileInfo(suggestedPath).suffix())));
  } catch (const std::invalid_argument&) {
  }
}

QString ExportDialog::path() const { return path_->text(); }

ExportOptions ExportDialog::options() const {
  ExportOptions o;
  o.format = static_cast<FigureFormat>(format_->currentIndex());
  o.size = QSizeF(width_->value(), height_->value());
  o.centimetres = unit_->currentIndex() == 1;
  o.dpi = dpi_->value();
  o.transparent = background_->currentIndex() == 1;
  return o;
}

}  // namespace moewb
