// See api_types.hpp.
#include "api_types.hpp"

#include <QJsonArray>
#include <QJsonDocument>
#include <QLocale>
#include <algorithm>
#include <climits>

namespace flashsale::admin {
namespace {

// Reads typed fields of one JSON object; the first problem is kept as a sentence.
class Fields {
 public:
  Fields(const QJsonObject& object, QString what) : object_(object), what_(std::move(what)) {}

  QString text(const char* key, bool required = true) {
    const QJsonValue v = object_.value(QLatin1String(key));
    if (v.isString()) return v.toString();
    if (required || !(v.isUndefined() || v.isNull())) fail(key, "a string");
    return {};
  }
  qint64 integer(const char* key) {
    const QJsonValue v = object_.value(QLatin1String(key));
    const double d = v.toDouble();
    if (!v.isDouble() || d != static_cast<double>(static_cast<qint64>(d))) {
      fail(key, "a whole number");
      return 0;
    }
    return static_cast<qint64>(d);
  }
  bool boolean(const char* key) {
    const QJsonValue v = object_.value(QLatin1String(key));
    if (!v.isBool()) fail(key, "true or false");
    return v.toBool();
  }
  // An RFC 3339 time; a missing or null one is an invalid QDateTime unless required.
  QDateTime time(const char* key, bool required = true) {
    const QString s = text(key, required);
    if (s.isEmpty() && !required) return {};
    QDateTime t = parse_time(s);
    if (!t.isValid()) fail(key, "an RFC 3339 time");
    return t;
  }
  double number(const char* key) {
    const QJsonValue v = object_.value(QLatin1String(key));
    if (!v.isDouble()) fail(key, "a number");
    return v.toDouble();
  }
  // {"name": whole number, ...}
  QMap<QString, int> counts(const char* key) {
    const QJsonValue v = object_.value(QLatin1String(key));
    QMap<QString, int> out;
    const QJsonObject o = v.toObject();
    for (auto it = o.begin(); it != o.end(); ++it) {
      const double d = it.value().toDouble(-1);
      if (d < 0 || d != static_cast<double>(static_cast<qint64>(d))) break;
      out.insert(it.key(), static_cast<int>(std::min<double>(d, INT_MAX)));
    }
    if (!v.isObject() || out.size() != o.size()) fail(key, "an object of whole numbers");
    return out;
  }
  QJsonArray array(const char* key) {
    const QJsonValue v = object_.value(QLatin1String(key));
    if (!v.isArray()) fail(key, "a list");
    return v.toArray();
  }

  bool ok(QString* error) const {
    if (!error_.isEmpty() && error) *error = error_;
    return error_.isEmpty();
  }

 private:
  void fail(const char* key, const char* expected) {
    if (error_.isEmpty()) {
      error_ = QStringLiteral("%1: field '%2' is missing or not %3")
                   .arg(what_, QLatin1String(key), QLatin1String(expected));
    }
  }

  QJsonObject object_;  // a copy (implicitly shared): callers pass temporaries
  QString what_;
  QString error_;
};

// Any JSON value as compact JSON text.
QString json_text(const QJsonValue& value) {
  if (value.isObject()) {
    return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact));
  }
  if (value.isArray()) {
    return QString::fromUtf8(QJsonDocument(value.toArray()).toJson(QJsonDocument::Compact));
  }
  return value.toVariant().toString();
}

int as_int(qint64 v) { return static_cast<int>(std::clamp<qint64>(v, 0, INT_MAX)); }

// Parses every element of a list with `parse`; the first failure names the element.
template <typename T, typename Parse>
std::optional<QVector<T>> parse_list(const QJsonArray& list, const QString& what, Parse parse,
                                     QString* error) {
  QVector<T> out;
  out.reserve(list.size());
  for (qsizetype i = 0; i < list.size(); ++i) {
    if (!list[i].isObject()) {
      if (error) *error = QStringLiteral("%1 %2 is not an object").arg(what).arg(i + 1);
      return std::nullopt;
    }
    Fields f(list[i].toObject(), QStringLiteral("%1 %2").arg(what).arg(i + 1));
    T value = parse(f);
    if (!f.ok(error)) return std::nullopt;
    out.push_back(std::move(value));
  }
  return out;
}

}  // namespace

