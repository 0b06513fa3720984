// See fake_admin_server.hpp.
#include "fake_admin_server.hpp"

#include <QDateTime>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QUrlQuery>

namespace flashsale::admin::testing {
namespace {

QByteArray reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
  }
  return "Status";
}

}  // namespace

FakeAdminServer::FakeAdminServer(QObject* parent)
    : QObject(parent),
      tcp_(this),
      ws_(QStringLiteral("fake admin"), QWebSocketServer::NonSecureMode, this),
      burst_timer_(this) {
  connect(&tcp_, &QTcpServer::newConnection, this, &FakeAdminServer::on_http_connection);
  connect(&ws_, &QWebSocketServer::newConnection, this, &FakeAdminServer::on_stream_connection);
  connect(&burst_timer_, &QTimer::timeout, this, &FakeAdminServer::burst_step);
  set_snapshot({});
}

FakeAdminServer::~FakeAdminServer() {
  // Clients closing as the server goes must not call back into it half-destroyed.
  for (QWebSocket* client : std::as_const(clients_)) client->disconnect(this);
}

bool FakeAdminServer::listen(quint16 port) {
  if (!tcp_.listen(QHostAddress::LocalHost, port)) return false;
  port_ = tcp_.serverPort();
  return true;
}

void FakeAdminServer::close() {
  tcp_.close();
  drop_clients();
}

QUrl FakeAdminServer::url() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port_)); }

void FakeAdminServer::route(const QByteArray& method, const QString& path, const Route& route) {
  routes_.insert(QString::fromLatin1(method) + ' ' + path, route);
}

void FakeAdminServer::set_snapshot(const QJsonArray& items) {
  snapshot_items_ = items;
  snapshot_frame_.clear();
}

void FakeAdminServer::send(const QJsonObject& frame) {
  send_text(QString::fromUtf8(QJsonDocument(frame).toJson(QJsonDocument::Compact)));
}

void FakeAdminServer::send_text(const QString& frame) {
  for (QWebSocket* client : clients_) client->sendTextMessage(frame);
}

void FakeAdminServer::drop_clients(const QString& reason) {
  for (QWebSocket* client : clients_) client->close(QWebSocketProtocol::CloseCodeGoingAway, reason);
}

int FakeAdminServer::count(const QString& path) const {
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(),
                                        [&](const Request& r) { return r.path == path; }));
}

void FakeAdminServer::on_http_connection() {
  while (QTcpSocket* socket = tcp_.nextPendingConnection()) {
    connect(socket, &QTcpSocket::readyRead, this, [this, socket] { on_http_data(socket); });
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
  }
}

void FakeAdminServer::on_http_data(QTcpSocket* socket) {
  // Peek until the head is complete: an upgrade goes to the WebSocket server unread.
  const QByteArray buffered = socket->peek(socket->bytesAvailable());
  const qsizetype head_end = buffered.indexOf("\r\n\r\n");
  if (head_end < 0) return;
  const QByteArray head = buffered.left(head_end);
  const QList<QByteArray> lines = head.split('\n');
  qsizetype length = 0;
  bool upgrade = false;
  for (const QByteArray& raw : lines.mid(1)) {
    const QByteArray line = raw.trimmed().toLower();
    if (line.startsWith("content-length:")) length = line.mid(15).trimmed().toLongLong();
    if (line.startsWith("upgrade:") && line.contains("websocket")) upgrade = true;
  }
  const QList<QByteArray> request_line = lines.value(0).trimmed().split(' ');
  Request request;
  request.method = request_line.value(0);
  const QString target = QString::fromLatin1(request_line.value(1));
  request.path = target.section('?', 0, 0);
  request.query = target.section('?', 1);
  if (upgrade) {
    stream_requests_.push_back(request);
    socket->disconnect(this);
    ws_.handleConnection(socket);
    return;
  }
  if (buffered.size() < head_end + 4 + length) return;
  const QByteArray message = socket->read(head_end + 4 + length);
  request.body = message.mid(head_end + 4);
  requests_.push_back(request);

  Response response{404, R"({"error":"not_found","message":"no such route"})"};
  const auto route = routes_.constFind(QString::fromLatin1(request.method) + ' ' + request.path);
  if (jobs_served_ && request.path.startsWith(QLatin1String("/admin/jobs"))) {
    response = answer_jobs(request);
  } else if (orders_served_ && request.path.startsWith(QLatin1String("/admin/orders"))) {
    response = answer_orders(request);
  } else if (route != routes_.constEnd()) {
    response = (*route)(request);
  } else if (fallback_) {
    response = fallback_(request);
  }
  respond(socket, response);
}

