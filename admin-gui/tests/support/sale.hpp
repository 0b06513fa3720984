// A small, consistent model of a running sale for the tests: items with stock, a FIFO waiting
// line and leases. Each step (place, expire, confirm, restock) changes the state the way the
// service does and returns the /admin/stream events it would send; serve() answers the admin
// REST API from the same state through a FakeAdminServer.
#pragma once

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QMap>
#include <QVector>
#include <deque>

#include "fake_admin_server.hpp"

namespace flashsale::admin::testing {

class Sale {
 public:
  using Events = QVector<QJsonObject>;

  struct Waiter {
    QString order;
    QString user;
    qint64 seq = 0;
    QDateTime since;
  };
  struct Lease {
    QString order;
    QString user;
    QDateTime granted;
    QDateTime expires;
  };
  struct Item {
    QString id;
    QString name;
    int total = 0;
    int available = 0;
    int confirmed = 0;
    bool paused = false;
    int window_s = 600;
    QDateTime opens_at;   // when the item was added, unless scheduled
    QDateTime closes_at;  // invalid: no end
    QJsonValue waitlist_limit;
    qint64 next_seq = 1;
    std::deque<Waiter> line;
    std::deque<Lease> leases;  // by expiry
  };

  Events add_item(const QString& id, int total, int window_s = 600);
  Events place(const QString& item, const QString& user);
  // Ends the soonest lease (or `order`'s) as the service's sweep would: expired, and the head
  // of the line promoted into the unit. (`order` by value: callers pass a lease's own id.)
  Events expire(const QString& item, QString order = {});
  Events confirm(const QString& item, QString order);
  Events restock(const QString& item, int units);
  Events set_paused(const QString& item, bool paused);
  // Sets when the sale opens (invalid: unchanged) and closes (invalid: never), as on the
  // server's clock. Only the closing time is in the event: opens_at is in no event.
  Events schedule(const QString& item, const QDateTime& opens_at, const QDateTime& closes_at);
  // The server's clock is this far ahead of this machine's: event times, lease expiries and
  // opening times are on the server's clock.
  void set_clock_offset_ms(qint64 offset_ms) { clock_offset_ms_ = offset_ms; }
  [[nodiscard]] QDateTime now() const;
  // A line of `count` waiters at once (a busy sale), without events.
  void fill_line(const QString& item, int count);

  [[nodiscard]] const Item& item(const QString& id) const { return items_.find(id).value(); }
  [[nodiscard]] QJsonArray items_json() const;
  [[nodiscard]] QJsonObject item_json(const Item& item) const;
  // Answers GET/POST/PATCH of the admin API from this state; actions also send their events
  // to the stream.
  void serve(FakeAdminServer& server);

  // A well-formed event of `type` with the next event id.
  QJsonObject event(const QString& type, const QString& item, const QString& order = {},
                    const QString& user = {}, const QJsonObject& data = {});
  static QString order_id(qint64 n);
  static QString time(const QDateTime& t) { return t.toUTC().toString(Qt::ISODateWithMs); }

 private:
  Item& at(const QString& id) { return items_.find(id).value(); }
  QJsonObject inventory_event(const Item& item);
  QJsonObject grant(Item& item, const QString& order, const QString& user, bool promoted);
  void promote(Item& item, Events& out);

  QMap<QString, Item> items_;
  qint64 next_order_ = 1;
  qint64 next_event_ = 1;
  qint64 clock_offset_ms_ = 0;
};

}  // namespace flashsale::admin::testing