QDateTime parse_time(const QString& text) {
  QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
  return t.isValid() ? t.toUTC() : QDateTime();
}

QString rfc3339(const QDateTime& t) { return t.toUTC().toString(Qt::ISODateWithMs); }

std::optional<Item> parse_item(const QJsonValue& value, QString* error) {
  if (!value.isObject()) {
    if (error) *error = QStringLiteral("an item is not a JSON object");
    return std::nullopt;
  }
  const QJsonObject object = value.toObject();
  Fields f(object, QStringLiteral("item '%1'").arg(object.value("id").toString()));
  Item item;
  item.id = f.text("id");
  item.name = f.text("name");
  item.total_stock = as_int(f.integer("total_stock"));
  item.available = as_int(f.integer("available"));
  item.reserved = as_int(f.integer("reserved"));
  item.confirmed = as_int(f.integer("confirmed"));
  item.waiting = as_int(f.integer("waiting"));
  item.paused = f.boolean("paused");
  item.opens_at = f.time("opens_at", false);
  item.closes_at = f.time("closes_at", false);
  if (!f.ok(error)) return std::nullopt;
  return item;
}

std::optional<QVector<Item>> parse_items(const QJsonObject& body, QString* error) {
  Fields f(body, QStringLiteral("item list"));
  const QJsonArray list = f.array("items");
  if (!f.ok(error)) return std::nullopt;
  QVector<Item> items;
  for (const auto& v : list) {
    auto item = parse_item(v, error);
    if (!item) return std::nullopt;
    items.push_back(std::move(*item));
  }
  return items;
}

std::optional<Event> parse_event(const QJsonObject& frame, QString* error) {
  Fields f(frame, QStringLiteral("event"));
  Event e;
  e.event_id = f.text("event_id");
  e.type = f.text("type");
  e.item_id = f.text("item_id");
  e.order_id = f.text("order_id", false);
  e.user_id = f.text("user_id", false);
  e.committed_at = f.time("committed_at");
  if (!f.ok(error)) return std::nullopt;
  e.data = frame.value("data").toObject();
  return e;
}

std::optional<WaitlistPage> parse_waitlist(const QJsonObject& body, QString* error) {
  Fields f(body, QStringLiteral("waiting line"));
  WaitlistPage page;
  page.item_id = f.text("item_id");
  page.waiting = as_int(f.integer("waiting"));
  page.offset = as_int(body.value("offset").toInteger());  // absent from older services: 0
  const QJsonArray list = f.array("waitlist");
  if (!f.ok(error)) return std::nullopt;
  auto waiters = parse_list<Waiter>(
      list, QStringLiteral("waiter"),
      [](Fields& w) {
        return Waiter{w.text("order_id"), w.text("user_id"), w.integer("waitlist_seq"),
                      w.time("waiting_since")};
      },
      error);
  if (!waiters) return std::nullopt;
  for (qsizetype i = 0; i < waiters->size(); ++i) {  // absent from older services: counted
    const QJsonValue position = list[i].toObject().value("position");
    (*waiters)[i].position =
        position.isDouble() ? as_int(position.toInteger()) : page.offset + static_cast<int>(i) + 1;
  }
  page.waiters = std::move(*waiters);
  return page;
}

