// The service's loaded plugins (GET /admin/plugins): name, kind, version, health ("unknown"
// while not connected).
#pragma once

#include <QAbstractTableModel>

#include "api_types.hpp"

namespace flashsale::admin {

class PluginModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { name, kind, version, health, required, file, columns };

  using QAbstractTableModel::QAbstractTableModel;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  void set_plugins(const QVector<PluginInfo>& plugins);
  // Not connected: every health is "unknown" (the last one read stays in the tooltip).
  void set_stale(bool stale);

 private:
  QVector<PluginInfo> plugins_;
  bool stale_ = false;
};

}  // namespace flashsale::admin
