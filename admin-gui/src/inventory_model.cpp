// See inventory_model.hpp.
#include "inventory_model.hpp"

#include <QBrush>
#include <QColor>
#include <QSet>

#include "server_clock.hpp"

namespace flashsale::admin {
namespace {

double sold_through(const Item& item) {
  return item.total_stock > 0 ? 100.0 * item.confirmed / item.total_stock : 0.0;
}

qint64 ms(const QDateTime& t) { return t.toMSecsSinceEpoch(); }

}  // namespace

InventoryModel::InventoryModel(QObject* parent)
    : QAbstractTableModel(parent), clock_([] { return QDateTime::currentMSecsSinceEpoch(); }) {}

QString InventoryModel::state_at(const Item& item, qint64 now_ms) {
  // A closed sale stays closed, paused or not; a paused one opens only when resumed.
  if (item.closes_at.isValid() && ms(item.closes_at) <= now_ms) return tr("closed");
  if (item.paused) return tr("paused");
  if (item.opens_at.isValid() && ms(item.opens_at) > now_ms) {
    return tr("scheduled (opens in %1)").arg(time_left(ms(item.opens_at) - now_ms));
  }
  if (item.available == 0) return tr("sold out");
  return tr("on sale");
}

int InventoryModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(items_.size());
}

int InventoryModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : columns;
}

QVariant InventoryModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const Item& item = items_[index.row()];
  const int column = index.column();
  if (role == Qt::DisplayRole || role == kSortRole) {
    switch (column) {
      case id:
        return item.id;
      case name:
        return item.name;
      case total:
        return item.total_stock;
      case available:
        return item.available;
      case reserved:
        return item.reserved;
      case confirmed:
        return item.confirmed;
      case waiting:
        return item.waiting;
      case sold:
        if (role == kSortRole) return sold_through(item);
        return QStringLiteral("%1 %").arg(sold_through(item), 0, 'f', 1);
      case state:
        return state_at(item, clock_());
    }
  }
  if (role == Qt::TextAlignmentRole && column >= total && column <= sold) {
    return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  }
  if (role == Qt::ForegroundRole && column == state) {
    const qint64 now = clock_();
    if (item.closes_at.isValid() && ms(item.closes_at) <= now)
      return QBrush(QColor(0x80, 0x80, 0x80));
    if (item.paused) return QBrush(QColor(0xb0, 0x60, 0x00));
    if (item.opens_at.isValid() && ms(item.opens_at) > now) return QBrush(QColor(0x1f, 0x5f, 0xb4));
  }
  if (role == Qt::ToolTipRole && column == state) {
    QStringList times;
    if (item.opens_at.isValid())
      times << tr("opens %1").arg(item.opens_at.toLocalTime().toString());
    if (item.closes_at.isValid())
      times << tr("closes %1").arg(item.closes_at.toLocalTime().toString());
    return times.join(QStringLiteral("; "));
  }
  return {};
}

QVariant InventoryModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const titles[columns] = {
      "Item", "Name", "Total", "Available", "Reserved", "Confirmed", "Waiting", "Sold %", "State"};
  return section >= 0 && section < columns ? tr(titles[section]) : QVariant();
}

void InventoryModel::set_items(const QVector<Item>& items) {
  QHash<QString, const Item*> fresh;
  for (const Item& item : items) fresh.insert(item.id, &item);
  // Rows that went away (rare: items are never deleted, but a new server may differ).
  for (int row = static_cast<int>(items_.size()) - 1; row >= 0; --row) {
    if (fresh.contains(items_[row].id)) continue;
    beginRemoveRows({}, row, row);
    items_.remove(row);
    endRemoveRows();
  }
  reindex();
  // In place, so selection and scroll position survive a reconnect.
  for (int row = 0; row < items_.size(); ++row) {
    items_[row] = *fresh.value(items_[row].id);
    emit dataChanged(index(row, 0), index(row, columns - 1));
  }
  for (const Item& item : items) {
    if (rows_.contains(item.id)) continue;
    const int row = static_cast<int>(items_.size());
    beginInsertRows({}, row, row);
    items_.push_back(item);
    rows_.insert(item.id, row);
    endInsertRows();
  }
}

