// The activity log: the most recent events, newest first, appended a batch at a time and
// capped, so a busy sale costs a bounded amount of memory and redraw. EventFilterProxy shows
// one type and/or one item.
#pragma once

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <deque>

#include "api_types.hpp"

namespace flashsale::admin {

class EventLogModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { time, type, item, details, user, order, columns };
  static constexpr int kRawRole = Qt::UserRole;  // the type or item id, for filtering

  explicit EventLogModel(int capacity = 10000, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  void append(const QVector<Event>& batch);
  [[nodiscard]] int capacity() const { return capacity_; }

 private:
  struct Row {
    Event event;
    QString details;
  };
  std::deque<Row> rows_;  // newest first
  int capacity_;
};

class EventFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT

 public:
  using QSortFilterProxyModel::QSortFilterProxyModel;

  // Empty: any.
  void set_type(const QString& type);
  void set_item(const QString& item_id);

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;

 private:
  QString type_;
  QString item_;
};

}  // namespace flashsale::admin
