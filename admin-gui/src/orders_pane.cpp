// See orders_pane.hpp.
#include "orders_pane.hpp"

#include <QHBoxLayout>
#include <QLocale>
#include <QPushButton>
#include <QToolButton>
#include <QUuid>
#include <QVBoxLayout>

#include "widgets.hpp"

namespace flashsale::admin {
namespace {

QString local_time(const QDateTime& t) {
  return t.isValid() ? t.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) : QString();
}

// A read-only cell whose tooltip is its whole text (ids are elided).
QStandardItem* cell(const QString& text) {
  auto* item = new QStandardItem(text);
  item->setToolTip(text);
  item->setEditable(false);
  return item;
}

}  // namespace

QString order_id_from(const QString& text) {
  const QString id = text.trimmed();
  return QUuid::fromString(id).isNull() ? QString() : id;
}

OrdersPane::OrdersPane(AdminClient& client, QWidget* parent) : QWidget(parent), client_(client) {
  setObjectName("ordersPane");
  order_edit_ = new QLineEdit;
  order_edit_->setObjectName("orderIdEdit");
  order_edit_->setPlaceholderText(tr("order id"));
  auto* find_order = new QPushButton(tr("Find order"));
  find_order->setObjectName("findOrderButton");
  const auto on_find_order = [this] { show_order(order_edit_->text()); };
  connect(find_order, &QPushButton::clicked, this, on_find_order);
  connect(order_edit_, &QLineEdit::returnPressed, this, on_find_order);

  user_edit_ = new QLineEdit;
  user_edit_->setObjectName("userIdEdit");
  user_edit_->setPlaceholderText(tr("user id"));
  auto* find_user = new QPushButton(tr("User's orders"));
  find_user->setObjectName("findUserOrdersButton");
  const auto on_find_user = [this] { find_user_orders(user_edit_->text()); };
  connect(find_user, &QPushButton::clicked, this, on_find_user);
  connect(user_edit_, &QLineEdit::returnPressed, this, on_find_user);

  user_orders_.setHorizontalHeaderLabels({tr("Order"), tr("Item"), tr("Status"), tr("Placed")});
  user_orders_view_ = make_table("userOrdersView", &user_orders_, {130, 90, 75});
  connect(user_orders_view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (current.isValid()) show_order(user_orders_.item(current.row(), 0)->text());
          });

  details_ = new QLabel;
  details_->setObjectName("orderDetails");
  details_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  details_->setWordWrap(true);
  history_.setHorizontalHeaderLabels({tr("At"), tr("What"), tr("Details")});
  history_view_ = make_table("orderHistoryView", &history_, {140, 130});
  history_view_->setTextElideMode(Qt::ElideRight);

  cancel_action_ = new QAction(tr("Cancel order…"), this);
  cancel_action_->setObjectName("cancelOrderAction");
  connect(cancel_action_, &QAction::triggered, this, [this] {
    if (!order_ || !order_->can_cancel()) return;
    ask(QStringLiteral("cancel"), tr("Cancel order %1").arg(order_->id),
        tr("Cancel order %1 (user %2, %3)? It ends now (cancelled_by_operator); a unit it "
           "holds goes to the next in line.")
            .arg(order_->id, order_->user_id, order_->status));
  });
  expire_action_ = new QAction(tr("Expire order…"), this);
  expire_action_->setObjectName("expireOrderAction");
  connect(expire_action_, &QAction::triggered, this, [this] {
    if (!order_ || !order_->can_expire()) return;
    ask(QStringLiteral("expire"), tr("Expire order %1").arg(order_->id),
        tr("End the lease of order %1 (user %2) now? The order expires and its unit goes to "
           "the next in line.")
            .arg(order_->id, order_->user_id));
  });
  auto* cancel_button = new QToolButton;
  cancel_button->setDefaultAction(cancel_action_);
  auto* expire_button = new QToolButton;
  expire_button->setDefaultAction(expire_action_);

  status_ = new QLabel;
  status_->setObjectName("ordersLabel");
  status_->setWordWrap(true);

  auto* find_bar = new QHBoxLayout;
  find_bar->addWidget(order_edit_, 3);
  find_bar->addWidget(find_order);
  find_bar->addWidget(user_edit_, 2);
  find_bar->addWidget(find_user);
  auto* action_bar = new QHBoxLayout;
  action_bar->addWidget(details_, 1);
  action_bar->addWidget(cancel_button, 0, Qt::AlignTop);
  action_bar->addWidget(expire_button, 0, Qt::AlignTop);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(find_bar);
  layout->addWidget(status_);
  layout->addWidget(user_orders_view_, 1);
  layout->addLayout(action_bar);
  layout->addWidget(history_view_, 2);
  show_details();
}

