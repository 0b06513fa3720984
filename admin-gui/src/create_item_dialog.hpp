// The form for POST /admin/items: id, name, stock, payment window, limits, paused.
#pragma once

#include <QCheckBox>
#include <QDialog>
#include <QJsonObject>
#include <QLineEdit>
#include <QSpinBox>

namespace flashsale::admin {

class CreateItemDialog : public QDialog {
  Q_OBJECT

 public:
  explicit CreateItemDialog(QWidget* parent = nullptr);

  // The request body, with only the fields the operator set.
  [[nodiscard]] QJsonObject body() const;

 private:
  QLineEdit* id_;
  QLineEdit* name_;
  QSpinBox* stock_;
  QSpinBox* window_;
  QSpinBox* per_user_;
  QCheckBox* limit_line_;
  QSpinBox* line_limit_;
  QCheckBox* paused_;
};

}  // namespace flashsale::admin
