// A dismissable bar above the central views: errors (red) stay until closed or replaced; notices (blue) say
// that something finished. Selectable text, so a path or a message can be copied.
#pragma once

#include <QFrame>

class QLabel;

namespace moewb {

class NoticeBar : public QFrame {
  Q_OBJECT

 public:
  explicit NoticeBar(QWidget* parent = nullptr);

  void showError(const QString& message);
  void showNotice(const QString& message);
  QString message() const;
  bool isError() const { return error_; }

 private:
  void showMessage(const QString& message, bool error);

  QLabel* text_;
  bool error_ = false;
};

}  // namespace moewb
