// The dashboard window: inventory, the selected item's waiting line and leases, the activity
// log and chart, the plugins; the operator's actions (create, restock, pause, expire), each
// confirmed first. It wires the AdminClient to the models and shows problems in words.
#pragma once

#include <QLabel>
#include <QMainWindow>
#include <QTableView>
#include <QTimer>

#include "admin_client.hpp"
#include "event_log_model.hpp"
#include "inventory_model.hpp"
#include "lease_model.hpp"
#include "plugin_model.hpp"
#include "throughput.hpp"
#include "throughput_chart.hpp"
#include "waitlist_model.hpp"

class QAction;

namespace flashsale::admin {

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);

  // Connects (or reconnects) to the admin listener at `server` and remembers it.
  void connect_to(const QUrl& server);
  // Shows this item's line and leases; also selects it in the inventory.
  void select_item(const QString& item_id);

  // The server used last time (QSettings), or the default local admin listener.
  static QUrl remembered_server();

 private:
  void build_views();
  void build_actions();
  void on_state(AdminClient::State state, const QString& detail);
  void on_snapshot(const QVector<Item>& items);
  void on_events(const QVector<Event>& batch);
  void show_item(const QString& item_id);
  void fetch_waitlist();
  void fetch_leases();
  void fetch_plugins();
  void refresh();
  void update_labels();
  void update_actions();

  void ask_connect();
  void ask_create_item();
  void ask_restock();
  void ask_pause();
  void ask_expire();
  // Asks `question`; runs `then` on Yes. Non-modal, so the live views keep updating.
  void confirm(const QString& question, std::function<void()> then);
  // Sends an action and reports its outcome: `done` on success, the server's words otherwise.
  void act(const QByteArray& method, const QString& path, const QJsonObject& body,
           const QString& done);
  void report(const QString& problem);
  [[nodiscard]] QString selected_item() const;

  AdminClient client_;
  InventoryModel inventory_;
  ItemFilterProxy inventory_proxy_;
  WaitlistModel waitlist_;
  LeaseModel leases_;
  EventLogModel log_;
  EventFilterProxy log_proxy_;
  PluginModel plugins_;
  Throughput throughput_;

  QTableView* inventory_view_ = nullptr;
  QTableView* waitlist_view_ = nullptr;
  QTableView* lease_view_ = nullptr;
  QTableView* log_view_ = nullptr;
  QTableView* plugin_view_ = nullptr;
  ThroughputChart* chart_ = nullptr;
  QLabel* waitlist_label_ = nullptr;
  QLabel* lease_label_ = nullptr;
  QLabel* connection_label_ = nullptr;
  QLabel* rate_label_ = nullptr;
  QAction* restock_action_ = nullptr;
  QAction* pause_action_ = nullptr;
  QAction* expire_action_ = nullptr;

  QTimer chart_timer_;   // redraws the chart and the event rate once a second
  QTimer plugin_timer_;  // plugin health, while connected
  int events_this_second_ = 0;
  QString wanted_item_;  // select_item before the item is known: selected when it appears
};

}  // namespace flashsale::admin
