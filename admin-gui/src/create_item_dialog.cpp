// See create_item_dialog.hpp.
#include "create_item_dialog.hpp"

#include <QFormLayout>
#include <QHBoxLayout>
#include <QPushButton>
#include <QRegularExpressionValidator>

#include "api_types.hpp"

namespace flashsale::admin {
namespace {

// A time field that may be left unset: a check box ("at") enabling a local date and time.
QHBoxLayout* optional_time(QCheckBox* set, QDateTimeEdit* edit, const QString& unset_hint) {
  edit->setDisplayFormat(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
  edit->setCalendarPopup(true);
  edit->setTimeSpec(Qt::LocalTime);
  edit->setEnabled(false);
  edit->setToolTip(unset_hint);
  QObject::connect(set, &QCheckBox::toggled, edit, &QWidget::setEnabled);
  auto* row = new QHBoxLayout;
  row->addWidget(set);
  row->addWidget(edit, 1);
  return row;
}

}  // namespace

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
  per_user_->setObjectName("perUserLimit");
  per_user_->setRange(1, 1000);
  per_user_->setValue(1);
  limit_line_ = new QCheckBox(tr("at most"));
  limit_line_->setObjectName("waitlistLimitSet");
  line_limit_ = new QSpinBox;
  line_limit_->setObjectName("waitlistLimit");
  line_limit_->setRange(0, 1'000'000'000);
  line_limit_->setValue(10000);
  line_limit_->setEnabled(false);
  line_limit_->setToolTip(tr("Unset: the line has no limit"));
  connect(limit_line_, &QCheckBox::toggled, line_limit_, &QWidget::setEnabled);
  auto* line = new QHBoxLayout;
  line->addWidget(limit_line_);
  line->addWidget(line_limit_, 1);

  // Defaults when ticked: the next full hour, closing two hours later.
  QDateTime next_hour = QDateTime::currentDateTime().addSecs(3600);
  next_hour.setTime(QTime(next_hour.time().hour(), 0));
  opens_set_ = new QCheckBox(tr("at"));
  opens_set_->setObjectName("opensAtSet");
  opens_at_ = new QDateTimeEdit(next_hour);
  opens_at_->setObjectName("opensAt");
  closes_set_ = new QCheckBox(tr("at"));
  closes_set_->setObjectName("closesAtSet");
  closes_at_ = new QDateTimeEdit(next_hour.addSecs(7200));
  closes_at_->setObjectName("closesAt");
  paused_ = new QCheckBox(tr("start paused"));
  paused_->setObjectName("startPaused");

  problem_ = new QLabel;
  problem_->setObjectName("createError");
  problem_->setWordWrap(true);
  problem_->setStyleSheet(QStringLiteral("color: #b00000"));
  problem_->hide();

  buttons_ = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  buttons_->button(QDialogButtonBox::Ok)->setText(tr("Create"));
  for (QLineEdit* field : {id_, name_}) {
    connect(field, &QLineEdit::textChanged, this, &CreateItemDialog::check);
  }
  for (QCheckBox* set : {opens_set_, closes_set_}) {
    connect(set, &QCheckBox::toggled, this, &CreateItemDialog::check);
  }
  for (QDateTimeEdit* edit : {opens_at_, closes_at_}) {
    connect(edit, &QDateTimeEdit::dateTimeChanged, this, &CreateItemDialog::check);
  }
  connect(buttons_, &QDialogButtonBox::accepted, this, &CreateItemDialog::accept);
  connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);

  auto* form = new QFormLayout(this);
  form->addRow(tr("Id"), id_);
  form->addRow(tr("Name"), name_);
  form->addRow(tr("Units"), stock_);
  form->addRow(tr("Payment window"), window_);
  form->addRow(tr("Per user"), per_user_);
  form->addRow(tr("Waiting line"), line);
  form->addRow(tr("Opens"), optional_time(opens_set_, opens_at_, tr("Unset: opens at once")));
  form->addRow(tr("Closes"), optional_time(closes_set_, closes_at_, tr("Unset: never closes")));
  form->addRow(QString(), paused_);
  form->addRow(problem_);
  form->addRow(buttons_);
  check();
}

void CreateItemDialog::check() {
  const bool times_ok = !opens_set_->isChecked() || !closes_set_->isChecked() ||
                        opens_at_->dateTime() < closes_at_->dateTime();
  closes_at_->setStyleSheet(times_ok ? QString() : QStringLiteral("color: #b00000"));
  closes_at_->setToolTip(times_ok ? tr("Unset: never closes") : tr("Closes before it opens"));
  buttons_->button(QDialogButtonBox::Ok)
      ->setEnabled(!sending_ && id_->hasAcceptableInput() && !name_->text().trimmed().isEmpty() &&
                   times_ok);
}

QJsonObject CreateItemDialog::body() const {
  QJsonObject body{{"id", id_->text()},
                   {"name", name_->text().trimmed()},
                   {"total_stock", stock_->value()},
                   {"payment_window_s", window_->value()},
                   {"per_user_limit", per_user_->value()},
                   {"paused", paused_->isChecked()}};
  if (limit_line_->isChecked()) body.insert("waitlist_limit", line_limit_->value());
  if (opens_set_->isChecked()) body.insert("opens_at", rfc3339(opens_at_->dateTime()));
  if (closes_set_->isChecked()) body.insert("closes_at", rfc3339(closes_at_->dateTime()));
  return body;
}

void CreateItemDialog::accept() {
  if (sending_) return;
  problem_->hide();
  emit submitted(body());
}

void CreateItemDialog::sending() {
  sending_ = true;
  check();
}

void CreateItemDialog::created() {
  sending_ = false;
  QDialog::accept();
}

void CreateItemDialog::refused(const QString& message) {
  sending_ = false;
  problem_->setText(message);
  problem_->setVisible(!message.isEmpty());
  check();
}

}  // namespace flashsale::admin
