// Events per second over the last minutes, per item: joins (orders placed: granted at once or
// queued), reservations (a free unit granted), promotions (a unit granted to the head of the
// line) and expiries, counted by the second they committed; and, for the seconds before the
// dashboard connected, what the server counted (GET /admin/activity).
#pragma once

#include <QHash>
#include <QVector>
#include <map>
#include <optional>

#include "api_types.hpp"

namespace flashsale::admin {

class Throughput {
 public:
  // joins: order.waiting, and order.reserved not promoted
  using Second = ActivitySecond;

  explicit Throughput(int window_s = 300) : window_s_(window_s) {}

  void add(const QVector<Event>& batch);
  // The server's counts for `item_id` (empty: all items) of the seconds before `window.now`,
  // which include the events from before this connection: they stand for those seconds instead
  // of what was counted here, until another backfill or clear_backfill().
  void backfill(const QString& item_id, const ActivityWindow& window);
  // A new connection: the server's counts are to be asked again (events may have been missed).
  void clear_backfill();
  [[nodiscard]] bool has_backfill(const QString& item_id) const;
  // Every second of the window that ends at `end_s`, oldest first, zeros where nothing happened:
  // for `item_id`, or for all items when it is empty.
  [[nodiscard]] QVector<Second> series(qint64 end_s, const QString& item_id = {}) const;
  [[nodiscard]] int window_s() const { return window_s_; }

 private:
  int window_s_;
  qint64 latest_ = 0;
  // By second, then by item: a second leaves the window with all its items at once, so memory
  // is bounded by the window and the items active in it.
  std::map<qint64, QHash<QString, Second>> seconds_;
  // The server's counts of one item (or of all), by second, for the seconds before
  // backfill_before_.
  std::optional<QString> backfill_item_;
  qint64 backfill_before_ = 0;
  QHash<qint64, Second> backfill_;
};

}  // namespace flashsale::admin
