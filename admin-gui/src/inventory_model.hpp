// Every item with its counts, kept live from the stream: a snapshot replaces the list, events
// update it in place (one dataChanged per changed row and batch). ItemFilterProxy sorts it and
// filters it by id or name.
#pragma once

#include <QAbstractTableModel>
#include <QHash>
#include <QSortFilterProxyModel>

#include "api_types.hpp"

namespace flashsale::admin {

class InventoryModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { id, name, total, available, reserved, confirmed, waiting, sold, state, columns };
  // Numbers (not text) for sorting.
  static constexpr int kSortRole = Qt::UserRole;

  using QAbstractTableModel::QAbstractTableModel;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  void set_items(const QVector<Item>& items);
  void apply(const QVector<Event>& batch);

  [[nodiscard]] const Item* item(const QString& id) const;
  [[nodiscard]] QString id_at(int row) const;

 private:
  void reindex();

  QVector<Item> items_;
  QHash<QString, int> rows_;  // item id -> row
};

class ItemFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT

 public:
  explicit ItemFilterProxy(QObject* parent = nullptr);

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;
};

}  // namespace flashsale::admin
