// The activity log: the most recent events, newest first, appended a batch at a time and
// capped, so a busy sale costs a bounded amount of memory and redraw, with a note where events
// are known to be missing. EventFilterProxy shows one type and/or one item, and hides
// inventory.changed unless asked.
#pragma once

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <deque>
#include <vector>

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
  // A line that is no event, e.g. where events were missed; any filter shows it.
  void append_note(const QString& text);
  [[nodiscard]] int capacity() const { return capacity_; }

 private:
  struct Row {
    Event event;  // a note's is empty
    QString details;
  };
  void insert(std::vector<Row> rows);  // oldest first
  static QVariant note_data(const QString& text, int column, int role);

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
  // inventory.changed follows nearly every order event (a third or more of a busy stream,
  // saying nothing the inventory table does not show): hidden unless shown or chosen by type.
  void set_show_inventory(bool show);

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;

 private:
  QString type_;
  QString item_;
  bool show_inventory_ = false;
};

}  // namespace flashsale::admin
