// See admin_client.hpp.
#include "admin_client.hpp"

#include <QJsonDocument>
#include <QNetworkReply>

namespace flashsale::admin {
namespace {

constexpr int kRestTimeoutMs = 10000;
constexpr int kAliveCheckMs = 5000;
constexpr qint64 kPingAfterMs = 8000;     // silent this long: ping
constexpr qint64 kGiveUpAfterMs = 20000;  // still silent: the link is dead, reconnect
constexpr int kRecentIds = 10000;
// The close code of a request the server refused after the upgrade (a since= it cannot read).
constexpr auto kRefusedCloseCode = static_cast<QWebSocketProtocol::CloseCode>(4400);

// Turns a finished reply into a Reply: the body, or a sentence saying what went wrong.
Reply read_reply(QNetworkReply* reply) {
  Reply out;
  out.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  const QString where = reply->request().url().toString();
  if (out.status == 0) {
    out.error =
        reply->error() == QNetworkReply::OperationCanceledError
            ? QStringLiteral("no answer from %1 within %2 s").arg(where).arg(kRestTimeoutMs / 1000)
            : QStringLiteral("cannot reach %1: %2").arg(where, reply->errorString());
    return out;
  }
  const QJsonDocument doc = QJsonDocument::fromJson(reply->readAll());
  if (doc.isObject()) out.body = doc.object();
  if (out.status >= 300) {
    const QString message = out.body.value("message").toString();
    const QString code = out.body.value("error").toString();
    out.error =
        message.isEmpty()
            ? QStringLiteral("the server answered HTTP %1 %2 to %3")
                  .arg(QString::number(out.status),
                       reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString(),
                       where)
            : QStringLiteral("%1 (%2, HTTP %3)").arg(message, code).arg(out.status);
  } else if (!doc.isObject()) {
    out.error = QStringLiteral("the server's answer to %1 is not a JSON object").arg(where);
  }
  return out;
}

}  // namespace

QUrl server_url(const QString& text) {
  const QString trimmed = text.trimmed();
  QUrl url(trimmed.contains(QLatin1String("://")) ? trimmed : QStringLiteral("http://") + trimmed,
           QUrl::StrictMode);
  const bool http = url.scheme() == QLatin1String("http") || url.scheme() == QLatin1String("https");
  if (!url.isValid() || !http || url.host().isEmpty() || url.hasQuery()) return {};
  return url;
}

QString path_segment(const QString& text) {
  return QString::fromLatin1(QUrl::toPercentEncoding(text));
}

QString item_path(const QString& item_id) {
  return QStringLiteral("/admin/items/") + path_segment(item_id);
}

AdminClient::AdminClient(QObject* parent) : QObject(parent) {
  retry_timer_.setSingleShot(true);
  flush_timer_.setSingleShot(true);
  flush_timer_.setInterval(100);
  alive_timer_.setInterval(kAliveCheckMs);
  connect(&retry_timer_, &QTimer::timeout, this, &AdminClient::open_stream);
  connect(&flush_timer_, &QTimer::timeout, this, &AdminClient::flush);
  connect(&alive_timer_, &QTimer::timeout, this, &AdminClient::check_alive);
  // Connected once, here: a reconnect reuses the socket and must not add a second connection.
  connect(&socket_, &QWebSocket::textMessageReceived, this, &AdminClient::on_frame);
  connect(&socket_, &QWebSocket::stateChanged, this, &AdminClient::on_socket_state);
  connect(&socket_, &QWebSocket::pong, this, [this] { heard_.restart(); });
  connect(&socket_, &QWebSocket::connected, this, [this] { was_connected_ = true; });
  // Qt 6.4 names the signal error(); errorOccurred() arrives in 6.5.
  connect(&socket_, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this,
          [this] { last_error_ = socket_.errorString(); });
}

AdminClient::~AdminClient() {
  // The socket's last state change must not reach a half-destroyed client or its listeners.
  socket_.disconnect(this);
}

void AdminClient::connect_to(const QUrl& base) {
  stop();
  base_ = base;
  stopping_ = false;
  attempt_ = 0;
  last_event_id_.clear();  // a first connection: nothing to resume
  alive_timer_.start();
  open_stream();
}

void AdminClient::stop() {
  stopping_ = true;
  retry_timer_.stop();
  alive_timer_.stop();
  socket_.abort();
  flush();
  set_state(State::idle, {});
}

void AdminClient::set_backoff(int first_ms, int max_ms) {
  backoff_first_ms_ = first_ms;
  backoff_max_ms_ = max_ms;
}

void AdminClient::open_stream() {
  QUrl url = base_;
  url.setScheme(base_.scheme() == QLatin1String("https") ? QStringLiteral("wss")
                                                         : QStringLiteral("ws"));
  QString path = base_.path();
  if (path.endsWith('/')) path.chop(1);
  url.setPath(path + QStringLiteral("/admin/stream"));
  resuming_ = !last_event_id_.isEmpty();
  if (resuming_) {
    // Encoded whole: an event id has slashes ("0/16B3748/0").
    url.setQuery(QStringLiteral("since=") + path_segment(last_event_id_), QUrl::StrictMode);
  }
  last_error_.clear();
  was_connected_ = false;
  snapshot_seen_ = false;
  heard_.start();
  if (attempt_ == 0) set_state(State::connecting, url.toString());
  socket_.open(url);
}

void AdminClient::on_socket_state(QAbstractSocket::SocketState socket_state) {
  if (socket_state != QAbstractSocket::UnconnectedState || stopping_) return;
  flush();
  // After a connection, the server's close reason ("server shutting down", "too slow: ...")
  // says most; the socket keeps it, so it is stale after an attempt that never got through.
  QString why = was_connected_ ? socket_.closeReason() : QString();
  if (why.isEmpty()) why = last_error_;
  if (why.isEmpty() && socket_.error() != QAbstractSocket::UnknownSocketError) {
    why = socket_.errorString();
  }
  if (why.isEmpty()) why = QStringLiteral("the connection closed");
  // The server refuses a since= it cannot resume from (closing with its own code, since Qt does
  // not show the HTTP status of a refused upgrade): start afresh, with the gap noted, rather
  // than be refused forever.
  if (resuming_ && was_connected_ && socket_.closeCode() == kRefusedCloseCode) {
    last_event_id_.clear();
    emit events_missed();
  }
  ++attempt_;
  const int delay = static_cast<int>(qMin<qint64>(
      backoff_max_ms_, static_cast<qint64>(backoff_first_ms_) << qMin(attempt_ - 1, 20)));
  retry_timer_.start(delay);
  set_state(State::reconnecting, QStringLiteral("retry in %1 s (attempt %2): %3")
                                     .arg(delay / 1000.0, 0, 'f', 1)
                                     .arg(attempt_)
                                     .arg(why));
}

void AdminClient::on_frame(const QString& text) {
  heard_.restart();
  QJsonParseError parse_error;
  const QJsonDocument doc = QJsonDocument::fromJson(text.toUtf8(), &parse_error);
  if (!doc.isObject()) {
    emit problem(QStringLiteral("the stream sent a frame that is not a JSON object (%1): %2")
                     .arg(parse_error.errorString(), text.left(80)));
    return;
  }
  const QJsonObject frame = doc.object();
  QString error;
  if (frame.value("type").toString() == QLatin1String("snapshot")) {
    on_snapshot(frame);
    return;
  }
  auto event = parse_event(frame, &error);
  if (!event) {
    emit problem(QStringLiteral("ignored a stream frame: %1").arg(error));
    return;
  }
  last_event_id_ = event->event_id;
  if (seen(event->event_id)) return;
  pending_.push_back(std::move(*event));
  // Replayed events wait for the snapshot: it says whether some before them are missing.
  if (snapshot_seen_ && !flush_timer_.isActive()) flush_timer_.start();
}

void AdminClient::on_snapshot(const QJsonObject& frame) {
  snapshot_seen_ = true;
  QString error;
  const auto items = parse_items(frame, &error);
  if (!items) {
    flush();
    emit problem(QStringLiteral("the stream's snapshot is unusable: %1").arg(error));
    return;
  }
  QDateTime server_time;
  if (frame.contains("server_time")) {
    server_time = parse_time(frame.value("server_time").toString());
    if (!server_time.isValid()) {
      emit problem(
          QStringLiteral("the stream's snapshot has a server_time that is not an RFC "
                         "3339 time; using this machine's clock"));
    }
  }
  attempt_ = 0;
  set_state(State::live, base_.toString());
  // The gap lies before the replayed events; they lead up to the snapshot, so come before it.
  if (!frame.value("resume").toObject().value("complete").toBool(true)) emit events_missed();
  flush();
  emit snapshot(*items, server_time);
}

void AdminClient::flush() {
  flush_timer_.stop();
  if (pending_.isEmpty()) return;
  QVector<Event> batch;
  batch.swap(pending_);
  emit events(batch);
}

void AdminClient::check_alive() {
  if (socket_.state() == QAbstractSocket::UnconnectedState) return;
  if (heard_.elapsed() > kGiveUpAfterMs) {
    last_error_ = QStringLiteral("no answer from the server for %1 s").arg(kGiveUpAfterMs / 1000);
    socket_.abort();
  } else if (heard_.elapsed() > kPingAfterMs &&
             socket_.state() == QAbstractSocket::ConnectedState) {
    socket_.ping();
  }
}

void AdminClient::set_state(State state, const QString& detail) {
  if (state == state_ && state != State::reconnecting) return;
  state_ = state;
  emit state_changed(state, detail);
}

bool AdminClient::seen(const QString& event_id) {
  if (recent_ids_.contains(event_id)) return true;
  recent_ids_.insert(event_id);
  recent_order_.push_back(event_id);
  if (recent_order_.size() > kRecentIds) {
    recent_ids_.remove(recent_order_.front());
    recent_order_.pop_front();
  }
  return false;
}

void AdminClient::get(const QString& path, QObject* context, Handler done) {
  QNetworkRequest request(QUrl(base_.toString(QUrl::StripTrailingSlash) + path));
  request.setTransferTimeout(kRestTimeoutMs);
  QNetworkReply* reply = network_.get(request);
  connect(reply, &QNetworkReply::finished, reply, &QObject::deleteLater);
  connect(reply, &QNetworkReply::finished, context,
          [reply, done = std::move(done)] { done(read_reply(reply)); });
}

void AdminClient::send(const QByteArray& method, const QString& path, const QJsonObject& body,
                       QObject* context, Handler done) {
  QNetworkRequest request(QUrl(base_.toString(QUrl::StripTrailingSlash) + path));
  request.setTransferTimeout(kRestTimeoutMs);
  request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
  QNetworkReply* reply = network_.sendCustomRequest(
      request, method, QJsonDocument(body).toJson(QJsonDocument::Compact));
  connect(reply, &QNetworkReply::finished, reply, &QObject::deleteLater);
  connect(reply, &QNetworkReply::finished, context,
          [reply, done = std::move(done)] { done(read_reply(reply)); });
}

}  // namespace flashsale::admin
