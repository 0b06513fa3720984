// The dashboard window: the composition of the panes (inventory, the selected item, activity,
// plugins, jobs, the whole line, orders), the operator's actions on the toolbar (create, restock,
// pause, close the sale, expire a lease), each confirmed first, and the status bar. It wires the
// AdminClient to the panes and shows problems in words.
#pragma once

#include <QLabel>
#include <QMainWindow>
#include <QTabWidget>

#include "activity_pane.hpp"
#include "admin_client.hpp"
#include "inventory_pane.hpp"
#include "item_pane.hpp"
#include "jobs_pane.hpp"
#include "line_pane.hpp"
#include "orders_pane.hpp"
#include "plugins_pane.hpp"
#include "server_clock.hpp"

class QAction;

namespace flashsale::admin {

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);

  // Connects (or reconnects) to the admin listener at `server`; remembers it once it answered.
  void connect_to(const QUrl& server);
  // Shows this item's line and leases; also selects it in the inventory.
  void select_item(const QString& item_id);
  // Brings a side tab to the front by its name (kTabs); false for a name that is none of them.
  bool show_tab(const QString& name);
  // The side tabs' names, in order: activity, plugins, jobs, line, orders.
  static const QStringList kTabs;

  // The last server that answered (QSettings), or the default local admin listener.
  static QUrl remembered_server();

 private:
  void build_layout();
  void build_actions();
  void on_state(AdminClient::State state, const QString& detail);
  void on_snapshot(const QVector<Item>& items, const QDateTime& server_time);
  void on_events(const QVector<Event>& batch);
  void refresh();
  void update_actions();

  void ask_connect();
  void ask_create_item();
  void ask_restock();
  void ask_pause();
  void ask_close_sale();
  void ask_expire();
  // Sends an action and reports its outcome: `done` on success, the server's words otherwise.
  void act(const QByteArray& method, const QString& path, const QJsonObject& body,
           const QString& done);
  void report(const QString& problem);
  [[nodiscard]] QString selected_item() const;

  AdminClient client_;
  ServerClock clock_;  // the server's, corrected at each snapshot
  InventoryPane* inventory_ = nullptr;
  ItemPane* item_ = nullptr;
  ActivityPane* activity_ = nullptr;
  PluginsPane* plugins_ = nullptr;
  JobsPane* jobs_ = nullptr;
  LinePane* line_ = nullptr;
  OrdersPane* orders_ = nullptr;
  QTabWidget* tabs_ = nullptr;

  QLabel* connection_label_ = nullptr;
  QString connection_text_;  // the connection state, without the clock note
  QAction* restock_action_ = nullptr;
  QAction* pause_action_ = nullptr;
  QAction* close_sale_action_ = nullptr;
  QAction* expire_action_ = nullptr;
};

}  // namespace flashsale::admin
