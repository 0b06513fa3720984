// See line_pane.hpp.
#include "line_pane.hpp"

#include <QHBoxLayout>
#include <QLocale>
#include <QVBoxLayout>

#include "orders_pane.hpp"
#include "widgets.hpp"

namespace flashsale::admin {
namespace {

QStandardItem* cell(const QVariant& value) {
  auto* item = new QStandardItem;
  item->setData(value, Qt::DisplayRole);
  item->setToolTip(value.toString());
  item->setEditable(false);
  return item;
}

}  // namespace

LinePane::LinePane(AdminClient& client, QWidget* parent) : QWidget(parent), client_(client) {
  setObjectName("linePane");
  rows_.setHorizontalHeaderLabels({tr("#"), tr("Order"), tr("User"), tr("Waiting since")});
  view_ = make_table("linePageView", &rows_, {55, 130, 100});
  elide_right(view_, user);
  label_ = new QLabel;
  label_->setObjectName("linePageLabel");
  status_ = new QLabel;
  status_->setObjectName("lineFindLabel");
  status_->setWordWrap(true);
  status_->setStyleSheet(QStringLiteral("color: #b00000"));

  previous_ = new QPushButton(tr("◀ Previous"));
  previous_->setObjectName("linePreviousButton");
  connect(previous_, &QPushButton::clicked, this, [this] { fetch(qMax(0, offset_ - kPageSize)); });
  next_ = new QPushButton(tr("Next ▶"));
  next_->setObjectName("lineNextButton");
  connect(next_, &QPushButton::clicked, this, [this] { fetch(offset_ + kPageSize); });
  find_edit_ = new QLineEdit;
  find_edit_->setObjectName("findInLineEdit");
  find_edit_->setPlaceholderText(tr("find an order in the line"));
  auto* find = new QPushButton(tr("Find"));
  find->setObjectName("findInLineButton");
  const auto on_find = [this] { find_order(find_edit_->text()); };
  connect(find, &QPushButton::clicked, this, on_find);
  connect(find_edit_, &QLineEdit::returnPressed, this, on_find);

  auto* bar = new QHBoxLayout;
  bar->addWidget(previous_);
  bar->addWidget(next_);
  bar->addWidget(find_edit_, 1);
  bar->addWidget(find);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(label_);
  layout->addLayout(bar);
  layout->addWidget(status_);
  layout->addWidget(view_, 1);
  update_label();
}

void LinePane::show_item(const QString& item_id) {
  if (item_id == item_id_) return;
  item_id_ = item_id;
  offset_ = 0;
  waiting_ = 0;
  rows_.removeRows(0, rows_.rowCount());
  say({});
  refresh();
  update_label();
}

void LinePane::refresh() { fetch(offset_); }

void LinePane::fetch(int offset, const QString& select) {
  const QString id = item_id_;
  if (id.isEmpty()) return;
  client_.get(
      item_path(id) + QStringLiteral("/waitlist?offset=%1&limit=%2").arg(offset).arg(kPageSize),
      this, [this, id, select](const Reply& reply) {
        if (id != item_id_) return;
        QString error = reply.error;
        const auto page = reply.ok() ? parse_waitlist(reply.body, &error) : std::nullopt;
        if (!page) return say(tr("Waiting line of %1: %2").arg(id, error));
        show_page(*page, select);
      });
}

void LinePane::show_page(const WaitlistPage& page, const QString& select) {
  if (page.waiters.isEmpty() && page.offset > 0 && page.waiting > 0) {
    return fetch((page.waiting - 1) / kPageSize * kPageSize, select);  // the line got shorter
  }
  offset_ = page.offset;
  waiting_ = page.waiting;
  rows_.removeRows(0, rows_.rowCount());
  int selected = -1;
  for (const Waiter& w : page.waiters) {
    if (w.order_id == select) selected = rows_.rowCount();
    rows_.appendRow({cell(w.position), cell(w.order_id), cell(w.user_id),
                     cell(w.waiting_since.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz")))});
  }
  if (selected >= 0) {
    view_->setCurrentIndex(rows_.index(selected, 0));
    view_->scrollTo(rows_.index(selected, 0));
  } else if (!select.isEmpty()) {  // it left the line (or moved off the page) meanwhile
    say(tr("Order %1 is no longer on that page of the line").arg(select));
  }
  update_label();
}

void LinePane::find_order(const QString& order_id) {
  const QString id = order_id_from(order_id);
  if (item_id_.isEmpty()) return say(tr("Select an item first."));
  if (id.isEmpty()) return say(tr("'%1' is not an order id (a UUID)").arg(order_id.trimmed()));
  const QString item = item_id_;
  client_.get(QStringLiteral("/admin/orders/%1").arg(path_segment(id)), this,
              [this, id, item](const Reply& reply) {
                if (item != item_id_) return;
                QString error = reply.error;
                const auto order = reply.ok() ? parse_order(reply.body, &error) : std::nullopt;
                if (!order) {
                  return say(reply.status == 404 ? tr("No order %1").arg(id)
                                                 : tr("Order %1: %2").arg(id, error));
                }
                if (order->item_id != item) {
                  return say(tr("Order %1 is for %2, not %3").arg(id, order->item_id, item));
                }
                if (order->waitlist_position <= 0) {
                  return say(tr("Order %1 is not waiting (%2)").arg(id, order->status));
                }
                say({});
                fetch((order->waitlist_position - 1) / kPageSize * kPageSize, id);
              });
}

void LinePane::set_live(bool live) { set_stale(view_, !live); }

void LinePane::update_label() {
  const QLocale locale;
  previous_->setEnabled(offset_ > 0);
  next_->setEnabled(offset_ + kPageSize < waiting_);
  if (item_id_.isEmpty()) return label_->setText(tr("Select an item to page through its line."));
  const QString name = item_id_.toHtmlEscaped();
  const int shown = rows_.rowCount();
  if (waiting_ == 0) return label_->setText(tr("<b>%1</b>: nobody waiting").arg(name));
  if (shown == 0) {
    return label_->setText(tr("<b>%1</b>: %2 waiting").arg(name, locale.toString(waiting_)));
  }
  label_->setText(tr("<b>%1</b>: %2 waiting; showing %3-%4")
                      .arg(name, locale.toString(waiting_), locale.toString(offset_ + 1),
                           locale.toString(offset_ + shown)));
}

void LinePane::say(const QString& message) { status_->setText(message); }

}  // namespace flashsale::admin