void FakeAdminServer::respond(QTcpSocket* socket, const Response& response) {
  socket->write("HTTP/1.1 " + QByteArray::number(response.status) + ' ' +
                reason_phrase(response.status) + "\r\nContent-Type: " + response.content_type +
                "\r\nContent-Length: " + QByteArray::number(response.body.size()) +
                "\r\nConnection: close\r\n\r\n" + response.body);
  socket->disconnectFromHost();
}

void FakeAdminServer::set_replay(const QVector<QJsonObject>& events, bool complete) {
  replay_ = events;
  replay_complete_ = complete;
}

QString FakeAdminServer::add_job(const QString& kind, const QString& state,
                                 const QString& last_error, const QJsonObject& payload) {
  QString id = QString::number(jobs_.size() + 1);
  const QString now = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
  jobs_.push_back({{"id", id},
                   {"kind", kind},
                   {"state", state},
                   {"payload", payload},
                   {"attempts", state == QLatin1String("queued") ? 0 : 1},
                   {"run_at", now},
                   {"last_error", last_error.isEmpty() ? QJsonValue() : QJsonValue(last_error)},
                   {"updated_at", now}});
  return id;
}

QJsonObject FakeAdminServer::job(const QString& id) const {
  for (const QJsonObject& j : jobs_) {
    if (j.value("id").toString() == id) return j;
  }
  return {};
}

FakeAdminServer::Response FakeAdminServer::answer_jobs(const Request& request) {
  const auto json = [](int status, const QJsonObject& body) {
    return Response{status, QJsonDocument(body).toJson(QJsonDocument::Compact)};
  };
  const auto error = [&](int status, const char* code, const QString& message) {
    return json(status, {{"error", code}, {"message", message}});
  };
  if (request.method == "GET" && request.path == QLatin1String("/admin/jobs")) {
    const QUrlQuery query(request.query);
    for (const auto& [key, value] : query.queryItems()) {
      if (key != QLatin1String("state") && key != QLatin1String("limit")) {
        return error(400, "bad_request", "unknown query parameter '" + key + "'");
      }
    }
    const QString state =
        query.hasQueryItem("state") ? query.queryItemValue("state") : QStringLiteral("dead");
    if (!QStringList{"queued", "running", "done", "dead"}.contains(state)) {
      return error(400, "bad_request", "state must be queued, running, done or dead");
    }
    bool ok = true;
    const int limit = query.hasQueryItem("limit") ? query.queryItemValue("limit").toInt(&ok) : 100;
    if (!ok || limit < 1 || limit > 1000)
      return error(400, "bad_request", "limit must be 1 to 1000");
    QJsonArray list;
    for (auto it = jobs_.crbegin(); it != jobs_.crend() && list.size() < limit; ++it) {
      if (it->value("state").toString() == state) list.append(*it);
    }
    return json(200, {{"jobs", list}});
  }
  static const QRegularExpression retry("^/admin/jobs/([^/]+)/retry$");
  const auto match = retry.match(request.path);
  if (request.method == "POST" && match.hasMatch()) {
    const QString id = match.captured(1);
    for (QJsonObject& j : jobs_) {
      if (j.value("id").toString() != id || j.value("state").toString() != QLatin1String("dead")) {
        continue;
      }
      const QString now = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
      j["state"] = "queued";
      j["attempts"] = 0;
      j["run_at"] = now;
      j["updated_at"] = now;
      return json(200, {{"id", id}, {"state", "queued"}});
    }
    return error(404, "not_found", "no dead job " + id);
  }
  return error(404, "not_found", "no such route");
}

void FakeAdminServer::add_order(const QJsonObject& order) {
  const QString id = order.value("id").toString();
  orders_.erase(
      std::remove_if(orders_.begin(), orders_.end(),
                     [&](const QJsonObject& o) { return o.value("id").toString() == id; }),
      orders_.end());
  orders_.push_back(order);
}

QJsonObject FakeAdminServer::order(const QString& id) const {
  for (const QJsonObject& o : orders_) {
    if (o.value("id").toString() == id) return o;
  }
  return {};
}

