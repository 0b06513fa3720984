// A stand-in for the service's admin listener in tests: a real QTcpServer answering HTTP with
// the routes a test sets, and handing WebSocket upgrades on the same port to a real
// QWebSocketServer, which sends the snapshot on connect and whatever frames the test scripts.
#pragma once

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonObject>
#include <QTcpServer>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>
#include <QWebSocketServer>
#include <functional>
#include <optional>

namespace flashsale::admin::testing {

class FakeAdminServer : public QObject {
  Q_OBJECT

 public:
  struct Request {
    QByteArray method;
    QString path;   // without the query
    QString query;  // e.g. "limit=100"
    QByteArray body;
  };
  struct Response {
    int status = 200;
    QByteArray body;
    QByteArray content_type = "application/json";
  };
  using Route = std::function<Response(const Request&)>;

  explicit FakeAdminServer(QObject* parent = nullptr);
  ~FakeAdminServer() override;

  // Listens on 127.0.0.1 (port 0: any free one).
  bool listen(quint16 port = 0);
  // Stops listening and drops every stream client, as a crashed server would.
  void close();
  [[nodiscard]] quint16 port() const { return port_; }
  [[nodiscard]] QUrl url() const;

  // Answers `method path` (exact path); other requests go to the fallback, if set, else
  // answer 404 not_found.
  void route(const QByteArray& method, const QString& path, const Route& route);
  void set_fallback(Route route) { fallback_ = std::move(route); }
  // Every stream connection first gets {"type": "snapshot", "items": items}, with
  // "server_time" when set_server_clock gave one.
  void set_snapshot(const QJsonArray& items);
  // Or exactly this frame (to test bad snapshots).
  void set_snapshot_frame(const QByteArray& frame) { snapshot_frame_ = frame; }
  // A stream connection that resumes (?since=<event_id>) first gets these events, then the
  // snapshot with "resume": {"since", "complete", "replayed"}, as the service sends them.
  void set_replay(const QVector<QJsonObject>& events, bool complete);
  // Every resume is refused after the upgrade with close code 4400, as the service refuses a
  // since= it cannot read.
  void set_refuse_resume(bool refuse) { refuse_resume_ = refuse; }
  // The snapshot carries "server_time": this machine's clock plus `offset_ms`, as a server
  // whose clock is that far ahead would send it; nullopt: no server_time (older servers).
  void set_server_clock(std::optional<qint64> offset_ms) { server_clock_ = offset_ms; }

  // A job queue behind GET /admin/jobs?state=&limit= and POST /admin/jobs/{id}/retry, answered
  // as the service answers them (docs/api.md): state defaults to dead, a bad state or limit is
  // 400, only a dead job can be retried (else 404). Jobs are listed newest (highest id) first.
  void serve_jobs() { jobs_served_ = true; }
  // Adds a job; returns its id ("1", "2", ...).
  QString add_job(const QString& kind, const QString& state, const QString& last_error = {},
                  const QJsonObject& payload = {});
  [[nodiscard]] QJsonObject job(const QString& id) const;

  // Orders behind GET /admin/orders/{id}, GET /admin/orders?user=&item=&status= (newest, i.e.
  // last added, first; without user_id and history), POST /admin/orders/{id}/cancel (a waiting
  // or reserved order; else 409) and /expire (a reserved one), answered as the service does:
  // an unknown id is 404, a list without user= is 400. An action appends to the history.
  void serve_orders() { orders_served_ = true; }
  // Adds (or replaces) an order: a whole GET /admin/orders/{id} answer.
  void add_order(const QJsonObject& order);
  [[nodiscard]] QJsonObject order(const QString& id) const;

  void send(const QJsonObject& frame);
  void send_text(const QString& frame);
  // Closes every stream connection with `reason` (the server going away).
  void drop_clients(const QString& reason = QStringLiteral("server shutting down"));

  // Sends make(i) for i = 0, 1, ... at `per_second` for `seconds`, from this object's thread;
  // burst_finished(sent) follows.
  void start_burst(int per_second, double seconds, std::function<QJsonObject(int)> make);

  [[nodiscard]] int stream_clients() const { return static_cast<int>(clients_.size()); }
  [[nodiscard]] int stream_connections() const { return connections_; }
  [[nodiscard]] const QVector<Request>& requests() const { return requests_; }
  // The stream's upgrade requests, refused ones too (their path is /admin/stream).
  [[nodiscard]] const QVector<Request>& stream_requests() const { return stream_requests_; }
  // Requests to `path`, any method.
  [[nodiscard]] int count(const QString& path) const;

 signals:
  void burst_finished(int sent);

 private:
  void on_http_connection();
  void on_http_data(QTcpSocket* socket);
  void on_stream_connection();
  void burst_step();
  static void respond(QTcpSocket* socket, const Response& response);
  [[nodiscard]] Response answer_jobs(const Request& request);
  [[nodiscard]] Response answer_orders(const Request& request);

  QTcpServer tcp_;
  QWebSocketServer ws_;
  quint16 port_ = 0;
  QMap<QString, Route> routes_;  // "METHOD path"
  Route fallback_;
  QJsonArray snapshot_items_;
  QByteArray snapshot_frame_;  // when set, sent instead
  std::optional<qint64> server_clock_;
  QVector<QWebSocket*> clients_;
  QVector<Request> requests_;
  QVector<Request> stream_requests_;
  QVector<QJsonObject> replay_;
  bool replay_complete_ = true;
  bool refuse_resume_ = false;
  int connections_ = 0;
  bool jobs_served_ = false;
  QVector<QJsonObject> jobs_;  // oldest first
  bool orders_served_ = false;
  QVector<QJsonObject> orders_;  // oldest first

  QTimer burst_timer_;  // a child, so it moves with the server to another thread
  QElapsedTimer burst_clock_;
  std::function<QJsonObject(int)> burst_make_;
  int burst_rate_ = 0;
  int burst_total_ = 0;
  int burst_sent_ = 0;
};

}  // namespace flashsale::admin::testing
