// The orders pane: finds an order by its id (GET /admin/orders/{id}) or a user's orders
// (GET /admin/orders?user=), shows the order with its history, and cancels or expires it
// (confirmed first), reading it again afterwards. Problems (no such order, an id that is not
// one, a refused action) are shown in the pane in words.
#pragma once

#include <QAction>
#include <QLabel>
#include <QLineEdit>
#include <QStandardItemModel>
#include <QTableView>
#include <QWidget>
#include <optional>

#include "admin_client.hpp"

namespace flashsale::admin {

// Order ids are UUIDs: anything else is refused before it is sent. `id` trimmed, or empty.
QString order_id_from(const QString& text);

class OrdersPane : public QWidget {
  Q_OBJECT

 public:
  explicit OrdersPane(AdminClient& client, QWidget* parent = nullptr);

  // Reads this order (with its history) and shows it.
  void show_order(const QString& order_id);
  // Lists this user's orders, newest first; selecting one shows it.
  void find_user_orders(const QString& user_id);

 signals:
  // An action's outcome for the status bar.
  void notice(const QString& message);

 private:
  void show_details();
  void say(const QString& message, bool problem = true);
  // Confirms `question`, then POSTs /admin/orders/{id}/`verb` and reads the order again; `what`
  // names the action in its outcome ("Cancel order …").
  void ask(const QString& verb, const QString& what, const QString& question);

  AdminClient& client_;
  QLineEdit* order_edit_;
  QLineEdit* user_edit_;
  QStandardItemModel user_orders_;
  QTableView* user_orders_view_;
  QLabel* details_;
  QStandardItemModel history_;
  QTableView* history_view_;
  QLabel* status_;
  QAction* cancel_action_;
  QAction* expire_action_;
  std::optional<Order> order_;  // the order shown
  QString wanted_;              // the order last asked for: an older answer is not shown
};

}  // namespace flashsale::admin
