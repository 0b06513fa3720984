// See event_log_model.hpp.
#include "event_log_model.hpp"

namespace flashsale::admin {

EventLogModel::EventLogModel(int capacity, QObject* parent)
    : QAbstractTableModel(parent), capacity_(capacity) {}

int EventLogModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int EventLogModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : columns;
}

QVariant EventLogModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const Row& row = rows_[static_cast<std::size_t>(index.row())];
  const Event& e = row.event;
  if (role == kRawRole) {
    return index.column() == type ? e.type : index.column() == item ? e.item_id : QVariant();
  }
  if (role == Qt::ToolTipRole) {  // whole ids, however narrow the column; else the event's id
    if (index.column() == order && !e.order_id.isEmpty()) return e.order_id;
    if (index.column() == user && !e.user_id.isEmpty()) return e.user_id;
    return e.event_id;
  }
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case time:
      return e.committed_at.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz"));
    case type:
      return e.type;
    case item:
      return e.item_id;
    case order:
      return e.order_id;
    case user:
      return e.user_id;
    case details:
      return row.details;
  }
  return {};
}

QVariant EventLogModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const titles[columns] = {"Committed", "Type", "Item",
                                              "Details",   "User", "Order"};
  return section >= 0 && section < columns ? tr(titles[section]) : QVariant();
}

void EventLogModel::append(const QVector<Event>& batch) {
  if (batch.isEmpty()) return;
  // Only the newest `capacity_` of a huge batch can stay.
  const qsizetype keep = qMin<qsizetype>(batch.size(), capacity_);
  const qsizetype overflow =
      static_cast<qsizetype>(rows_.size()) + keep - static_cast<qsizetype>(capacity_);
  if (overflow > 0) {
    const int last = static_cast<int>(rows_.size()) - 1;
    beginRemoveRows({}, last - static_cast<int>(overflow) + 1, last);
    rows_.erase(rows_.end() - overflow, rows_.end());
    endRemoveRows();
  }
  beginInsertRows({}, 0, static_cast<int>(keep) - 1);
  for (qsizetype i = batch.size() - keep; i < batch.size(); ++i) {
    rows_.push_front(Row{batch[i], describe(batch[i])});
  }
  endInsertRows();
}

void EventFilterProxy::set_type(const QString& type) {
  type_ = type;
  invalidateFilter();
}

void EventFilterProxy::set_item(const QString& item_id) {
  item_ = item_id.trimmed();
  invalidateFilter();
}

bool EventFilterProxy::filterAcceptsRow(int source_row, const QModelIndex& source_parent) const {
  const auto* model = sourceModel();
  const auto raw = [&](int column) {
    return model->index(source_row, column, source_parent).data(EventLogModel::kRawRole).toString();
  };
  if (!type_.isEmpty() && raw(EventLogModel::type) != type_) return false;
  return item_.isEmpty() || raw(EventLogModel::item).contains(item_, Qt::CaseInsensitive);
}

}  // namespace flashsale::admin
