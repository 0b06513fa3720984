// See lease_model.hpp.
#include "lease_model.hpp"

#include <QBrush>
#include <QColor>
#include <algorithm>

#include "server_clock.hpp"

namespace flashsale::admin {
namespace {

bool expires_before(const Lease& a, const Lease& b) { return a.expires_at < b.expires_at; }

QString clock_time(const QDateTime& t) {
  return t.toLocalTime().toString(QStringLiteral("HH:mm:ss"));
}

}  // namespace

LeaseModel::LeaseModel(int limit, QObject* parent) : HeadPageModel(limit, parent) {
  tick_timer_.setInterval(500);
  connect(&tick_timer_, &QTimer::timeout, this, &LeaseModel::tick);
  tick_timer_.start();
}

int LeaseModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

QString LeaseModel::countdown(qint64 remaining_ms) {
  return remaining_ms <= 0 ? tr("expiring…") : time_left(remaining_ms);
}

QVariant LeaseModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const Lease& lease = rows_[index.row()];
  const qint64 left = lease.expires_at.toMSecsSinceEpoch() - now_ms();
  const qint64 length = qMax<qint64>(1, lease.granted_at.msecsTo(lease.expires_at));
  const auto share = static_cast<double>(left) / static_cast<double>(length);  // of the lease left
  const bool red = !stale_ && share <= kRed;
  const bool amber = !stale_ && share <= kAmber;
  switch (role) {
    case Qt::DisplayRole:
      switch (index.column()) {
        case order:
          return lease.order_id;
        case user:
          return lease.user_id;
        case granted:
          return clock_time(lease.granted_at);
        case expires:
          return clock_time(lease.expires_at);
        case remaining:
          return stale_ ? QStringLiteral("—") : countdown(left);
      }
      return {};
    case Qt::BackgroundRole:
      if (red) return QBrush(QColor(0xf6, 0xc0, 0xbb));
      if (amber) return QBrush(QColor(0xff, 0xe0, 0x99));
      return {};
    case Qt::ForegroundRole:
      if (red && index.column() == remaining) return QBrush(QColor(0xa0, 0x00, 0x00));
      return {};
    case Qt::TextAlignmentRole:
      if (index.column() == remaining)
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
      return {};
    case Qt::ToolTipRole:
      if (index.column() == order) return lease.order_id;  // the whole id, however narrow
      if (index.column() == user) return lease.user_id;
      if (stale_) {
        return tr("Not connected: this lease may have ended. It expires at %1 if it still runs.")
            .arg(lease.expires_at.toString(Qt::ISODateWithMs));
      }
      return lease.expires_at.toString(Qt::ISODateWithMs);
  }
  return {};
}

QVariant LeaseModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const titles[columns] = {"Order", "User", "Left", "Expires", "Granted"};
  return section >= 0 && section < columns ? tr(titles[section]) : QVariant();
}

void LeaseModel::set_page(const QString& item_id, const QVector<Lease>& leases) {
  if (item_id != item_id_) return;  // an answer for the item shown before
  beginResetModel();
  rows_.clear();
  orders_.clear();
  for (const Lease& lease : leases) {
    if (departed_.contains(lease.order_id)) continue;
    rows_.push_back(lease);
    orders_.insert(lease.order_id);
  }
  end_fetch(leases.size());
  if (complete_) {
    for (const Lease& lease : arrived_) {  // granted after the page was read
      if (orders_.contains(lease.order_id)) continue;
      rows_.push_back(lease);
      orders_.insert(lease.order_id);
    }
  }
  std::stable_sort(rows_.begin(), rows_.end(), expires_before);
  arrived_.clear();
  endResetModel();
}

void LeaseModel::apply(const QVector<Event>& batch) {
  QVector<Lease> fresh;
  QHash<QString, int> fresh_index;
  QSet<QString> doomed;
  for (const Event& e : batch) {
    if (e.item_id != item_id_ || item_id_.isEmpty()) continue;
    if (const auto lease = lease_of(e)) {
      if (fetching_) arrived_.push_back(*lease);
      if (!orders_.contains(e.order_id) && !fresh_index.contains(e.order_id)) {
        fresh_index.insert(e.order_id, static_cast<int>(fresh.size()));
        fresh.push_back(*lease);
      }
    } else if (e.type == qt_name(event_type::kOrderConfirmed) ||
               e.type == qt_name(event_type::kOrderCancelled) ||
               e.type == qt_name(event_type::kOrderExpired)) {
      if (fetching_) departed_.insert(e.order_id);
      const auto it = fresh_index.constFind(e.order_id);
      if (it != fresh_index.constEnd()) {
        fresh[*it].order_id.clear();  // granted and gone within one batch
      } else if (orders_.contains(e.order_id)) {
        doomed.insert(e.order_id);
      }
    }
  }
  if (!doomed.isEmpty()) {
    remove_runs(
        static_cast<int>(rows_.size()),
        [&](int row) { return doomed.contains(rows_[row].order_id); },
        [&](int first, int last) {
          for (int row = first; row <= last; ++row) orders_.remove(rows_[row].order_id);
          rows_.remove(first, last - first + 1);
        });
  }
  fresh.removeIf([](const Lease& lease) { return lease.order_id.isEmpty(); });
  insert_sorted(std::move(fresh));
  check_refill(rows_.size(), true);
}

void LeaseModel::insert_sorted(QVector<Lease> leases) {
  std::stable_sort(leases.begin(), leases.end(), expires_before);
  QVector<Lease> tail;
  for (const Lease& lease : leases) {
    const auto at = std::upper_bound(rows_.begin(), rows_.end(), lease, expires_before);
    const int row = static_cast<int>(at - rows_.begin());
    if (row < rows_.size()) {
      beginInsertRows({}, row, row);
      rows_.insert(row, lease);
      orders_.insert(lease.order_id);
      endInsertRows();
    } else if (complete_ && rows_.size() + tail.size() < limit()) {
      tail.push_back(lease);
    } else {
      complete_ = false;  // past the end of the page: the next fetch brings it
    }
  }
  if (tail.isEmpty()) return;
  const int first = static_cast<int>(rows_.size());
  beginInsertRows({}, first, first + static_cast<int>(tail.size()) - 1);
  for (const Lease& lease : tail) orders_.insert(lease.order_id);
  rows_.append(tail);
  endInsertRows();
}

void LeaseModel::tick() {
  if (rows_.isEmpty()) return;
  emit dataChanged(index(0, 0), index(static_cast<int>(rows_.size()) - 1, columns - 1),
                   {Qt::DisplayRole, Qt::BackgroundRole, Qt::ForegroundRole});
}

void LeaseModel::set_stale(bool stale) {
  if (stale == stale_) return;
  stale_ = stale;
  if (stale) {
    tick_timer_.stop();
  } else {
    tick_timer_.start();
  }
  tick();
}

const Lease* LeaseModel::lease_at(int row) const {
  return row >= 0 && row < rows_.size() ? &rows_[row] : nullptr;
}

void LeaseModel::clear_rows() {
  rows_.clear();
  orders_.clear();
  arrived_.clear();
}

}  // namespace flashsale::admin
