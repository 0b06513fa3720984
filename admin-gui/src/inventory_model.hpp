// Every item with its counts, kept live from the stream: a snapshot replaces the list, events
// update it in place (one dataChanged per changed row and batch). The state (scheduled, on sale,
// sold out, paused, closed) depends on the time too: tick() re-evaluates it on the server's
// clock. ItemFilterProxy sorts the list and filters it by id or name.
#pragma once

#include <QAbstractTableModel>
#include <QHash>
#include <QSortFilterProxyModel>
#include <functional>

#include "api_types.hpp"

namespace flashsale::admin {

class InventoryModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { id, name, total, available, reserved, confirmed, waiting, sold, state, columns };
  // Numbers (not text) for sorting.
  static constexpr int kSortRole = Qt::UserRole;

  using Clock = std::function<qint64()>;  // the server's time, milliseconds since 1970

  explicit InventoryModel(QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  void set_items(const QVector<Item>& items);
  void apply(const QVector<Event>& batch);
  // The opening time of an item that arrived by an event without one.
  void set_opens_at(const QString& id, const QDateTime& opens_at);

  void set_clock(Clock clock) { clock_ = std::move(clock); }
  // Tells the views about states the time changed since the last tick: countdowns to opening,
  // sales that opened or closed. A timer calls it once a second.
  void tick();
  // Every row's state may have changed (the clock was corrected).
  void retime();
  // The first opening or closing time after `now_ms`, 0 when there is none: the moment a tick
  // changes a state, not just a countdown.
  [[nodiscard]] qint64 next_change_after(qint64 now_ms) const;
  // "scheduled (opens in 2:14)", "closed", "paused", "sold out" or "on sale" at `now_ms`.
  [[nodiscard]] static QString state_at(const Item& item, qint64 now_ms);

  [[nodiscard]] const Item* item(const QString& id) const;
  [[nodiscard]] QString id_at(int row) const;

 private:
  void reindex();

  QVector<Item> items_;
  QHash<QString, int> rows_;  // item id -> row
  Clock clock_;
  qint64 last_tick_ms_ = 0;
};

class ItemFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT

 public:
  explicit ItemFilterProxy(QObject* parent = nullptr);

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;
};

}  // namespace flashsale::admin
