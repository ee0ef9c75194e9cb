#include "ui/shell/notice_bar.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>

namespace moewb {

NoticeBar::NoticeBar(QWidget* parent) : QFrame(parent), text_(new QLabel) {
  setObjectName("notice_bar");
  text_->setWordWrap(true);
  text_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* close = new QToolButton;
  close->setText("✕");
  close->setAutoRaise(true);
  close->setToolTip("Dismiss");
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(10, 4, 4, 4);
  layout->addWidget(text_, 1);
  layout->addWidget(close, 0, Qt::AlignTop);
  connect(close, &QToolButton::clicked, this, &QWidget::hide);
  hide();
}

void NoticeBar::showError(const QString& message) { showMessage(message, true); }
void NoticeBar::showNotice(const QString& message) { showMessage(message, false); }

QString NoticeBar::message() const { return text_->text(); }

void NoticeBar::showMessage(const QString& message, bool error) {
  error_ = error;
  text_->setText(message);
  // fixed light colours with dark text: readable whatever the palette (light or dark theme)
  setStyleSheet(error ? "#notice_bar { background: #fdecea; border: 1px solid #f5c2c0; } QLabel, QToolButton { color: #611a15; }"
                      : "#notice_bar { background: #e8f1fb; border: 1px solid #b6d4f2; } QLabel, QToolButton { color: #0b3d6b; }");
  show();
}

}  // namespace moewb
