// The plugins pane: the node the dashboard talks to and who leads the CDC (GET /admin/cluster),
// then each loaded plugin with its kind, version and health (GET /admin/plugins), on demand
// and every 15 s while connected. It owns the PluginModel.
#pragma once

#include <QJsonObject>
#include <QLabel>
#include <QTableView>
#include <QTimer>
#include <QWidget>

#include "admin_client.hpp"
#include "plugin_model.hpp"

namespace flashsale::admin {

class PluginsPane : public QWidget {
  Q_OBJECT

 public:
  static constexpr int kRefreshMs = 15000;

  explicit PluginsPane(AdminClient& client, QWidget* parent = nullptr);

  void refresh();
  // Connected: the health is refreshed on a timer. Not connected: it is unknown.
  void set_live(bool live);
  /// "Node: a — CDC leader: b — 3 replicas connected", from GET /admin/cluster's answer.
  static QString cluster_text(const QJsonObject& view);

 signals:
  void problem(const QString& message);

 private:
  AdminClient& client_;
  PluginModel plugins_;
  QLabel* cluster_;
  QTableView* view_;
  QTimer refresh_timer_;
};

}  // namespace flashsale::admin
