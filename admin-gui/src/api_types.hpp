// What the dashboard reads from the admin API and /admin/stream (docs/api.md), and the parsing
// of it: a bad answer becomes an error message naming the field, never a crash.
#pragma once

#include <QDateTime>
#include <QJsonObject>
#include <QMap>
#include <QString>
#include <QVector>
#include <flashsale/sdk/event_types.hpp>
#include <optional>
#include <string_view>

namespace flashsale::admin {

// The domain event names (the SDK's std::string_view constants), e.g.
// `event.type == qt_name(event_type::kOrderReserved)`.
namespace event_type = sdk::event_type;
constexpr QLatin1String qt_name(std::string_view name) {
  return QLatin1String(name.data(), static_cast<qsizetype>(name.size()));
}

struct Item {
  QString id;
  QString name;
  int total_stock = 0;
  int available = 0;
  int reserved = 0;   // active leases, as the server counts them
  int confirmed = 0;  // consumed leases (paid)
  int waiting = 0;
  bool paused = false;
  QDateTime opens_at;   // invalid when not known (the sale is then taken as open)
  QDateTime closes_at;  // invalid while the sale has no end
};

struct Event {
  QString event_id;
  QString type;
  QString item_id;
  QString order_id;  // empty for item events
  QString user_id;   // empty for item events
  QDateTime committed_at;
  QJsonObject data;
};

struct Waiter {
  QString order_id;
  QString user_id;
  qint64 waitlist_seq = 0;
  QDateTime waiting_since;
  int position = 0;  // 1 = next in line
};

struct WaitlistPage {
  QString item_id;
  int waiting = 0;  // the whole line
  QVector<Waiter> waiters;
  int offset = 0;  // the page holds positions offset + 1 on
};

// One entry of an order's history (GET /admin/orders/{id}), oldest first.
struct OrderEntry {
  QDateTime at;
  QString what;    // "placed", "promoted", "payment_succeeded", "confirmed", ...
  QString detail;  // the entry's other fields in words, e.g. "status reserved"
};

// An order of any user (GET /admin/orders/{id}; a user's list leaves out user and history).
struct Order {
  QString id;
  QString item_id;
  QString user_id;
  QString status;             // waiting, reserved, confirmed, cancelled or expired
  int waitlist_position = 0;  // only while waiting; 1 = next
  QDateTime expires_at;       // the lease's, while reserved
  QString payment_link;
  QString reason;
  QDateTime created_at;
  QDateTime updated_at;
  QVector<OrderEntry> history;

  // Only a live order can be cancelled, only a reserved one expired (else HTTP 409).
  [[nodiscard]] bool can_cancel() const {
    return status == QLatin1String("waiting") || status == QLatin1String("reserved");
  }
  [[nodiscard]] bool can_expire() const { return status == QLatin1String("reserved"); }
};

struct Lease {
  QString reservation_id;
  QString order_id;
  QString user_id;
  QDateTime granted_at;
  QDateTime expires_at;
};

struct PluginInfo {
  QString name;
  QString kind;
  QString version;
  QString file;
  bool required = false;
  bool healthy = false;
  QString detail;
};

// A job of the service's scheduler (GET /admin/jobs).
struct Job {
  QString id;
  QString kind;     // e.g. "make_payment_link", "expire_leases", "refund", "close_sale"
  QString state;    // "queued", "running", "done" or "dead"
  QString payload;  // compact JSON
  int attempts = 0;
  QDateTime run_at;
  QString last_error;  // empty when there was none
  QDateTime updated_at;
};

// One second of an item's answered placements on the replica asked
// (GET /admin/items/{item}/placements).
struct PlacementSecond {
  qint64 at = 0;                // seconds since 1970
  QMap<QString, int> outcomes;  // "accepted" or an error code: how many
  double p99_ms = 0;            // from placement to answer
};

// One second of the events counted by the server (GET /admin/activity): orders that joined
// (granted at once or queued), reservations (a free unit granted), promotions (a unit granted to
// the head of the line) and expiries.
struct ActivitySecond {
  qint64 at = 0;  // seconds since 1970
  int joins = 0;
  int reservations = 0;
  int promotions = 0;
  int expiries = 0;
};
// GET /admin/activity's answer: the seconds before `now` are complete.
struct ActivityWindow {
  qint64 now = 0;  // the server's second when it answered
  QVector<ActivitySecond> seconds;
};

// The parsers return nullopt and set *error to a sentence naming what is wrong.
std::optional<Item> parse_item(const QJsonValue& value, QString* error);
std::optional<QVector<Item>> parse_items(const QJsonObject& body, QString* error);
std::optional<Event> parse_event(const QJsonObject& frame, QString* error);
std::optional<WaitlistPage> parse_waitlist(const QJsonObject& body, QString* error);
std::optional<Order> parse_order(const QJsonObject& body, QString* error);
std::optional<QVector<Order>> parse_orders(const QJsonObject& body, QString* error);
std::optional<QVector<Lease>> parse_leases(const QJsonObject& body, QString* error);
std::optional<QVector<PluginInfo>> parse_plugins(const QJsonObject& body, QString* error);
std::optional<QVector<Job>> parse_jobs(const QJsonObject& body, QString* error);
std::optional<QVector<PlacementSecond>> parse_placements(const QJsonObject& body, QString* error);
std::optional<ActivityWindow> parse_activity(const QJsonObject& body, QString* error);

// RFC 3339 ("2026-11-24T10:00:00.000Z"); invalid QDateTime when it is not one.
QDateTime parse_time(const QString& text);
// `t` as the API writes times: RFC 3339 UTC with milliseconds.
QString rfc3339(const QDateTime& t);

// The lease carried by an order.reserved event, when it has one.
std::optional<Lease> lease_of(const Event& event);

// One line for the activity log, e.g. "available 0, waiting 1,204, total 20".
QString describe(const Event& event);

}  // namespace flashsale::admin