void OrdersPane::show_order(const QString& order_id) {
  const QString id = order_id_from(order_id);
  if (id.isEmpty()) return say(tr("'%1' is not an order id (a UUID)").arg(order_id.trimmed()));
  wanted_ = id;
  client_.get(QStringLiteral("/admin/orders/%1").arg(path_segment(id)), this,
              [this, id](const Reply& reply) {
                if (id != wanted_) return;
                QString error = reply.error;
                auto order = reply.ok() ? parse_order(reply.body, &error) : std::nullopt;
                // A failed lookup shows no order: not the last one, which an action would hit.
                order_ = std::move(order);
                show_details();
                if (!order_) {
                  return say(reply.status == 404 ? tr("No order %1").arg(id)
                                                 : tr("Order %1: %2").arg(id, error));
                }
                say({}, false);
              });
}

void OrdersPane::find_user_orders(const QString& user_id) {
  const QString user = user_id.trimmed();
  if (user.isEmpty()) return say(tr("Type a user id to list that user's orders."));
  client_.get(QStringLiteral("/admin/orders?user=%1")
                  .arg(QString::fromLatin1(QUrl::toPercentEncoding(user))),
              this, [this, user](const Reply& reply) {
                QString error = reply.error;
                const auto orders = reply.ok() ? parse_orders(reply.body, &error) : std::nullopt;
                user_orders_.removeRows(0, user_orders_.rowCount());
                if (!orders) return say(tr("Orders of %1: %2").arg(user, error));
                for (const Order& o : *orders) {
                  user_orders_.appendRow({cell(o.id), cell(o.item_id), cell(o.status),
                                          cell(local_time(o.created_at))});
                }
                say(orders->isEmpty() ? tr("%1 has no orders").arg(user)
                                      : tr("%1: %n order(s), newest first", nullptr,
                                           static_cast<int>(orders->size()))
                                            .arg(user),
                    false);
              });
}

void OrdersPane::show_details() {
  history_.removeRows(0, history_.rowCount());
  cancel_action_->setEnabled(order_ && order_->can_cancel());
  expire_action_->setEnabled(order_ && order_->can_expire());
  if (!order_) {
    details_->setText(tr("Find an order by its id, or a user's orders."));
    return;
  }
  const Order& o = *order_;
  QStringList lines{
      tr("<b>%1</b>: %2").arg(o.id.toHtmlEscaped(), o.status.toHtmlEscaped()),
      tr("item %1, user %2").arg(o.item_id.toHtmlEscaped(), o.user_id.toHtmlEscaped())};
  if (o.waitlist_position > 0) {
    lines << tr("place in line: %1").arg(QLocale().toString(o.waitlist_position));
  }
  if (o.expires_at.isValid()) lines << tr("lease until %1").arg(local_time(o.expires_at));
  if (!o.reason.isEmpty()) lines << tr("reason: %1").arg(o.reason.toHtmlEscaped());
  lines << tr("placed %1, updated %2").arg(local_time(o.created_at), local_time(o.updated_at));
  details_->setText(lines.join(QStringLiteral("<br>")));
  for (const OrderEntry& e : o.history) {
    history_.appendRow({cell(local_time(e.at)), cell(e.what), cell(e.detail)});
  }
}

void OrdersPane::say(const QString& message, bool problem) {
  status_->setText(message);
  status_->setStyleSheet(problem ? QStringLiteral("color: #b00000") : QString());
}

void OrdersPane::ask(const QString& verb, const QString& what, const QString& question) {
  const QString id = order_->id;
  confirm(this, question, [this, verb, what, id] {
    client_.send("POST", QStringLiteral("/admin/orders/%1/%2").arg(path_segment(id), verb), {},
                 this, [this, what, id](const Reply& reply) {
                   const QString outcome = reply.ok() ? tr("%1: done").arg(what)
                                                      : tr("%1 failed: %2").arg(what, reply.error);
                   emit notice(outcome);
                   if (!reply.ok()) show_failure(this, outcome);
                   show_order(id);  // either way: what it is now (a refusal: it had ended)
                 });
  });
}

}  // namespace flashsale::admin