FakeAdminServer::Response FakeAdminServer::answer_orders(const Request& request) {
  const auto json = [](int status, const QJsonObject& body) {
    return Response{status, QJsonDocument(body).toJson(QJsonDocument::Compact)};
  };
  const auto error = [&](int status, const char* code, const QString& message) {
    return json(status, {{"error", code}, {"message", message}});
  };
  if (request.method == "GET" && request.path == QLatin1String("/admin/orders")) {
    const QUrlQuery query(request.query);
    const QString user = query.queryItemValue("user", QUrl::FullyDecoded);
    if (user.isEmpty()) return error(400, "bad_request", "user is required");
    QJsonArray list;
    for (auto it = orders_.crbegin(); it != orders_.crend(); ++it) {
      if (it->value("user_id").toString() != user) continue;
      if (query.hasQueryItem("item") &&
          it->value("item_id").toString() != query.queryItemValue("item")) {
        continue;
      }
      if (query.hasQueryItem("status") &&
          it->value("status").toString() != query.queryItemValue("status")) {
        continue;
      }
      QJsonObject listed = *it;
      listed.remove("user_id");
      listed.remove("history");
      list.append(listed);
    }
    return json(200, {{"orders", list}});
  }
  static const QRegularExpression path("^/admin/orders/([^/]+)(?:/(cancel|expire))?$");
  const auto match = path.match(request.path);
  const auto found = std::find_if(orders_.begin(), orders_.end(), [&](const QJsonObject& o) {
    return match.hasMatch() && o.value("id").toString() == match.captured(1);
  });
  if (found == orders_.end()) return error(404, "not_found", "no order " + match.captured(1));
  const QString action = match.captured(2);
  if (request.method == "GET" && action.isEmpty()) return json(200, *found);
  if (request.method != "POST" || action.isEmpty()) {
    return error(404, "not_found", "no such route");
  }
  QJsonObject& o = *found;
  const QString status = o.value("status").toString();
  const bool cancel = action == QLatin1String("cancel");
  if (cancel ? status != QLatin1String("waiting") && status != QLatin1String("reserved")
             : status != QLatin1String("reserved")) {
    return error(409, "invalid_transition", QStringLiteral("order is %1").arg(status));
  }
  const QString now = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
  const QString ended = cancel ? QStringLiteral("cancelled") : QStringLiteral("expired");
  const QString reason =
      cancel ? QStringLiteral("cancelled_by_operator") : QStringLiteral("expired_by_operator");
  o["status"] = ended;
  o["reason"] = reason;
  o["updated_at"] = now;
  o.remove("waitlist_position");
  o.remove("reservation");
  QJsonArray history = o.value("history").toArray();
  history.append(QJsonObject{{"at", now}, {"what", ended}, {"reason", reason}});
  o["history"] = history;
  return json(200, o);
}

void FakeAdminServer::on_stream_connection() {
  while (QWebSocket* client = ws_.nextPendingConnection()) {
    ++connections_;
    clients_.push_back(client);
    connect(client, &QWebSocket::disconnected, this, [this, client] {
      clients_.removeAll(client);
      client->deleteLater();
    });
    const QString since =
        QUrlQuery(client->requestUrl()).queryItemValue("since", QUrl::FullyDecoded);
    if (refuse_resume_ && !since.isEmpty()) {  // as the service refuses a since it cannot read
      client->close(static_cast<QWebSocketProtocol::CloseCode>(4400),
                    QStringLiteral("since must be an event_id as the stream sent it"));
      continue;
    }
    if (!since.isEmpty()) {
      for (const QJsonObject& e : std::as_const(replay_)) {
        client->sendTextMessage(QString::fromUtf8(QJsonDocument(e).toJson(QJsonDocument::Compact)));
      }
    }
    QByteArray frame = snapshot_frame_;
    if (frame.isEmpty()) {
      QJsonObject snapshot{{"type", "snapshot"}, {"items", snapshot_items_}};
      if (!since.isEmpty()) {
        snapshot.insert("resume", QJsonObject{{"since", since},
                                              {"complete", replay_complete_},
                                              {"replayed", static_cast<int>(replay_.size())}});
      }
      if (server_clock_) {
        snapshot.insert(
            "server_time",
            QDateTime::currentDateTimeUtc().addMSecs(*server_clock_).toString(Qt::ISODateWithMs));
      }
      frame = QJsonDocument(snapshot).toJson(QJsonDocument::Compact);
    }
    client->sendTextMessage(QString::fromUtf8(frame));
  }
}

void FakeAdminServer::start_burst(int per_second, double seconds,
                                  std::function<QJsonObject(int)> make) {
  burst_make_ = std::move(make);
  burst_rate_ = per_second;
  burst_total_ = static_cast<int>(per_second * seconds);
  burst_sent_ = 0;
  burst_clock_.start();
  burst_timer_.start(5);
}

void FakeAdminServer::burst_step() {
  // As many as the rate says by now, so timer jitter does not lower the rate.
  const int due = qMin(burst_total_, static_cast<int>(burst_clock_.elapsed() * burst_rate_ / 1000));
  for (; burst_sent_ < due; ++burst_sent_) send(burst_make_(burst_sent_));
  if (burst_sent_ < burst_total_) return;
  burst_timer_.stop();
  emit burst_finished(burst_sent_);
}

}  // namespace flashsale::admin::testing
