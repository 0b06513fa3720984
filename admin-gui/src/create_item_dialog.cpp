// See create_item_dialog.hpp.
#include "create_item_dialog.hpp"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QPushButton>
#include <QRegularExpressionValidator>

namespace flashsale::admin {

CreateItemDialog::CreateItemDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Create item"));
  id_ = new QLineEdit;
  id_->setObjectName("itemId");
  id_->setValidator(new QRegularExpressionValidator(QRegularExpression("[a-z0-9-]{1,64}"), id_));
  id_->setPlaceholderText(tr("lower-case letters, digits, '-'"));
  name_ = new QLineEdit;
  name_->setObjectName("itemName");
  name_->setMaxLength(200);
  stock_ = new QSpinBox;
  stock_->setObjectName("totalStock");
  stock_->setRange(0, 1'000'000'000);
  stock_->setValue(100);
  window_ = new QSpinBox;
  window_->setObjectName("paymentWindow");
  window_->setRange(1, 86400);
  window_->setValue(600);
  window_->setSuffix(tr(" s"));
  per_user_ = new QSpinBox;
  per_user_->setRange(1, 1000);
  per_user_->setValue(1);
  limit_line_ = new QCheckBox(tr("at most"));
  line_limit_ = new QSpinBox;
  line_limit_->setRange(0, 1'000'000'000);
  line_limit_->setValue(10000);
  line_limit_->setEnabled(false);
  connect(limit_line_, &QCheckBox::toggled, line_limit_, &QWidget::setEnabled);
  auto* line = new QHBoxLayout;
  line->addWidget(limit_line_);
  line->addWidget(line_limit_, 1);
  paused_ = new QCheckBox(tr("start paused"));

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Create"));
  buttons->button(QDialogButtonBox::Ok)->setEnabled(false);
  const auto check = [this, buttons] {
    buttons->button(QDialogButtonBox::Ok)
        ->setEnabled(id_->hasAcceptableInput() && !name_->text().trimmed().isEmpty());
  };
  connect(id_, &QLineEdit::textChanged, this, check);
  connect(name_, &QLineEdit::textChanged, this, check);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

  auto* form = new QFormLayout(this);
  form->addRow(tr("Id"), id_);
  form->addRow(tr("Name"), name_);
  form->addRow(tr("Units"), stock_);
  form->addRow(tr("Payment window"), window_);
  form->addRow(tr("Per user"), per_user_);
  form->addRow(tr("Waiting line"), line);
  form->addRow(QString(), paused_);
  form->addRow(buttons);
}

QJsonObject CreateItemDialog::body() const {
  QJsonObject body{{"id", id_->text()},
                   {"name", name_->text().trimmed()},
                   {"total_stock", stock_->value()},
                   {"payment_window_s", window_->value()},
                   {"per_user_limit", per_user_->value()},
                   {"paused", paused_->isChecked()}};
  if (limit_line_->isChecked()) body.insert("waitlist_limit", line_limit_->value());
  return body;
}

}  // namespace flashsale::admin
