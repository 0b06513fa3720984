// The dashboard's one link to the service: the admin REST API (QNetworkAccessManager) and the
// /admin/stream WebSocket, reconnected with backoff. Stream events are parsed here and handed
// on in batches, so the models redraw a few times a second however fast events arrive.
#pragma once

#include <QElapsedTimer>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QObject>
#include <QSet>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>
#include <deque>
#include <functional>

#include "api_types.hpp"

namespace flashsale::admin {

// The outcome of one REST call. `error` is empty on success, else a sentence for the operator.
struct Reply {
  int status = 0;
  QJsonObject body;
  QString error;
  [[nodiscard]] bool ok() const { return error.isEmpty(); }
};

// "127.0.0.1:8081" or "http://host:8081/" as a base URL; an invalid QUrl when it is not one.
QUrl server_url(const QString& text);
// `text` as one percent-encoded path segment, e.g. an item id in /admin/items/{item}.
QString path_segment(const QString& text);
// /admin/items/{item_id}
QString item_path(const QString& item_id);

class AdminClient : public QObject {
  Q_OBJECT

 public:
  enum class State { idle, connecting, live, reconnecting };
  Q_ENUM(State)
  using Handler = std::function<void(const Reply&)>;

  explicit AdminClient(QObject* parent = nullptr);
  ~AdminClient() override;

  // The admin listener's base URL, e.g. http://127.0.0.1:8081; (re)connects the stream.
  void connect_to(const QUrl& base);
  void stop();
  [[nodiscard]] QUrl server() const { return base_; }
  [[nodiscard]] State state() const { return state_; }

  // Reconnect delays: first, doubled per failed attempt, capped at max.
  void set_backoff(int first_ms, int max_ms);
  void set_batch_interval(int ms) { flush_timer_.setInterval(ms); }

  // REST calls; `done` runs on this thread unless `context` is gone by then.
  void get(const QString& path, QObject* context, Handler done);
  void send(const QByteArray& method, const QString& path, const QJsonObject& body,
            QObject* context, Handler done);

 signals:
  void state_changed(flashsale::admin::AdminClient::State state, const QString& detail);
  // The item list sent first on every (re)connect: replaces what the dashboard knew.
  // `server_time` is the server's clock when it sent it (invalid when the server does not say).
  void snapshot(const QVector<flashsale::admin::Item>& items, const QDateTime& server_time);
  void events(const QVector<flashsale::admin::Event>& batch);
  // A reconnect could not replay every event since the last one received (the server no longer
  // held some, or did not know that event): the events that follow are not all there were.
  // Comes before the replayed events and the snapshot.
  void events_missed();
  // Something the server sent that could not be used, in words.
  void problem(const QString& message);

 private:
  void open_stream();
  void on_frame(const QString& text);
  void on_socket_state(QAbstractSocket::SocketState socket_state);
  void flush();
  void check_alive();
  void set_state(State state, const QString& detail);
  [[nodiscard]] bool seen(const QString& event_id);
  void on_snapshot(const QJsonObject& frame);

  QUrl base_;
  QNetworkAccessManager network_;
  QWebSocket socket_;
  State state_ = State::idle;
  bool stopping_ = true;
  int attempt_ = 0;
  int backoff_first_ms_ = 500;
  int backoff_max_ms_ = 10000;
  QTimer retry_timer_;
  QTimer flush_timer_;
  QTimer alive_timer_;
  QElapsedTimer heard_;  // since the last frame or pong
  QString last_error_;
  bool was_connected_ = false;  // this attempt got through: its close reason is the news
  // The last event received: a reconnect asks the server for what followed it (?since=).
  QString last_event_id_;
  bool resuming_ = false;       // this attempt asked for since=
  bool snapshot_seen_ = false;  // on this connection; until then events are replayed ones
  QVector<Event> pending_;
  // Recent event ids: a replayed event is dropped (docs/api.md: deduplicate on event_id).
  QSet<QString> recent_ids_;
  std::deque<QString> recent_order_;
};

}  // namespace flashsale::admin