namespace {

// The fields of an order (both answers); `f` reads `object`.
Order read_order(Fields& f, const QJsonObject& object) {
  Order order;
  order.id = f.text("id");
  order.item_id = f.text("item_id");
  order.status = f.text("status");
  order.user_id = f.text("user_id", false);
  if (object.contains("waitlist_position")) {
    order.waitlist_position = as_int(f.integer("waitlist_position"));
  }
  order.expires_at =
      parse_time(object.value("reservation").toObject().value("expires_at").toString());
  order.payment_link = f.text("payment_link", false);
  order.reason = f.text("reason", false);
  order.created_at = f.time("created_at");
  order.updated_at = f.time("updated_at");
  return order;
}

// An entry's fields other than "at" and "what", e.g. "status reserved, reason …".
QString entry_detail(const QJsonObject& entry) {
  QStringList parts;
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    if (it.key() == QLatin1String("at") || it.key() == QLatin1String("what")) continue;
    parts << it.key() + ' ' + json_text(it.value());
  }
  return parts.join(QStringLiteral(", "));
}

}  // namespace

std::optional<Order> parse_order(const QJsonObject& body, QString* error) {
  Fields f(body, QStringLiteral("order"));
  Order order = read_order(f, body);
  const QJsonArray history = body.contains("history") ? f.array("history") : QJsonArray();
  if (!f.ok(error)) return std::nullopt;
  auto entries = parse_list<OrderEntry>(
      history, QStringLiteral("history entry"),
      [](Fields& e) {
        return OrderEntry{e.time("at"), e.text("what"), {}};
      },
      error);
  if (!entries) return std::nullopt;
  for (qsizetype i = 0; i < entries->size(); ++i) {
    (*entries)[i].detail = entry_detail(history[i].toObject());
  }
  order.history = std::move(*entries);
  return order;
}

std::optional<QVector<Order>> parse_orders(const QJsonObject& body, QString* error) {
  Fields f(body, QStringLiteral("order list"));
  const QJsonArray list = f.array("orders");
  if (!f.ok(error)) return std::nullopt;
  QVector<Order> orders;
  for (qsizetype i = 0; i < list.size(); ++i) {
    const QJsonObject object = list[i].toObject();
    Fields o(object, QStringLiteral("order %1").arg(i + 1));
    Order order = read_order(o, object);
    if (!o.ok(error)) return std::nullopt;
    orders.push_back(std::move(order));
  }
  return orders;
}

std::optional<QVector<Lease>> parse_leases(const QJsonObject& body, QString* error) {
  Fields f(body, QStringLiteral("lease list"));
  const QJsonArray list = f.array("leases");
  if (!f.ok(error)) return std::nullopt;
  return parse_list<Lease>(
      list, QStringLiteral("lease"),
      [](Fields& l) {
        return Lease{l.text("reservation_id"), l.text("order_id"), l.text("user_id"),
                     l.time("granted_at"), l.time("expires_at")};
      },
      error);
}

std::optional<QVector<PluginInfo>> parse_plugins(const QJsonObject& body, QString* error) {
  Fields f(body, QStringLiteral("plugin list"));
  const QJsonArray list = f.array("plugins");
  if (!f.ok(error)) return std::nullopt;
  QVector<PluginInfo> plugins;
  for (qsizetype i = 0; i < list.size(); ++i) {
    const QJsonObject object = list[i].toObject();
    Fields p(object, QStringLiteral("plugin %1").arg(i + 1));
    PluginInfo info;
    info.name = p.text("name");
    info.kind = p.text("kind");
    info.version = p.text("version");
    info.file = p.text("file", false);
    info.required = object.value("required").toBool();
    const QJsonObject health = object.value("health").toObject();
    Fields h(health, QStringLiteral("plugin %1 health").arg(i + 1));
    info.healthy = h.boolean("ok");
    info.detail = h.text("detail", false);
    if (!p.ok(error) || !h.ok(error)) return std::nullopt;
    plugins.push_back(std::move(info));
  }
  return plugins;
}

