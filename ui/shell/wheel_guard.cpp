#include "ui/shell/wheel_guard.h"

#include <QAbstractSlider>
#include <QAbstractSpinBox>
#include <QApplication>
#include <QComboBox>
#include <QEvent>
#include <QWidget>

namespace moewb {

namespace {

class WheelGuard : public QObject {
 public:
  using QObject::QObject;

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override {
    if (event->type() != QEvent::Wheel) return false;
    auto* widget = qobject_cast<QWidget*>(watched);
    if (!widget || widget->hasFocus()) return false;
    // hand the wheel to the parent, so the surrounding scroll area scrolls instead of the value changing
    if (QWidget* parent = widget->parentWidget()) QApplication::sendEvent(parent, event);
    return true;
  }
};

}  // namespace

void guard_wheel_events(QWidget* root) {
  auto* guard = new WheelGuard(root);
  auto guard_one = [guard](QWidget* w) {
    w->setFocusPolicy(Qt::StrongFocus);  // a wheel event alone must not give it the focus
    w->installEventFilter(guard);
  };
  for (auto* w : root->findChildren<QAbstractSpinBox*>()) guard_one(w);
  for (auto* w : root->findChildren<QComboBox*>()) guard_one(w);
  for (auto* w : root->findChildren<QAbstractSlider*>()) {
    if (w->inherits("QScrollBar")) continue;  // scroll bars exist to take the wheel
    guard_one(w);
  }
}

}  // namespace moewb
