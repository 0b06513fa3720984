// The whole waiting line of the selected item, a page at a time
// (GET /admin/items/{item}/waitlist?offset=&limit=), with its length, and a box that finds an
// order in it: its place (GET /admin/orders/{id}, waitlist_position) gives the page, where its
// row is selected. A page is read when asked for and not followed live (the item pane's head
// of the line is); Refresh reads it again.
#pragma once

#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QStandardItemModel>
#include <QTableView>
#include <QWidget>

#include "admin_client.hpp"

namespace flashsale::admin {

class LinePane : public QWidget {
  Q_OBJECT

 public:
  enum Column { position, order, user, since };
  static constexpr int kPageSize = 100;

  explicit LinePane(AdminClient& client, QWidget* parent = nullptr);

  // Shows the first page of this item's line (an empty id: none); the item already shown:
  // nothing.
  void show_item(const QString& item_id);
  // Reads the page shown again.
  void refresh();
  // Finds this order in the line and shows its page with its row selected.
  void find_order(const QString& order_id);
  void set_live(bool live);

 private:
  // Reads the page starting after `offset`; then selects `select` (an order id) if on it.
  void fetch(int offset, const QString& select = {});
  void show_page(const WaitlistPage& page, const QString& select);
  void update_label();
  void say(const QString& message);

  AdminClient& client_;
  QString item_id_;
  int offset_ = 0;
  int waiting_ = 0;
  QStandardItemModel rows_;
  QTableView* view_;
  QLabel* label_;
  QLabel* status_;
  QLineEdit* find_edit_;
  QPushButton* previous_;
  QPushButton* next_;
};

}  // namespace flashsale::admin