std::optional<QVector<Job>> parse_jobs(const QJsonObject& body, QString* error) {
  Fields f(body, QStringLiteral("job list"));
  const QJsonArray list = f.array("jobs");
  if (!f.ok(error)) return std::nullopt;
  auto jobs = parse_list<Job>(
      list, QStringLiteral("job"),
      [](Fields& j) {
        Job job;
        job.id = j.text("id");
        job.kind = j.text("kind");
        job.state = j.text("state");
        job.attempts = as_int(j.integer("attempts"));
        job.run_at = j.time("run_at");
        job.last_error = j.text("last_error", false);
        job.updated_at = j.time("updated_at");
        return job;
      },
      error);
  if (!jobs) return std::nullopt;
  for (qsizetype i = 0; i < jobs->size(); ++i) {  // any JSON; shown as it is
    (*jobs)[i].payload = json_text(list[i].toObject().value("payload"));
  }
  return jobs;
}

std::optional<QVector<PlacementSecond>> parse_placements(const QJsonObject& body, QString* error) {
  Fields f(body, QStringLiteral("placement list"));
  const QJsonArray list = f.array("seconds");
  if (!f.ok(error)) return std::nullopt;
  return parse_list<PlacementSecond>(
      list, QStringLiteral("second"),
      [](Fields& s) {
        PlacementSecond second;
        second.at = s.integer("at");
        second.outcomes = s.counts("outcomes");
        second.p99_ms = s.number("p99_ms");
        return second;
      },
      error);
}

std::optional<ActivityWindow> parse_activity(const QJsonObject& body, QString* error) {
  Fields f(body, QStringLiteral("activity"));
  ActivityWindow window;
  window.now = f.integer("now");
  const QJsonArray list = f.array("seconds");
  if (!f.ok(error)) return std::nullopt;
  auto seconds = parse_list<ActivitySecond>(
      list, QStringLiteral("second"),
      [](Fields& s) {
        ActivitySecond second;
        second.at = s.integer("at");
        second.joins = as_int(s.integer("joins"));
        second.reservations = as_int(s.integer("reservations"));
        second.promotions = as_int(s.integer("promotions"));
        second.expiries = as_int(s.integer("expiries"));
        return second;
      },
      error);
  if (!seconds) return std::nullopt;
  window.seconds = std::move(*seconds);
  return window;
}

std::optional<Lease> lease_of(const Event& event) {
  const QJsonObject reservation = event.data.value("reservation").toObject();
  const QDateTime expires = parse_time(reservation.value("expires_at").toString());
  if (event.type != qt_name(event_type::kOrderReserved) || !expires.isValid()) return std::nullopt;
  return Lease{reservation.value("id").toString(), event.order_id, event.user_id,
               event.committed_at, expires};
}

QString describe(const Event& e) {
  const QLocale locale;
  const auto number = [&](const char* key) {
    return locale.toString(e.data.value(QLatin1String(key)).toInteger());
  };
  if (e.type == qt_name(event_type::kInventoryChanged) ||
      e.type == qt_name(event_type::kItemCreated)) {
    QString s = QStringLiteral("available %1, waiting %2, total %3")
                    .arg(number("available"), number("waiting"), number("total_stock"));
    if (e.data.value("paused").toBool()) s += QStringLiteral(", paused");
    return s;
  }
  if (e.type == qt_name(event_type::kOrderWaiting)) {
    return QStringLiteral("joined the line (seq %1)").arg(number("waitlist_seq"));
  }
  if (e.type == qt_name(event_type::kOrderReserved)) {
    QString from = e.data.value("promoted").toBool() ? QStringLiteral("promoted from the line")
                                                     : QStringLiteral("unit free");
    const auto lease = lease_of(e);
    if (!lease) return from;
    return QStringLiteral("%1, lease until %2")
        .arg(from, lease->expires_at.toLocalTime().toString(QStringLiteral("HH:mm:ss")));
  }
  if (e.type == qt_name(event_type::kPaymentLinkReady))
    return e.data.value("payment_link").toString();
  return e.data.value("reason").toString();
}

}  // namespace flashsale::admin
