// See waitlist_model.hpp.
#include "waitlist_model.hpp"

#include <QBrush>
#include <QColor>

namespace flashsale::admin {

WaitlistModel::WaitlistModel(int limit, QObject* parent) : HeadPageModel(limit, parent) {
  sweep_timer_.setInterval(250);
  connect(&sweep_timer_, &QTimer::timeout, this, &WaitlistModel::sweep);
}

int WaitlistModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

QVariant WaitlistModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const Row& row = rows_[index.row()];
  if (role == Qt::DisplayRole) {
    switch (index.column()) {
      case position:
        if (row.left.isEmpty()) return row.position;
        return row.left == QLatin1String("promoted") ? tr("→ lease") : row.left;
      case order:
        return row.waiter.order_id;
      case user:
        return row.waiter.user_id;
      case since:
        return row.waiter.waiting_since.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz"));
    }
  }
  if (role == Qt::ToolTipRole) {  // the whole id, however narrow the column
    switch (index.column()) {
      case order:
        return row.waiter.order_id;
      case user:
        return row.waiter.user_id;
      case since:
        return row.waiter.waiting_since.toString(Qt::ISODateWithMs);
    }
  }
  if (role == Qt::BackgroundRole && !row.left.isEmpty()) {
    return QBrush(row.left == QLatin1String("promoted") ? QColor(0xc8, 0xf0, 0xc8)
                                                        : QColor(0xe0, 0xe0, 0xe0));
  }
  return {};
}

QVariant WaitlistModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const titles[columns] = {"#", "Order", "User", "Waiting since"};
  return section >= 0 && section < columns ? tr(titles[section]) : QVariant();
}

void WaitlistModel::set_page(const WaitlistPage& page) {
  if (page.item_id != item_id_) return;  // an answer for the item shown before
  beginResetModel();
  rows_.clear();
  for (const Waiter& w : page.waiters) {
    if (!departed_.contains(w.order_id)) rows_.push_back(Row{w});
  }
  waiting_ = page.waiting;
  end_fetch(page.waiters.size());
  reindex();
  if (complete_) {
    // Joined after the page was read: the page ends before them.
    for (const Waiter& w : arrived_) {
      if (!index_.contains(w.order_id) &&
          (rows_.isEmpty() || w.waitlist_seq > rows_.back().waiter.waitlist_seq)) {
        rows_.push_back(Row{w});
        index_.insert(w.order_id, static_cast<int>(rows_.size()) - 1);
      }
    }
  }
  arrived_.clear();
  renumber();
  endResetModel();
}

void WaitlistModel::apply(const QVector<Event>& batch) {
  bool moved = false;
  for (const Event& e : batch) {
    if (e.item_id != item_id_ || item_id_.isEmpty()) continue;
    if (e.type == qt_name(event_type::kInventoryChanged) ||
        e.type == qt_name(event_type::kItemCreated)) {
      waiting_ = e.data.value("waiting").toInt(waiting_);
      continue;
    }
    if (e.type == qt_name(event_type::kOrderWaiting)) {
      const Waiter w{e.order_id, e.user_id, e.data.value("waitlist_seq").toInteger(),
                     e.committed_at};
      if (fetching_) arrived_.push_back(w);
      if (complete_ && !index_.contains(w.order_id)) {
        if (live_ >= limit()) {
          complete_ = false;  // the line outgrew the page: it shows the head from now on
        } else if (rows_.isEmpty() || w.waitlist_seq > rows_.back().waiter.waitlist_seq) {
          append(w);
          moved = true;
        }
      }
      continue;
    }
    const bool promoted =
        e.type == qt_name(event_type::kOrderReserved) && e.data.value("promoted").toBool();
    if (!promoted && e.type != qt_name(event_type::kOrderCancelled) &&
        e.type != qt_name(event_type::kOrderExpired)) {
      continue;
    }
    if (fetching_) departed_.insert(e.order_id);
    const auto it = index_.constFind(e.order_id);
    if (it == index_.constEnd() || !rows_[*it].left.isEmpty()) continue;
    Row& row = rows_[*it];
    if (promoted) {
      row.left = QStringLiteral("promoted");
    } else {
      row.left = e.type == qt_name(event_type::kOrderCancelled) ? QStringLiteral("cancelled")
                                                                : QStringLiteral("expired");
    }
    row.left_at = now_ms();
    emit dataChanged(index(*it, 0), index(*it, columns - 1));
    moved = true;
  }
  if (moved) {
    renumber();
    if (!sweep_timer_.isActive()) sweep_timer_.start();
  }
  check_refill(live_, waiting_ > live_);
}

void WaitlistModel::sweep() {
  const qint64 now = now_ms();
  const auto gone = [&](int row) {
    return !rows_[row].left.isEmpty() && now - rows_[row].left_at >= kLeavingMs;
  };
  bool any_left = false;
  bool removed = false;
  for (int row = 0; row < rows_.size(); ++row) {
    if (gone(row))
      removed = true;
    else if (!rows_[row].left.isEmpty())
      any_left = true;
  }
  if (removed) {
    remove_runs(static_cast<int>(rows_.size()), gone,
                [&](int first, int last) { rows_.remove(first, last - first + 1); });
    reindex();
  }
  if (!any_left) sweep_timer_.stop();
  check_refill(live_, waiting_ > live_);
}

void WaitlistModel::clear_rows() {
  rows_.clear();
  index_.clear();
  arrived_.clear();
  waiting_ = 0;
  live_ = 0;
}

void WaitlistModel::append(const Waiter& waiter) {
  const int row = static_cast<int>(rows_.size());
  beginInsertRows({}, row, row);
  rows_.push_back(Row{waiter});
  index_.insert(waiter.order_id, row);
  endInsertRows();
}

void WaitlistModel::renumber() {
  int next = 1;
  int first_changed = -1;
  int last_changed = -1;
  for (int row = 0; row < rows_.size(); ++row) {
    const int number = rows_[row].left.isEmpty() ? next++ : 0;
    if (rows_[row].position == number) continue;
    rows_[row].position = number;
    if (first_changed < 0) first_changed = row;
    last_changed = row;
  }
  live_ = next - 1;
  if (first_changed >= 0) {
    emit dataChanged(index(first_changed, position), index(last_changed, position));
  }
}

void WaitlistModel::reindex() {
  index_.clear();
  for (int row = 0; row < rows_.size(); ++row) index_.insert(rows_[row].waiter.order_id, row);
}

}  // namespace flashsale::admin
