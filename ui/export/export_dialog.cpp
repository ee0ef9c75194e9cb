#include "ui/export/export_dialog.h"

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
#include <optional>

namespace moewb {

namespace {
constexpr double kPxPerCm = 96.0 / 2.54;
constexpr double kDefaultWrapWidthCm = 17;  // an A4 text column

// The figure format a file name's suffix names, if any.
std::optional<FigureFormat> format_named(const QString& path) {
  try {
    return format_of(QFileInfo(path).suffix());
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}
}  // namespace

ExportDialog::ExportDialog(const QString& suggestedPath, const Figure& figure, QWidget* parent)
    : QDialog(parent), figure_(figure) {
  setWindowTitle("Export figure");
  QPushButton* browse = buildFileFields(suggestedPath);
  buildStyleFields();
  const bool wraps = buildSizeFields();
  connectFileFields(browse);
  connectSizeFields();
  addButtons(buildLayout(browse));
  if (wraps) unit_->setCurrentIndex(1);
  followTypedSuffix();
  updateSize();
}

QPushButton* ExportDialog::buildFileFields(const QString& suggestedPath) {
  path_ = new QLineEdit(suggestedPath);
  path_->setMinimumWidth(path_->fontMetrics().averageCharWidth() * 48);
  auto* browse = new QPushButton("Browse…");
  suffix_note_ = new QLabel;
  suffix_note_->setObjectName("suffix_note");
  suffix_note_->setWordWrap(true);
  format_ = new QComboBox;
  format_->setObjectName("format");
  format_->addItems({"PNG (raster)", "SVG (vector)", "PDF (vector)"});
  return browse;
}

void ExportDialog::buildStyleFields() {
  style_ = new QComboBox;
  style_->addItem("Paper (sans, 7.5–9 pt, thin lines)", "paper");
  style_->addItem("Paper (serif)", "paper-serif");
  style_->addItem("Screen (as in the app)", "screen");
  style_->setToolTip("Text sizes are in points at the exported size: a paper figure reads right when printed at 100 %.");
  style_->setCurrentIndex(std::max(0, style_->findData(QSettings().value("exportStyle", "paper").toString())));
  background_ = new QComboBox;
  background_->addItems({"White", "Transparent"});
}

bool ExportDialog::buildSizeFields() {
  unit_ = new QComboBox;
  unit_->addItems({"pixels (at 96 DPI)", "centimetres"});
  width_ = new QDoubleSpinBox;
  height_ = new QDoubleSpinBox;
  for (auto* s : {width_, height_}) s->setRange(1, 20000), s->setDecimals(1);
  const bool wraps = figure_.heightForWidth(figure_.naturalSize().width(), FigureStyle::paper()) > 0;
  width_->setValue(wraps ? kDefaultWrapWidthCm * kPxPerCm : figure_.naturalSize().width());
  height_->setValue(figure_.naturalSize().height());
  height_->setEnabled(!wraps);
  if (wraps) height_->setToolTip("This figure wraps its text into lines: the height follows the width.");
  dpi_ = new QSpinBox;
  dpi_->setRange(96, 600);
  dpi_->setValue(300);
  dpi_->setToolTip("PNG resolution: the layout is the same at every DPI; only the pixel count changes.");
  pixels_ = new QLabel;
  return wraps;
}

void ExportDialog::connectFileFields(QPushButton* browse) {
  connect(format_, &QComboBox::currentIndexChanged, this, [this](int i) {
    const QString typed = path_->text();
    if (format_named(typed)) {  // "fig.v2" keeps its name: the suffix is added on saving, as the note says
      const QSignalBlocker block(path_);
      path_->setText(typed.left(typed.size() - QFileInfo(typed).suffix().size()) +
                     suffix_of(static_cast<FigureFormat>(i)));
    }
    dpi_->setEnabled(i == 0);
    followTypedSuffix();
    updateSize();
  });
  // the typed suffix picks the format, so a file never holds another format than its name says
  connect(path_, &QLineEdit::textChanged, this, [this] { followTypedSuffix(); });
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getSaveFileName(this, "Export figure", path_->text(), "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)");
    if (p.isEmpty()) return;
    path_->setText(p);
  });
}

void ExportDialog::connectSizeFields() {
  connect(unit_, &QComboBox::currentIndexChanged, this, [this](int cm) {
    const double factor = cm ? 1 / kPxPerCm : kPxPerCm;
    const QSignalBlocker block_w(width_), block_h(height_);
    width_->setValue(width_->value() * factor);
    height_->setValue(height_->value() * factor);
    updateSize();
  });
  for (auto* s : {width_, height_}) connect(s, &QDoubleSpinBox::valueChanged, this, [this] { updateSize(); });
  connect(dpi_, &QSpinBox::valueChanged, this, [this] { updateSize(); });
  connect(style_, &QComboBox::currentIndexChanged, this, [this] { updateSize(); });
}

QFormLayout* ExportDialog::buildLayout(QPushButton* browse) {
  auto* path_row = new QHBoxLayout;
  path_row->addWidget(path_, 1);
  path_row->addWidget(browse);
  auto* form = new QFormLayout(this);
  form->addRow("File", path_row);
  form->addRow("", suffix_note_);
  form->addRow("Format", format_);
  form->addRow("Style", style_);
  form->addRow("Unit", unit_);
  form->addRow("Width", width_);
  form->addRow("Height", height_);
  form->addRow("PNG DPI", dpi_);
  form->addRow("", pixels_);
  form->addRow("Background", background_);
  return form;
}

void ExportDialog::addButtons(QFormLayout* form) {
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel);
  save_ = buttons->button(QDialogButtonBox::Save);
  connect(buttons, &QDialogButtonBox::accepted, this, [this] {
    QSettings().setValue("exportStyle", style_->currentData());
    accept();
  });
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  form->addRow(buttons);
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

void ExportDialog::followTypedSuffix() {
  if (save_) save_->setEnabled(!QFileInfo(path_->text()).fileName().isEmpty());  // "" or a folder is no file
  if (const auto typed = format_named(path_->text())) {
    if (static_cast<int>(*typed) != format_->currentIndex()) format_->setCurrentIndex(static_cast<int>(*typed));
    suffix_note_->clear();
    suffix_note_->hide();
    return;
  }
  const QString suffix = QFileInfo(path_->text()).suffix();
  const QString what = suffix.isEmpty() ? QString("A name without a suffix")
                                        : QString("“.%1” is not a figure format").arg(suffix);
  suffix_note_->setText(QString("%1: the file will be saved as %2").arg(what, QFileInfo(path()).fileName()));
  suffix_note_->show();
}

QString ExportDialog::path() const {
  const QString typed = path_->text();
  if (format_named(typed)) return typed;
  return typed + "." + suffix_of(static_cast<FigureFormat>(format_->currentIndex()));
}

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
