// See sale.hpp.
#include "sale.hpp"

#include <QJsonDocument>
#include <QUrlQuery>

namespace flashsale::admin::testing {
namespace {

FakeAdminServer::Response json(int status, const QJsonObject& body) {
  return {status, QJsonDocument(body).toJson(QJsonDocument::Compact)};
}

FakeAdminServer::Response error(int status, const char* code, const QString& message) {
  return json(status, {{"error", code}, {"message", message}});
}

QJsonValue closes_at_json(const Sale::Item& item) {
  return item.closes_at.isValid() ? QJsonValue(Sale::time(item.closes_at))
                                  : QJsonValue(QJsonValue::Null);
}

// An item's counts as item.created and inventory.changed carry them.
QJsonObject counts_json(const Sale::Item& item) {
  return {{"total_stock", item.total},
          {"available", item.available},
          {"reserved", static_cast<int>(item.leases.size())},
          {"confirmed", item.confirmed},
          {"waiting", static_cast<int>(item.line.size())},
          {"paused", item.paused},
          {"closes_at", closes_at_json(item)}};
}

// An RFC 3339 time, or an invalid QDateTime for null or anything else.
QDateTime parse_time(const QJsonValue& value) {
  return QDateTime::fromString(value.toString(), Qt::ISODateWithMs).toUTC();
}

}  // namespace

QString Sale::order_id(qint64 n) {
  return QStringLiteral("00000000-0000-4000-8000-%1").arg(n, 12, 10, QLatin1Char('0'));
}

QJsonObject Sale::event(const QString& type, const QString& item, const QString& order,
                        const QString& user, const QJsonObject& data) {
  const qint64 n = next_event_++;
  QJsonObject e{{"event_id", QStringLiteral("0/%1/0").arg(n, 0, 16)},
                {"type", type},
                {"lsn", QStringLiteral("0/%1").arg(n, 0, 16)},
                {"committed_at", time(now())},
                {"item_id", item},
                {"data", data}};
  if (!order.isEmpty()) e.insert("order_id", order);
  if (!user.isEmpty()) e.insert("user_id", user);
  return e;
}

QJsonObject Sale::inventory_event(const Item& item) {
  return event("inventory.changed", item.id, {}, {}, counts_json(item));
}

QJsonObject Sale::grant(Item& item, const QString& order, const QString& user, bool promoted) {
  const QDateTime granted = now();
  item.leases.push_back(Lease{order, user, granted, granted.addSecs(item.window_s)});
  return event(
      "order.reserved", item.id, order, user,
      {{"promoted", promoted},
       {"reservation",
        QJsonObject{{"id", "r-" + order}, {"expires_at", time(granted.addSecs(item.window_s))}}}});
}

void Sale::promote(Item& item, Events& out) {
  while (item.available > 0 && !item.line.empty()) {
    const Waiter head = item.line.front();
    item.line.pop_front();
    --item.available;
    out.push_back(grant(item, head.order, head.user, true));
  }
}

Sale::Events Sale::add_item(const QString& id, int total, int window_s) {
  Item item;
  item.id = id;
  item.name = QStringLiteral("Item %1").arg(id);
  item.total = total;
  item.available = total;
  item.window_s = window_s;
  item.opens_at = now();
  items_.insert(id, item);
  QJsonObject data = counts_json(item);
  data.insert("name", item.name);
  return {event("item.created", id, {}, {}, data)};
}

Sale::Events Sale::place(const QString& id, const QString& user) {
  Item& item = at(id);
  const QString order = order_id(next_order_++);
  Events out;
  if (item.available > 0) {
    --item.available;
    out.push_back(grant(item, order, user, false));
  } else {
    const qint64 seq = item.next_seq++;
    item.line.push_back(Waiter{order, user, seq, now()});
    out.push_back(event("order.waiting", id, order, user, {{"waitlist_seq", seq}}));
  }
  out.push_back(inventory_event(item));
  return out;
}

Sale::Events Sale::expire(const QString& id, QString order) {
  Item& item = at(id);
  auto lease = order.isEmpty() ? item.leases.begin()
                               : std::find_if(item.leases.begin(), item.leases.end(),
                                              [&](const Lease& l) { return l.order == order; });
  if (lease == item.leases.end()) return {};
  Events out{event("order.expired", id, lease->order, lease->user,
                   {{"reason", order.isEmpty() ? "payment_window_over" : "expired_by_operator"}})};
  item.leases.erase(lease);
  ++item.available;
  promote(item, out);
  out.push_back(inventory_event(item));
  return out;
}

Sale::Events Sale::confirm(const QString& id, QString order) {
  Item& item = at(id);
  const auto lease = std::find_if(item.leases.begin(), item.leases.end(),
                                  [&](const Lease& l) { return l.order == order; });
  if (lease == item.leases.end()) return {};
  const QString user = lease->user;
  item.leases.erase(lease);
  ++item.confirmed;
  return {event("order.confirmed", id, order, user), inventory_event(item)};
}

Sale::Events Sale::restock(const QString& id, int units) {
  Item& item = at(id);
  item.total += units;
  item.available += units;
  Events out;
  promote(item, out);
  out.push_back(inventory_event(item));
  return out;
}

Sale::Events Sale::schedule(const QString& id, const QDateTime& opens_at,
                            const QDateTime& closes_at) {
  Item& item = at(id);
  if (opens_at.isValid()) item.opens_at = opens_at;
  item.closes_at = closes_at;
  return {inventory_event(item)};
}

QDateTime Sale::now() const { return QDateTime::currentDateTimeUtc().addMSecs(clock_offset_ms_); }

Sale::Events Sale::set_paused(const QString& id, bool paused) {
  Item& item = at(id);
  item.paused = paused;
  return {inventory_event(item)};
}

void Sale::fill_line(const QString& id, int count) {
  Item& item = at(id);
  const QDateTime start = now();
  for (int i = 0; i < count; ++i) {
    const qint64 seq = item.next_seq++;
    item.line.push_back(Waiter{order_id(next_order_++), QStringLiteral("crowd-%1").arg(seq), seq,
                               start.addMSecs(-count + i)});
  }
}

QJsonObject Sale::item_json(const Item& item) const {
  return {{"id", item.id},
          {"name", item.name},
          {"total_stock", item.total},
          {"available", item.available},
          {"waiting", static_cast<int>(item.line.size())},
          {"payment_window_s", item.window_s},
          {"per_user_limit", 1},
          {"waitlist_limit",
           item.waitlist_limit.isUndefined() ? QJsonValue(QJsonValue::Null) : item.waitlist_limit},
          {"opens_at", time(item.opens_at)},
          {"closes_at", closes_at_json(item)},
          {"paused", item.paused},
          {"reserved", static_cast<int>(item.leases.size())},
          {"confirmed", item.confirmed}};
}

QJsonArray Sale::items_json() const {
  QJsonArray out;
  for (const Item& item : items_) out.append(item_json(item));
  return out;
}

void Sale::serve(FakeAdminServer& server) {
  server.set_fallback([this, &server](const FakeAdminServer::Request& r) {
    const auto send = [&](const Events& events) {
      for (const QJsonObject& e : events) server.send(e);
    };
    const QStringList parts = r.path.split('/', Qt::SkipEmptyParts);  // admin, items, {id}, ...
    const int limit = QUrlQuery(r.query).queryItemValue("limit").toInt();
    if (r.method == "GET" && r.path == "/admin/items") {
      return json(200, {{"items", items_json()}});
    }
    if (r.method == "GET" && r.path == "/admin/plugins") {
      const auto plugin = [](const char* name, const char* kind, bool ok, const char* detail) {
        return QJsonObject{{"name", name},
                           {"kind", kind},
                           {"version", "0.1.0"},
                           {"required", true},
                           {"file", QStringLiteral("/opt/flashsale/lib/%1.so").arg(name)},
                           {"health", QJsonObject{{"ok", ok}, {"detail", detail}}}};
      };
      return json(
          200, {{"plugins", QJsonArray{plugin("postgres", "storage", true, "pool 8/8"),
                                       plugin("pg_wal", "event_source", true, "lag 12 ms"),
                                       plugin("websocket", "push", false, "3 clients too slow")}}});
    }
    if (r.method == "POST" && r.path == "/admin/items") {
      const QJsonObject body = QJsonDocument::fromJson(r.body).object();
      const QString id = body.value("id").toString();
      if (items_.contains(id)) return error(409, "already_exists", "item " + id + " exists");
      Events events =
          add_item(id, body.value("total_stock").toInt(), body.value("payment_window_s").toInt());
      Item& added = at(id);
      if (body.contains("opens_at")) added.opens_at = parse_time(body.value("opens_at"));
      if (body.contains("closes_at")) added.closes_at = parse_time(body.value("closes_at"));
      added.waitlist_limit = body.value("waitlist_limit");
      events.front()["data"] = [&] {
        QJsonObject data = events.front()["data"].toObject();
        data["closes_at"] = closes_at_json(added);
        return data;
      }();
      send(events);
      return json(201, item_json(added));
    }
    if (parts.size() >= 3 && parts[1] == "items" && items_.contains(parts[2])) {
      Item& it = at(parts[2]);
      if (r.method == "GET" && parts.size() == 3) return json(200, item_json(it));
      if (r.method == "GET" && parts.size() == 4 && parts[3] == "waitlist") {
        const int offset = QUrlQuery(r.query).queryItemValue("offset").toInt();  // default 0
        QJsonArray line;
        for (auto i = static_cast<std::size_t>(offset);
             i < it.line.size() && static_cast<int>(i) < offset + limit; ++i) {
          const Waiter& w = it.line[i];
          line.append(QJsonObject{{"position", static_cast<int>(i) + 1},
                                  {"order_id", w.order},
                                  {"user_id", w.user},
                                  {"waitlist_seq", w.seq},
                                  {"waiting_since", time(w.since)}});
        }
        return json(200, {{"item_id", it.id},
                          {"waiting", static_cast<int>(it.line.size())},
                          {"offset", offset},
                          {"waitlist", line}});
      }
      if (r.method == "GET" && parts.size() == 4 && parts[3] == "leases") {
        QJsonArray leases;
        for (std::size_t i = 0; i < it.leases.size() && static_cast<int>(i) < limit; ++i) {
          const Lease& l = it.leases[i];
          leases.append(QJsonObject{{"reservation_id", "r-" + l.order},
                                    {"order_id", l.order},
                                    {"user_id", l.user},
                                    {"granted_at", time(l.granted)},
                                    {"expires_at", time(l.expires)}});
        }
        return json(200, {{"item_id", it.id}, {"leases", leases}});
      }
      if (r.method == "PATCH" && parts.size() == 3) {
        const QJsonObject body = QJsonDocument::fromJson(r.body).object();
        if (body.contains("add_stock")) send(restock(it.id, body.value("add_stock").toInt()));
        if (body.contains("paused")) send(set_paused(it.id, body.value("paused").toBool()));
        if (body.contains("closes_at")) {
          send(schedule(it.id, {}, parse_time(body.value("closes_at"))));
        }
        return json(200, item_json(it));
      }
    }
    if (r.method == "POST" && parts.size() == 4 && parts[1] == "orders" && parts[3] == "expire") {
      const QString& order = parts[2];
      for (const Item& it : items_) {
        if (std::none_of(it.leases.begin(), it.leases.end(),
                         [&](const Lease& l) { return l.order == order; })) {
          continue;
        }
        send(expire(QString(it.id), order));  // copies: expire changes items_
        return json(200, {{"id", order}, {"status", "expired"}});
      }
      return error(409, "invalid_transition", "order " + parts[2] + " holds no lease");
    }
    return error(404, "not_found", "no such route or item: " + r.path);
  });
}

}  // namespace flashsale::admin::testing