void InventoryModel::apply(const QVector<Event>& batch) {
  QVector<Item> created;
  QSet<int> changed;
  for (const Event& e : batch) {
    const int row = rows_.value(e.item_id, -1);
    Item* item = row >= 0 ? &items_[row] : nullptr;
    if (!item) {
      auto it = std::find_if(created.begin(), created.end(),
                             [&](const Item& i) { return i.id == e.item_id; });
      if (it != created.end()) {
        item = &*it;
      } else if (e.type == qt_name(event_type::kItemCreated)) {
        item = &created.emplace_back();
        item->id = e.item_id;
        item->name = e.data.value("name").toString();
      } else {
        continue;
      }
    }
    if (e.type == qt_name(event_type::kInventoryChanged) ||
        e.type == qt_name(event_type::kItemCreated)) {
      // Absolute values: applying an event twice changes nothing.
      item->total_stock = e.data.value("total_stock").toInt(item->total_stock);
      item->available = e.data.value("available").toInt(item->available);
      item->waiting = e.data.value("waiting").toInt(item->waiting);
      item->reserved = e.data.value("reserved").toInt(item->reserved);
      item->confirmed = e.data.value("confirmed").toInt(item->confirmed);
      item->paused = e.data.value("paused").toBool(item->paused);
      if (e.data.contains("opens_at")) {
        item->opens_at = parse_time(e.data.value("opens_at").toString());
      }
      if (e.data.contains("closes_at")) {
        item->closes_at = parse_time(e.data.value("closes_at").toString());
      }
    } else {
      continue;
    }
    if (row >= 0) changed.insert(row);
  }
  for (int row : changed) emit dataChanged(index(row, 0), index(row, columns - 1));
  if (created.isEmpty()) return;
  const int first = static_cast<int>(items_.size());
  beginInsertRows({}, first, first + static_cast<int>(created.size()) - 1);
  for (const Item& item : created) {
    rows_.insert(item.id, static_cast<int>(items_.size()));
    items_.push_back(item);
  }
  endInsertRows();
}

void InventoryModel::set_opens_at(const QString& id, const QDateTime& opens_at) {
  const int row = rows_.value(id, -1);
  if (row < 0 || items_[row].opens_at == opens_at) return;
  items_[row].opens_at = opens_at;
  emit dataChanged(index(row, state), index(row, state));
}

void InventoryModel::tick() {
  const qint64 now = clock_();
  // Rows whose state text may differ from the last tick's: still counting down to the opening
  // (or opened since), or closed since.
  int first = -1;
  int last = -1;
  for (int row = 0; row < items_.size(); ++row) {
    const Item& item = items_[row];
    const bool opening = item.opens_at.isValid() && ms(item.opens_at) > last_tick_ms_;
    const bool closing =
        item.closes_at.isValid() && ms(item.closes_at) > last_tick_ms_ && ms(item.closes_at) <= now;
    if (!opening && !closing) continue;
    if (first < 0) first = row;
    last = row;
  }
  last_tick_ms_ = now;
  if (first >= 0) emit dataChanged(index(first, state), index(last, state));
}

qint64 InventoryModel::next_change_after(qint64 now_ms) const {
  qint64 next = 0;
  for (const Item& item : items_) {
    for (const QDateTime& t : {item.opens_at, item.closes_at}) {
      if (t.isValid() && ms(t) > now_ms && (next == 0 || ms(t) < next)) next = ms(t);
    }
  }
  return next;
}

void InventoryModel::retime() {
  last_tick_ms_ = 0;
  if (!items_.isEmpty()) {
    emit dataChanged(index(0, state), index(static_cast<int>(items_.size()) - 1, state));
  }
}

const Item* InventoryModel::item(const QString& id) const {
  const auto row = rows_.constFind(id);
  return row == rows_.constEnd() ? nullptr : &items_[*row];
}

QString InventoryModel::id_at(int row) const {
  return row >= 0 && row < items_.size() ? items_[row].id : QString();
}

void InventoryModel::reindex() {
  rows_.clear();
  for (int row = 0; row < items_.size(); ++row) rows_.insert(items_[row].id, row);
}

ItemFilterProxy::ItemFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(InventoryModel::kSortRole);
  setFilterCaseSensitivity(Qt::CaseInsensitive);
}

bool ItemFilterProxy::filterAcceptsRow(int source_row, const QModelIndex& source_parent) const {
  const QRegularExpression& pattern = filterRegularExpression();
  const auto* model = sourceModel();
  for (int column : {InventoryModel::id, InventoryModel::name}) {
    const QString text = model->index(source_row, column, source_parent).data().toString();
    if (text.contains(pattern)) return true;
  }
  return false;
}

}  // namespace flashsale::admin
