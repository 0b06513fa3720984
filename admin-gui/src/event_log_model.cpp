// See event_log_model.hpp.
#include "event_log_model.hpp"

#include <QColor>

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
  if (e.type.isEmpty()) return note_data(row.details, index.column(), role);
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
  // Only the newest `capacity_` of a huge batch can stay.
  const qsizetype keep = qMin<qsizetype>(batch.size(), capacity_);
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(keep));
  for (qsizetype i = batch.size() - keep; i < batch.size(); ++i) {
    rows.push_back(Row{batch[i], describe(batch[i])});
  }
  insert(std::move(rows));
}

void EventLogModel::append_note(const QString& text) {
  std::vector<Row> rows;
  rows.push_back(Row{Event{}, text});
  insert(std::move(rows));
}

void EventLogModel::insert(std::vector<Row> rows) {
  if (rows.empty()) return;
  const qsizetype overflow = static_cast<qsizetype>(rows_.size() + rows.size()) - capacity_;
  if (overflow > 0) {
    const int last = static_cast<int>(rows_.size()) - 1;
    beginRemoveRows({}, last - static_cast<int>(overflow) + 1, last);
    rows_.erase(rows_.end() - overflow, rows_.end());
    endRemoveRows();
  }
  beginInsertRows({}, 0, static_cast<int>(rows.size()) - 1);
  for (Row& row : rows) rows_.push_front(std::move(row));
  endInsertRows();
}

QVariant EventLogModel::note_data(const QString& text, int column, int role) {
  switch (role) {
    case Qt::DisplayRole:
      return column == type ? QStringLiteral("—") : column == details ? text : QVariant();
    case Qt::ToolTipRole:
      return text;
    case Qt::ForegroundRole:
      return QColor(0xb0, 0x5a, 0x00);  // the status bar's "reconnecting" amber
  }
  return {};  // no raw type or item: filters let it through
}

void EventFilterProxy::set_type(const QString& type) {
  type_ = type;
  invalidateFilter();
}

void EventFilterProxy::set_item(const QString& item_id) {
  item_ = item_id.trimmed();
  invalidateFilter();
}

void EventFilterProxy::set_show_inventory(bool show) {
  show_inventory_ = show;
  invalidateFilter();
}

bool EventFilterProxy::filterAcceptsRow(int source_row, const QModelIndex& source_parent) const {
  const auto* model = sourceModel();
  const auto raw = [&](int column) {
    return model->index(source_row, column, source_parent).data(EventLogModel::kRawRole).toString();
  };
  const QString type = raw(EventLogModel::type);
  if (type.isEmpty()) return true;  // a note about the log itself
  if (!type_.isEmpty() && type != type_) return false;
  if (!show_inventory_ && type_.isEmpty() && type == qt_name(event_type::kInventoryChanged)) {
    return false;
  }
  return item_.isEmpty() || raw(EventLogModel::item).contains(item_, Qt::CaseInsensitive);
}

}  // namespace flashsale::admin
