// Events per second over the last minutes, per item: joins (orders placed: granted at once or
// queued), reservations (a free unit granted), promotions (a unit granted to the head of the
// line) and expiries, counted by the second they committed.
#pragma once

#include <QHash>
#include <QVector>
#include <map>

#include "api_types.hpp"

namespace flashsale::admin {

class Throughput {
 public:
  struct Second {
    qint64 at = 0;  // seconds since 1970
    int joins = 0;  // order.waiting, and order.reserved not promoted
    int reservations = 0;
    int promotions = 0;
    int expiries = 0;
  };

  explicit Throughput(int window_s = 300) : window_s_(window_s) {}

  void add(const QVector<Event>& batch);
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
};

}  // namespace flashsale::admin
