// The form for POST /admin/items: id, name, stock, payment window, per-user limit, an optional
// waiting-line limit, optional opening and closing times, paused. Create asks the window to
// send it (submitted); the form stays open until the server has created the item, and a
// refusal is shown in it with everything still filled in.
#pragma once

#include <QCheckBox>
#include <QDateTimeEdit>
#include <QDialog>
#include <QDialogButtonBox>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>

namespace flashsale::admin {

class CreateItemDialog : public QDialog {
  Q_OBJECT

 public:
  explicit CreateItemDialog(QWidget* parent = nullptr);

  // The request body, with only the fields the operator set; times as RFC 3339 UTC.
  [[nodiscard]] QJsonObject body() const;

  // Create (or Enter): emits submitted(body()) and stays open.
  void accept() override;
  // The request is on its way: Create is disabled until created() or refused().
  void sending();
  // The item exists: the form closes (accepted).
  void created();
  // The server (or the confirmation) said no: shows `message`, keeps the form for another try.
  void refused(const QString& message);

 signals:
  void submitted(const QJsonObject& body);

 private:
  void check();

  QLineEdit* id_;
  QLineEdit* name_;
  QSpinBox* stock_;
  QSpinBox* window_;
  QSpinBox* per_user_;
  QCheckBox* limit_line_;
  QSpinBox* line_limit_;
  QCheckBox* opens_set_;
  QDateTimeEdit* opens_at_;
  QCheckBox* closes_set_;
  QDateTimeEdit* closes_at_;
  QCheckBox* paused_;
  QLabel* problem_;
  QDialogButtonBox* buttons_;
  bool sending_ = false;
};

}  // namespace flashsale::admin
