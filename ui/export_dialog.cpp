#include "export_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>

#include <cmath>

namespace moewb {

namespace {
constexpr double kPxPerCm = 96.0 / 2.54;
constexpr double kDefaultWrapWidthCm = 17;  // an A4 text column
}  // namespace

ExportDialog::ExportDialog(const QString& suggestedPath, const Figure& figure, QWidget* parent)
    : QDialog(parent), figure_(figure) {
  setWindowTitle("Export figure");
  path_ = new QLineEdit(suggestedPath);
  path_->setMinimumWidth(path_->fontMetrics().averageCharWidth() * 48);
  auto* browse = new QPushButton("Browse…");
  format_ = new QComboBox;
  format_->addItems({"PNG (raster)", "SVG (vector)", "PDF (vector)"});
  style_ = new QComboBox;
  style_->addItem("Paper (sans, 7.5–9 pt, thin lines)", "paper");
  style_->addItem("Paper (serif)", "paper-serif");
  style_->addItem("Screen (as in the app)", "screen");
  style_->setToolTip("Text sizes are in points at the exported size: a paper figure reads right when printed at 100 %.");
  style_->setCurrentIndex(std::max(0, style_->findData(QSettings().value("exportStyle", "paper").toString())));
  unit_ = new QComboBox;
  unit_->addItems({"pixels (at 96 DPI)", "centimetres"});
  width_ = new QDoubleSpinBox;
  height_ = new QDoubleSpinBox;
  for (auto* s : {width_, height_}) s->setRange(1, 20000), s->setDecimals(1);
  const bool wraps = figure.heightForWidth(figure.naturalSize().width(), FigureStyle::paper()) > 0;
  width_->setValue(wraps ? kDefaultWrapWidthCm * kPxPerCm : figure.naturalSize().width());
  height_->setValue(figure.naturalSize().height());
  height_->setEnabled(!wraps);
  if (wraps) height_->setToolTip("This figure wraps its text into lines: the height follows the width.");
  dpi_ = new QSpinBox;
  dpi_->setRange(96, 600);
  dpi_->setValue(300);
  dpi_->setToolTip("PNG resolution: the layout is the same at every DPI; only the pixel count changes.");
  pixels_ = new QLabel;
  background_ = new QComboBox;
  background_->addItems({"White", "Transparent"});

  connect(unit_, &QComboBox::currentIndexChanged, this, [this](int cm) {
    const double factor = cm ? 1 / kPxPerCm : kPxPerCm;
    const QSignalBlocker block_w(width_), block_h(height_);
    width_->setValue(width_->value() * factor);
    height_->setValue(height_->value() * factor);
    updateSize();
  });
  connect(format_, &QComboBox::currentIndexChanged, this, [this](int i) {
    const QFileInfo info(path_->text());
    path_->setText(info.dir().filePath(info.completeBaseName() + "." + suffix_of(static_cast<FigureFormat>(i))));
    dpi_->setEnabled(i == 0);
    updateSize();
  });
  for (auto* s : {width_, height_}) connect(s, &QDoubleSpinBox::valueChanged, this, [this] { updateSize(); });
  connect(dpi_, &QSpinBox::valueChanged, this, [this] { updateSize(); });
  connect(style_, &QComboBox::currentIndexChanged, this, [this] { updateSize(); });
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
  form->addRow("Style", style_);
  form->addRow("Unit", unit_);
  form->addRow("Width", width_);
  form->addRow("Height", height_);
  form->addRow("PNG DPI", dpi_);
  form->addRow("", pixels_);
  form->addRow("Background", background_);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel);
  connect(buttons, &QDialogButtonBox::accepted, this, [this] {
    QSettings().setValue("exportStyle", style_->currentData());
    accept();
  });
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  form->addRow(buttons);
  if (wraps) unit_->setCurrentIndex(1);
  try {
    format_->setCurrentIndex(static_cast<int>(format_of(QFileInfo(suggestedPath).suffix())));
  } catch (const std::invalid_argument&) {
  }
  updateSize();
}

void ExportDialog::updateSize() {
  const ExportOptions o = options();
  const QSizeF logical = export_size(figure_, o);
  if (!height_->isEnabled()) {
    const QSignalBlocker block(height_);
    height_->setValue(o.centimetres ? logical.height() / kPxPerCm : logical.height());
  }
  const QSize pixels = png_pixel_size(logical, o.dpi);
  pixels_->setText(o.format == FigureFormat::Png
                       ? QString("%1 × %2 pixels, %3 × %4 cm").arg(pixels.width()).arg(pixels.height())
                             .arg(logical.width() / kPxPerCm, 0, 'f', 1).arg(logical.height() / kPxPerCm, 0, 'f', 1)
                       : QString("%1 × %2 cm (vector)").arg(logical.width() / kPxPerCm, 0, 'f', 1)
                             .arg(logical.height() / kPxPerCm, 0, 'f', 1));
}

QString ExportDialog::path() const { return path_->text(); }

ExportOptions ExportDialog::options() const {
  ExportOptions o;
  o.format = static_cast<FigureFormat>(format_->currentIndex());
  o.size = QSizeF(width_->value(), height_->value());
  o.centimetres = unit_->currentIndex() == 1;
  o.dpi = dpi_->value();
  o.transparent = background_->currentIndex() == 1;
  o.style = style_->currentData().toString();
  return o;
}

}  // namespace moewb
