// The client against a real QWebSocketServer and a real HTTP server on port 0 (FakeAdminServer)
// playing a scripted sale: going live, batching, bad frames and answers in words, reconnecting
// with backoff and a fresh snapshot, resuming after the last event (since=); and the whole window
// following the sale and running the operator's actions through their confirmations.
#include <QAbstractItemModelTester>
#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDateTimeEdit>
#include <QInputDialog>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QUrlQuery>
#include <QtTest>

#include "admin_client.hpp"
#include "create_item_dialog.hpp"
#include "inventory_model.hpp"
#include "lease_model.hpp"
#include "main_window.hpp"
#include "placement_chart.hpp"
#include "plugin_model.hpp"
#include "support/fake_admin_server.hpp"
#include "support/sale.hpp"
#include "throughput_chart.hpp"
#include "waitlist_model.hpp"
#include "widgets.hpp"

using namespace flashsale::admin;
using flashsale::admin::testing::FakeAdminServer;
using flashsale::admin::testing::Sale;

namespace {

constexpr int kWait = 10000;  // generous: the CI machine is small and busy

void send(FakeAdminServer& server, const Sale::Events& events) {
  for (const QJsonObject& e : events) server.send(e);
}

int total_events(const QSignalSpy& spy) {
  int n = 0;
  for (const auto& args : spy) n += static_cast<int>(args.at(0).value<QVector<Event>>().size());
  return n;
}

// The dialog of that name that is open now (closed ones linger until deleted).
template <typename T>
T* open_dialog(QWidget& window, const char* name) {
  for (T* w : window.findChildren<T*>(QLatin1String(name))) {
    if (w->isVisible()) return w;
  }
  return nullptr;
}

QString cell(const QTableView* view, int row, int column) {
  return view->model()->index(row, column).data().toString();
}

// The inventory row of `item`, -1 if not shown.
int row_of(const QTableView* view, const QString& item) {
  for (int row = 0; row < view->model()->rowCount(); ++row) {
    if (cell(view, row, InventoryModel::id) == item) return row;
  }
  return -1;
}

QString inventory(const QTableView* view, const QString& item, int column) {
  const int row = row_of(view, item);
  return row < 0 ? QString() : cell(view, row, column);
}

// The column of `view` whose header reads `title`, -1 if none.
int column_titled(const QTableView* view, const QString& title) {
  for (int c = 0; c < view->model()->columnCount(); ++c) {
    if (view->model()->headerData(c, Qt::Horizontal).toString() == title) return c;
  }
  return -1;
}

// The text in `table` at the row headed `row` and the column headed `column`.
QString table_cell(const QTableWidget* table, const QString& row, const QString& column) {
  for (int r = 0; r < table->rowCount(); ++r) {
    if (!table->verticalHeaderItem(r) || table->verticalHeaderItem(r)->text() != row) continue;
    for (int c = 0; c < table->columnCount(); ++c) {
      if (table->horizontalHeaderItem(c) && table->horizontalHeaderItem(c)->text() == column) {
        return table->item(r, c) ? table->item(r, c)->text() : QString();
      }
    }
  }
  return QStringLiteral("(no cell %1/%2)").arg(row, column);
}

bool has_request(const FakeAdminServer& server, const QByteArray& method, const QString& path,
                 const QJsonObject& body = {}) {
  for (const auto& r : server.requests()) {
    if (r.method == method && r.path == path &&
        (body.isEmpty() || QJsonDocument::fromJson(r.body).object() == body)) {
      return true;
    }
  }
  return false;
}

}  // namespace

class ClientTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void stream_goes_live_and_batches_events();
  void bad_frames_are_reported_not_fatal();
  void reconnects_with_backoff_and_a_fresh_snapshot();
  void reconnects_resume_after_the_last_event();
  void rest_errors_come_in_words();
  void dashboard_follows_a_scripted_sale();
  void actions_are_confirmed_and_errors_shown();
  void item_states_follow_the_clock();
  void countdowns_follow_the_server_clock();
  void stale_data_looks_stale();
  void only_a_server_that_answered_is_remembered();
  void a_refused_create_keeps_the_form();
  void close_sale_is_confirmed();
  void jobs_are_listed_counted_and_retried();
  void expiring_a_lease_selects_no_other();
  void ids_and_labels_read_well();
  void placements_of_the_selected_item_are_charted();
  void the_activity_chart_shows_the_minutes_before_connecting();
  void a_tab_is_shown_by_its_name();
};

void ClientTest::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);  // QSettings go to a test folder
  qRegisterMetaType<QVector<Event>>();
}

void ClientTest::stream_goes_live_and_batches_events() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 100);
  server.set_snapshot(sale.items_json());
  AdminClient client;
  QSignalSpy snapshots(&client, &AdminClient::snapshot);
  QSignalSpy batches(&client, &AdminClient::events);
  client.connect_to(server.url());
  QCOMPARE(client.state(), AdminClient::State::connecting);
  QTRY_COMPARE_WITH_TIMEOUT(snapshots.count(), 1, kWait);
  QCOMPARE(client.state(), AdminClient::State::live);
  const auto items = snapshots.at(0).at(0).value<QVector<Item>>();
  QCOMPARE(items.size(), 1);
  QCOMPARE(items[0].available, 100);

  int sent = 0;
  for (int i = 0; i < 150; ++i) {
    const auto events = sale.place("shoes", QStringLiteral("u%1").arg(i));
    send(server, events);
    sent += static_cast<int>(events.size());
  }
  const QJsonObject again = sale.event("order.confirmed", "shoes", "o", "u");
  server.send(again);
  server.send(again);  // a replay: the same event_id is dropped
  QTRY_COMPARE_WITH_TIMEOUT(total_events(batches), sent + 1, kWait);
  QVERIFY2(batches.count() < 20, "events arrive in batches, not one signal each");
  const auto last = batches.last().at(0).value<QVector<Event>>();
  QCOMPARE(last.back().type, QStringLiteral("order.confirmed"));
}

void ClientTest::bad_frames_are_reported_not_fatal() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  server.set_snapshot_frame(R"({"type":"snapshot","items":[{"id":"a"}]})");
  AdminClient client;
  QSignalSpy problems(&client, &AdminClient::problem);
  QSignalSpy batches(&client, &AdminClient::events);
  client.connect_to(server.url());
  QTRY_COMPARE_WITH_TIMEOUT(problems.count(), 1, kWait);
  QCOMPARE(problems.at(0).at(0).toString(),
           QStringLiteral("the stream's snapshot is unusable: item 'a': field 'name' is missing "
                          "or not a string"));
  QVERIFY(client.state() != AdminClient::State::live);

  server.send_text("<html>oops</html>");
  server.send_text(R"({"type":"order.waiting","item_id":"a"})");
  Sale sale;
  server.send(sale.event("order.waiting", "a", "o1", "u1", {{"waitlist_seq", 1}}));
  QTRY_COMPARE_WITH_TIMEOUT(total_events(batches), 1, kWait);
  QCOMPARE(problems.count(), 3);
  QVERIFY(problems.at(1).at(0).toString().startsWith(
      "the stream sent a frame that is not a JSON object"));
  QCOMPARE(problems.at(2).at(0).toString(),
           QStringLiteral("ignored a stream frame: event: field 'event_id' is missing or not a "
                          "string"));
}

void ClientTest::reconnects_with_backoff_and_a_fresh_snapshot() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  const quint16 port = server.port();
  Sale sale;
  sale.add_item("shoes", 5);
  server.set_snapshot(sale.items_json());
  AdminClient client;
  client.set_backoff(100, 400);
  QSignalSpy snapshots(&client, &AdminClient::snapshot);
  QSignalSpy states(&client, &AdminClient::state_changed);
  client.connect_to(server.url());
  QTRY_COMPARE_WITH_TIMEOUT(snapshots.count(), 1, kWait);

  // The server goes away and comes back: the client says so, reconnects, reads a new snapshot.
  server.drop_clients("server shutting down");
  sale.place("shoes", "while-away");  // its events are lost with the connection
  server.set_snapshot(sale.items_json());
  QTRY_COMPARE_WITH_TIMEOUT(snapshots.count(), 2, kWait);
  QCOMPARE(snapshots.at(1).at(0).value<QVector<Item>>()[0].available, 4);
  QCOMPARE(server.stream_connections(), 2);
  bool said_why = false;
  for (const auto& s : states) {
    said_why |= s.at(0).value<AdminClient::State>() == AdminClient::State::reconnecting &&
                s.at(1).toString().contains("server shutting down");
  }
  QVERIFY(said_why);

  // Down for longer: each failed attempt waits twice as long, up to the cap.
  states.clear();
  server.close();
  QTRY_VERIFY_WITH_TIMEOUT(states.count() >= 4, kWait);
  QStringList details;
  for (const auto& s : states) {
    QCOMPARE(s.at(0).value<AdminClient::State>(), AdminClient::State::reconnecting);
    details << s.at(1).toString();
  }
  QVERIFY2(details[0].startsWith("retry in 0.1 s (attempt 1)"), qPrintable(details[0]));
  QVERIFY2(details[1].startsWith("retry in 0.2 s (attempt 2)"), qPrintable(details[1]));
  QVERIFY2(details[2].startsWith("retry in 0.4 s (attempt 3)"), qPrintable(details[2]));
  QVERIFY2(details[3].startsWith("retry in 0.4 s (attempt 4)"), qPrintable(details[3]));
  QVERIFY2(details[3].contains("refused"), qPrintable(details[3]));

  QVERIFY(server.listen(port));
  QTRY_COMPARE_WITH_TIMEOUT(snapshots.count(), 3, kWait);
  QCOMPARE(client.state(), AdminClient::State::live);
  client.stop();
  QCOMPARE(client.state(), AdminClient::State::idle);
}

void ClientTest::reconnects_resume_after_the_last_event() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 2);
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  MainWindow window;
  window.show();
  auto* client = window.findChild<AdminClient*>("adminClient");
  client->set_backoff(100, 400);
  auto* log_view = window.findChild<QTableView*>("logView");
  window.findChild<QCheckBox*>("showInventoryCheck")->setChecked(true);  // every event
  QSignalSpy snapshots(client, &AdminClient::snapshot);
  const auto since_of = [&server](int connection) {
    return QUrlQuery(server.stream_requests().at(connection).query)
        .queryItemValue("since", QUrl::FullyDecoded);
  };
  // The log, newest first: each event's id (its tooltip), "gap" for the missed-events line.
  const auto log = [log_view] {
    QStringList rows;
    for (int row = 0; row < log_view->model()->rowCount(); ++row) {
      const QModelIndex type = log_view->model()->index(row, EventLogModel::type);
      rows << (type.data().toString() == QStringLiteral("—")
                   ? QStringLiteral("gap")
                   : type.data(Qt::ToolTipRole).toString());
    }
    return rows;
  };
  const auto ids = [](const Sale::Events& events) {
    QStringList out;
    for (auto it = events.crbegin(); it != events.crend(); ++it) {
      out << it->value("event_id").toString();
    }
    return out;
  };

  window.connect_to(server.url());
  QTRY_COMPARE_WITH_TIMEOUT(snapshots.count(), 1, kWait);
  QVERIFY(server.stream_requests().at(0).query.isEmpty());  // the first connection starts afresh
  const Sale::Events before = sale.place("shoes", "buyer-1");
  send(server, before);
  QTRY_COMPARE_WITH_TIMEOUT(log(), ids(before), kWait);

  // Dropped; while away two orders come. The server replays from the last event received (the
  // first one again, as a server might: it is shown once), then sends the snapshot.
  const QString last_id = before.back().value("event_id").toString();
  Sale::Events away = sale.place("shoes", "buyer-2");
  away += sale.place("shoes", "buyer-3");
  server.set_replay(Sale::Events{before.back()} + away, true);
  server.set_snapshot(sale.items_json());
  server.drop_clients();
  QTRY_COMPARE_WITH_TIMEOUT(snapshots.count(), 2, kWait);
  QCOMPARE(server.stream_requests().size(), 2);
  QCOMPARE(since_of(1), last_id);
  QVERIFY2(server.stream_requests().at(1).query.contains("%2F"),  // encoded
           qPrintable(server.stream_requests().at(1).query));
  QTRY_COMPARE_WITH_TIMEOUT(log(), ids(away) + ids(before), kWait);  // each once, no gap
  const Sale::Events live = sale.place("shoes", "buyer-4");
  send(server, live);
  QTRY_COMPARE_WITH_TIMEOUT(log(), ids(live) + ids(away) + ids(before), kWait);

  // Dropped again, for longer than the server keeps events: it replays what it still has and
  // says the rest is missing. The line sits below the replayed events: the gap is before them.
  const Sale::Events lost = sale.place("shoes", "buyer-5");
  const Sale::Events kept = sale.expire("shoes");
  server.set_replay(kept, false);
  server.set_snapshot(sale.items_json());
  server.drop_clients();
  QTRY_COMPARE_WITH_TIMEOUT(snapshots.count(), 3, kWait);
  QCOMPARE(since_of(2), live.back().value("event_id").toString());
  QTRY_COMPARE_WITH_TIMEOUT(
      log(), ids(kept) + QStringList{"gap"} + ids(live) + ids(away) + ids(before), kWait);
  QVERIFY(!log().contains(lost.front().value("event_id").toString()));

  // A since= the server cannot read is refused (close code 4400): the client starts afresh
  // rather than be refused forever, and the log notes the gap.
  const int shown = static_cast<int>(log().size());
  server.set_refuse_resume(true);
  server.drop_clients();
  QTRY_COMPARE_WITH_TIMEOUT(snapshots.count(), 4, kWait);
  QCOMPARE(server.stream_requests().size(), 5);
  QCOMPARE(since_of(3), kept.back().value("event_id").toString());
  QVERIFY(server.stream_requests().at(4).query.isEmpty());
  QCOMPARE(log().size(), shown + 1);
  QCOMPARE(log().front(), QStringLiteral("gap"));
  QCOMPARE(log().count(QStringLiteral("gap")), 2);
}

void ClientTest::rest_errors_come_in_words() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  server.route("PATCH", "/admin/items/shoes", [](const FakeAdminServer::Request&) {
    return FakeAdminServer::Response{
        409, R"({"error":"sale_closed","message":"the sale of shoes is closed"})"};
  });
  server.route("GET", "/proxy", [](const FakeAdminServer::Request&) {
    return FakeAdminServer::Response{502, "<html>bad gateway</html>", "text/html"};
  });
  server.route("GET", "/garbage", [](const FakeAdminServer::Request&) {
    return FakeAdminServer::Response{200, "items: none"};
  });
  QVector<Reply> replies;  // before the client: it outlives every answer
  AdminClient client;
  client.connect_to(server.url());
  const auto keep = [&](const Reply& r) { replies.push_back(r); };
  client.send("PATCH", "/admin/items/shoes", {{"add_stock", 1}}, this, keep);
  client.get("/proxy", this, keep);
  client.get("/garbage", this, keep);
  QTRY_COMPARE_WITH_TIMEOUT(replies.size(), 3, kWait);
  const auto answer = [&](int status) {
    const auto it = std::find_if(replies.begin(), replies.end(),
                                 [&](const Reply& r) { return r.status == status; });
    return it == replies.end() ? QString("no answer with HTTP %1").arg(status) : it->error;
  };
  QCOMPARE(answer(409), QStringLiteral("the sale of shoes is closed (sale_closed, HTTP 409)"));
  QCOMPARE(answer(502), QStringLiteral("the server answered HTTP 502 Bad Gateway to %1/proxy")
                            .arg(server.url().toString()));
  QCOMPARE(answer(200), QStringLiteral("the server's answer to %1/garbage is not a JSON object")
                            .arg(server.url().toString()));

  const QUrl gone = server.url();
  server.close();
  client.get("/admin/items", this, keep);
  QTRY_COMPARE_WITH_TIMEOUT(replies.size(), 4, kWait);
  QVERIFY2(replies[3].error.startsWith("cannot reach " + gone.toString() + "/admin/items: "),
           qPrintable(replies[3].error));

  // The answer to a caller that is gone is dropped, not delivered to freed memory.
  auto* context = new QObject;
  bool called = false;
  client.get("/admin/items", context, [&](const Reply&) { called = true; });
  delete context;
  QTest::qWait(200);
  QVERIFY(!called);
}

void ClientTest::dashboard_follows_a_scripted_sale() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  const quint16 port = server.port();
  Sale sale;
  sale.add_item("shoes", 3, 300);
  sale.add_item("hats", 10);
  for (int i = 1; i <= 5; ++i) sale.place("shoes", QStringLiteral("buyer-%1").arg(i));
  sale.serve(server);
  server.set_snapshot(sale.items_json());

  MainWindow window;
  window.show();
  auto* client = window.findChild<AdminClient*>("adminClient");
  client->set_backoff(100, 400);
  auto* inventory_view = window.findChild<QTableView*>("inventoryView");
  auto* waitlist_view = window.findChild<QTableView*>("waitlistView");
  auto* lease_view = window.findChild<QTableView*>("leaseView");
  auto* log_view = window.findChild<QTableView*>("logView");
  auto* plugin_view = window.findChild<QTableView*>("pluginView");
  auto* connection = window.findChild<QLabel*>("connectionLabel");
  QAbstractItemModelTester waitlist_tester(waitlist_view->model(),
                                           QAbstractItemModelTester::FailureReportingMode::QtTest);
  QAbstractItemModelTester lease_tester(lease_view->model(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
  QAbstractItemModelTester log_tester(log_view->model(),
                                      QAbstractItemModelTester::FailureReportingMode::QtTest);
  QAbstractItemModelTester inventory_tester(inventory_view->model(),
                                            QAbstractItemModelTester::FailureReportingMode::QtTest);

  window.connect_to(server.url());
  window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(inventory_view->model()->rowCount(), 2, kWait);
  QVERIFY(connection->text().contains("Connected"));
  QCOMPARE(inventory(inventory_view, "shoes", InventoryModel::reserved), QStringLiteral("3"));
  QCOMPARE(inventory(inventory_view, "shoes", InventoryModel::waiting), QStringLiteral("2"));
  QCOMPARE(inventory(inventory_view, "shoes", InventoryModel::state), QStringLiteral("sold out"));
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 2, kWait);
  QCOMPARE(cell(waitlist_view, 0, 0), QStringLiteral("1"));
  QCOMPARE(cell(waitlist_view, 0, 2), QStringLiteral("buyer-4"));
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 3, kWait);
  QCOMPARE(cell(lease_view, 0, 1), QStringLiteral("buyer-1"));
  const QString left = cell(lease_view, 0, LeaseModel::remaining);
  QVERIFY2(left.startsWith("4:5") || left == "5:00", qPrintable(left));
  QTRY_COMPARE_WITH_TIMEOUT(plugin_view->model()->rowCount(), 3, kWait);
  QCOMPARE(cell(plugin_view, 2, 3), QStringLiteral("failing: 3 clients too slow"));

  // A latecomer joins the tail; the soonest lease expires and the head is promoted into it.
  send(server, sale.place("shoes", "buyer-6"));
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 3, kWait);
  QCOMPARE(cell(waitlist_view, 2, 2), QStringLiteral("buyer-6"));
  send(server, sale.expire("shoes"));
  QTRY_COMPARE_WITH_TIMEOUT(cell(waitlist_view, 0, 0), QStringLiteral("→ lease"), kWait);
  QCOMPARE(cell(waitlist_view, 1, 0), QStringLiteral("1"));
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 2, kWait);  // it left the head
  QCOMPARE(cell(waitlist_view, 0, 2), QStringLiteral("buyer-5"));
  QCOMPARE(cell(lease_view, 0, 1), QStringLiteral("buyer-2"));  // buyer-1's lease is gone
  QCOMPARE(cell(lease_view, 2, 1), QStringLiteral("buyer-4"));  // the promoted one's is last
  QCOMPARE(lease_view->model()->rowCount(), 3);
  // buyer-2 pays.
  send(server, sale.confirm("shoes", sale.item("shoes").leases.front().order));
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 2, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(inventory(inventory_view, "shoes", InventoryModel::confirmed),
                            QStringLiteral("1"), kWait);
  QCOMPARE(inventory(inventory_view, "shoes", InventoryModel::reserved), QStringLiteral("2"));
  QCOMPARE(inventory(inventory_view, "shoes", InventoryModel::sold), QStringLiteral("33.3 %"));
  // The activity log has them all, newest first, and filters by type.
  QCOMPARE(cell(log_view, 0, 1), QStringLiteral("order.confirmed"));
  auto* type_filter = window.findChild<QComboBox*>("logTypeFilter");
  type_filter->setCurrentIndex(type_filter->findData("order.expired"));
  QCOMPARE(log_view->model()->rowCount(), 1);
  type_filter->setCurrentIndex(0);

  // The connection drops; meanwhile the sale moves on unseen. After the reconnect the views
  // show the new state, not the old one.
  const int line_reads = server.count("/admin/items/shoes/waitlist");
  QSignalSpy states(client, &AdminClient::state_changed);
  server.drop_clients();
  sale.place("shoes", "buyer-7");
  sale.expire("shoes");
  sale.expire("shoes");
  server.set_snapshot(sale.items_json());
  QTRY_VERIFY_WITH_TIMEOUT(server.count("/admin/items/shoes/waitlist") > line_reads, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 1, kWait);
  QCOMPARE(cell(waitlist_view, 0, 2), QStringLiteral("buyer-7"));
  QTRY_COMPARE_WITH_TIMEOUT(cell(lease_view, 1, 1), QStringLiteral("buyer-6"), kWait);
  QCOMPARE(inventory(inventory_view, "shoes", InventoryModel::waiting), QStringLiteral("1"));
  QVERIFY(connection->text().contains("Connected"));
  QVERIFY(std::any_of(states.begin(), states.end(), [](const QList<QVariant>& s) {
    return s.at(0).value<AdminClient::State>() == AdminClient::State::reconnecting;
  }));

  // Down for a while: the status bar says so, then recovers by itself.
  server.close();
  QTRY_VERIFY_WITH_TIMEOUT(connection->text().startsWith("Reconnecting: retry in"), kWait);
  QVERIFY(server.listen(port));
  QTRY_VERIFY_WITH_TIMEOUT(connection->text().contains("Connected"), kWait);
}

void ClientTest::actions_are_confirmed_and_errors_shown() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 2, 300);
  sale.add_item("hats", 10);
  for (int i = 1; i <= 4; ++i) sale.place("shoes", QStringLiteral("buyer-%1").arg(i));
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  server.route("PATCH", "/admin/items/hats", [](const FakeAdminServer::Request&) {
    return FakeAdminServer::Response{
        409, R"({"error":"sale_closed","message":"the sale of hats is closed"})"};
  });

  MainWindow window;
  window.show();
  auto* inventory_view = window.findChild<QTableView*>("inventoryView");
  auto* waitlist_view = window.findChild<QTableView*>("waitlistView");
  auto* lease_view = window.findChild<QTableView*>("leaseView");
  auto* restock = window.findChild<QAction*>("restockAction");
  auto* pause = window.findChild<QAction*>("pauseAction");
  auto* expire = window.findChild<QAction*>("expireAction");
  window.connect_to(server.url());
  window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 2, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 2, kWait);
  QVERIFY(restock->isEnabled());
  QVERIFY(!expire->isEnabled());  // no lease selected

  // Restock: how many, then "are you sure", then the request; the line gets the units first.
  restock->trigger();
  QInputDialog* units = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((units = open_dialog<QInputDialog>(window, "restockDialog")), kWait);
  units->setIntValue(3);
  units->accept();
  QMessageBox* box = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  QVERIFY(box->text().contains("Add 3 units to shoes"));
  box->button(QMessageBox::Yes)->click();
  QTRY_VERIFY_WITH_TIMEOUT(has_request(server, "PATCH", "/admin/items/shoes", {{"add_stock", 3}}),
                           kWait);
  QTRY_COMPARE_WITH_TIMEOUT(inventory(inventory_view, "shoes", InventoryModel::total),
                            QStringLiteral("5"), kWait);
  QCOMPARE(inventory(inventory_view, "shoes", InventoryModel::available), QStringLiteral("1"));
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 4, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 0, kWait);

  // Pause, cancelled: nothing is sent. Then confirmed.
  pause->trigger();
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  QVERIFY(box->text().startsWith("Pause the sale of shoes?"));
  box->button(QMessageBox::Cancel)->click();
  QTest::qWait(100);
  QVERIFY(!has_request(server, "PATCH", "/admin/items/shoes", {{"paused", true}}));
  pause->trigger();
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  box->button(QMessageBox::Yes)->click();
  QTRY_COMPARE_WITH_TIMEOUT(inventory(inventory_view, "shoes", InventoryModel::state),
                            QStringLiteral("paused"), kWait);
  QVERIFY(has_request(server, "PATCH", "/admin/items/shoes", {{"paused", true}}));
  QCOMPARE(pause->text(), QStringLiteral("Resume"));

  // Expire the selected lease.
  lease_view->setCurrentIndex(lease_view->model()->index(0, 0));
  QVERIFY(expire->isEnabled());
  const QString order = sale.item("shoes").leases.front().order;
  expire->trigger();
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  QVERIFY(box->text().contains(order));
  box->button(QMessageBox::Yes)->click();
  QTRY_VERIFY_WITH_TIMEOUT(has_request(server, "POST", "/admin/orders/" + order + "/expire"),
                           kWait);
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 3, kWait);

  // The server refuses: the operator reads its reason.
  window.select_item("hats");
  QTRY_VERIFY_WITH_TIMEOUT(restock->isEnabled(), kWait);
  restock->trigger();
  QTRY_VERIFY_WITH_TIMEOUT((units = open_dialog<QInputDialog>(window, "restockDialog")), kWait);
  units->accept();
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  box->button(QMessageBox::Yes)->click();
  QMessageBox* error = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((error = open_dialog<QMessageBox>(window, "errorBox")), kWait);
  QCOMPARE(error->text(), QStringLiteral("Restock hats with 10 units failed: the sale of hats is "
                                         "closed (sale_closed, HTTP 409)"));
  error->button(QMessageBox::Ok)->click();

  // Create an item: the form, the confirmation, and the new item is selected once it exists.
  window.findChild<QAction*>("createAction")->trigger();
  CreateItemDialog* form = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((form = open_dialog<CreateItemDialog>(window, "createItemDialog")),
                           kWait);
  form->findChild<QLineEdit*>("itemId")->setText("caps");
  form->findChild<QLineEdit*>("itemName")->setText("Caps");
  form->findChild<QSpinBox*>("totalStock")->setValue(25);
  form->accept();
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  box->button(QMessageBox::Yes)->click();
  QTRY_VERIFY_WITH_TIMEOUT(row_of(inventory_view, "caps") >= 0, kWait);
  QCOMPARE(inventory(inventory_view, "caps", InventoryModel::available), QStringLiteral("25"));
  QTRY_COMPARE_WITH_TIMEOUT(
      cell(inventory_view, inventory_view->currentIndex().row(), InventoryModel::id),
      QStringLiteral("caps"), kWait);
  QVERIFY(has_request(server, "POST", "/admin/items",
                      {{"id", "caps"},
                       {"name", "Caps"},
                       {"total_stock", 25},
                       {"payment_window_s", 600},
                       {"per_user_limit", 1},
                       {"paused", false}}));
}

void ClientTest::item_states_follow_the_clock() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("drop", 10);
  sale.add_item("ending", 10);
  const QDateTime now = QDateTime::currentDateTimeUtc();
  const QDateTime opens = now.addMSecs(3000);
  const QDateTime closes = now.addMSecs(2000);
  sale.schedule("drop", opens, {});
  sale.schedule("ending", {}, closes);
  sale.serve(server);
  server.set_snapshot(sale.items_json());  // no server_time: this machine's clock counts

  MainWindow window;
  window.show();
  auto* view = window.findChild<QTableView*>("inventoryView");
  window.connect_to(server.url());
  QTRY_COMPARE_WITH_TIMEOUT(view->model()->rowCount(), 2, kWait);
  const QString scheduled = inventory(view, "drop", InventoryModel::state);
  QVERIFY2(QRegularExpression("^scheduled \\(opens in 0:0[1-3]\\)$").match(scheduled).hasMatch(),
           qPrintable(scheduled));
  QCOMPARE(inventory(view, "ending", InventoryModel::state), QStringLiteral("on sale"));

  // Each row changes when its time comes, with no event and no refresh: the view is told
  // (dataChanged) not before, and within the second after.
  QDateTime opened_at;
  QDateTime closed_at;
  const auto told = [&](const QModelIndex& top_left, const QModelIndex& bottom_right) {
    const QDateTime t = QDateTime::currentDateTimeUtc();
    const auto covers = [&](const QString& item) {
      const int row = row_of(view, item);
      return top_left.row() <= row && row <= bottom_right.row() &&
             top_left.column() <= InventoryModel::state &&
             InventoryModel::state <= bottom_right.column();
    };
    if (!opened_at.isValid() && covers("drop") &&
        inventory(view, "drop", InventoryModel::state) == QLatin1String("on sale")) {
      opened_at = t;
    }
    if (!closed_at.isValid() && covers("ending") &&
        inventory(view, "ending", InventoryModel::state) == QLatin1String("closed")) {
      closed_at = t;
    }
  };
  const auto watch = connect(view->model(), &QAbstractItemModel::dataChanged, this, told);
  QElapsedTimer waited;
  waited.start();
  while ((!opened_at.isValid() || !closed_at.isValid()) && waited.elapsed() < kWait) {
    QTest::qWait(20);
  }
  disconnect(watch);
  QVERIFY(opened_at.isValid());
  QVERIFY(closed_at.isValid());
  const qint64 open_late = opens.msecsTo(opened_at);
  const qint64 close_late = closes.msecsTo(closed_at);
  qInfo("shown %lld ms after opens_at, %lld ms after closes_at", open_late, close_late);
  QVERIFY2(open_late >= -20 && open_late <= 1500, qPrintable(QString::number(open_late)));
  QVERIFY2(close_late >= -20 && close_late <= 1500, qPrintable(QString::number(close_late)));
}

void ClientTest::countdowns_follow_the_server_clock() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  constexpr qint64 kAhead = qint64{3600} * 1000;  // the server's clock is an hour ahead of this one
  Sale sale;
  sale.set_clock_offset_ms(kAhead);
  sale.add_item("drop", 10);
  sale.add_item("shoes", 2, 300);
  sale.schedule("drop", sale.now().addMSecs(3000), {});
  sale.place("shoes", "buyer-1");  // a lease until the server's now + 5 min
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  server.set_server_clock(kAhead);

  MainWindow window;
  window.show();
  auto* view = window.findChild<QTableView*>("inventoryView");
  auto* lease_view = window.findChild<QTableView*>("leaseView");
  window.connect_to(server.url());
  window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(view->model()->rowCount(), 2, kWait);
  // On this machine's clock "drop" would open in 1:00:03, and the lease end in 1:04:59.
  const QString scheduled = inventory(view, "drop", InventoryModel::state);
  QVERIFY2(QRegularExpression("^scheduled \\(opens in 0:0[1-3]\\)$").match(scheduled).hasMatch(),
           qPrintable(scheduled));
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 1, kWait);
  const QString left = cell(lease_view, 0, LeaseModel::remaining);
  QVERIFY2(left.startsWith("4:5") || left == "5:00", qPrintable(left));
  QTRY_COMPARE_WITH_TIMEOUT(inventory(view, "drop", InventoryModel::state),
                            QStringLiteral("on sale"), 5000);
  const QString connection = window.findChild<QLabel*>("connectionLabel")->text();
  QVERIFY2(connection.contains("server clock 1:00:00 ahead of this machine"),
           qPrintable(connection));
}

void ClientTest::stale_data_looks_stale() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  const quint16 port = server.port();
  Sale sale;
  sale.add_item("shoes", 2, 300);
  for (int i = 1; i <= 3; ++i) sale.place("shoes", QStringLiteral("buyer-%1").arg(i));
  sale.serve(server);
  server.set_snapshot(sale.items_json());

  MainWindow window;
  window.show();
  window.findChild<AdminClient*>("adminClient")->set_backoff(100, 400);
  auto* lease_view = window.findChild<QTableView*>("leaseView");
  auto* plugin_view = window.findChild<QTableView*>("pluginView");
  auto* connection = window.findChild<QLabel*>("connectionLabel");
  QList<QTableView*> views;
  for (const char* name : {"inventoryView", "waitlistView", "leaseView", "logView", "pluginView"}) {
    views << window.findChild<QTableView*>(name);
  }
  window.connect_to(server.url());
  window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 2, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(plugin_view->model()->rowCount(), 3, kWait);
  const QColor live_base = views[0]->palette().color(QPalette::Base);
  for (QTableView* view : views) {
    QVERIFY2(!view->property("stale").toBool(), qPrintable(view->objectName()));
  }
  const auto counting = [&] {
    const QString left = cell(lease_view, 0, LeaseModel::remaining);
    return left == QLatin1String("5:00") || left.startsWith("4:");
  };
  QVERIFY(counting());

  // The server goes away: everything still shown is what was known when it left, and looks it.
  server.close();
  QTRY_VERIFY_WITH_TIMEOUT(connection->text().startsWith("Reconnecting: retry in"), kWait);
  QVERIFY2(connection->text().contains(server.url().toString()), qPrintable(connection->text()));
  for (QTableView* view : views) {
    QVERIFY2(view->property("stale").toBool(), qPrintable(view->objectName()));
    QVERIFY2(view->palette().color(QPalette::Base) != live_base, qPrintable(view->objectName()));
  }
  // The countdowns stop: whether those leases still run is not known.
  QCOMPARE(cell(lease_view, 0, LeaseModel::remaining), QStringLiteral("—"));
  QVERIFY(!lease_view->model()->index(0, 0).data(Qt::BackgroundRole).isValid());
  QCOMPARE(cell(plugin_view, 0, PluginModel::health), QStringLiteral("unknown"));
  QCOMPARE(cell(plugin_view, 2, PluginModel::health), QStringLiteral("unknown"));

  // Back: live again, counting again, the plugins' health read again.
  QVERIFY(server.listen(port));
  QTRY_VERIFY_WITH_TIMEOUT(connection->text().contains("Connected"), kWait);
  for (QTableView* view : views) {
    QVERIFY2(!view->property("stale").toBool(), qPrintable(view->objectName()));
    QCOMPARE(view->palette().color(QPalette::Base), live_base);
  }
  QTRY_VERIFY_WITH_TIMEOUT(counting(), kWait);
  QTRY_COMPARE_WITH_TIMEOUT(cell(plugin_view, 0, PluginModel::health),
                            QStringLiteral("ok: pool 8/8"), kWait);
}

void ClientTest::only_a_server_that_answered_is_remembered() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 2);
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  {
    MainWindow window;
    window.show();
    window.connect_to(server.url());
    QTRY_VERIFY_WITH_TIMEOUT(
        window.findChild<QLabel*>("connectionLabel")->text().contains("Connected"), kWait);
  }
  QCOMPARE(MainWindow::remembered_server(), server.url());

  // A wrong address, tried once: the next start still opens the server that worked.
  const QUrl wrong(QStringLiteral("http://127.0.0.1:1"));
  {
    MainWindow window;
    window.show();
    window.connect_to(wrong);
    auto* connection = window.findChild<QLabel*>("connectionLabel");
    QTRY_VERIFY_WITH_TIMEOUT(connection->text().startsWith("Reconnecting"), kWait);
    QVERIFY2(connection->text().contains(wrong.toString()), qPrintable(connection->text()));
  }
  QCOMPARE(MainWindow::remembered_server(), server.url());
}

void ClientTest::a_refused_create_keeps_the_form() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 2);
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  MainWindow window;
  window.show();
  auto* inventory_view = window.findChild<QTableView*>("inventoryView");
  window.connect_to(server.url());
  QTRY_COMPARE_WITH_TIMEOUT(inventory_view->model()->rowCount(), 1, kWait);

  // "shoes" exists: the server refuses, the form stays open and filled in, and says why.
  window.findChild<QAction*>("createAction")->trigger();
  QPointer<CreateItemDialog> form;
  QTRY_VERIFY_WITH_TIMEOUT((form = open_dialog<CreateItemDialog>(window, "createItemDialog")),
                           kWait);
  form->findChild<QLineEdit*>("itemId")->setText("shoes");
  form->findChild<QLineEdit*>("itemName")->setText("More shoes");
  form->findChild<QSpinBox*>("totalStock")->setValue(7);
  form->accept();
  QMessageBox* box = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  box->button(QMessageBox::Yes)->click();
  QTRY_VERIFY_WITH_TIMEOUT(has_request(server, "POST", "/admin/items"), kWait);
  QTRY_VERIFY_WITH_TIMEOUT(form && form->isVisible() && form->findChild<QLabel*>("createError") &&
                               form->findChild<QLabel*>("createError")->isVisible(),
                           kWait);
  QCOMPARE(form->findChild<QLabel*>("createError")->text(),
           QStringLiteral("item shoes exists (already_exists, HTTP 409)"));
  QCOMPARE(form->findChild<QLineEdit*>("itemName")->text(), QStringLiteral("More shoes"));
  QCOMPARE(form->findChild<QSpinBox*>("totalStock")->value(), 7);

  // Another id, an opening and a closing time and a line limit: created, the form closes.
  auto* opens_set = form->findChild<QCheckBox*>("opensAtSet");
  auto* opens = form->findChild<QDateTimeEdit*>("opensAt");
  auto* closes_set = form->findChild<QCheckBox*>("closesAtSet");
  auto* closes = form->findChild<QDateTimeEdit*>("closesAt");
  auto* line_set = form->findChild<QCheckBox*>("waitlistLimitSet");
  auto* line = form->findChild<QSpinBox*>("waitlistLimit");
  QVERIFY(opens_set && opens && closes_set && closes && line_set && line);
  QVERIFY(!opens->isEnabled());  // unset until ticked
  const QDateTime now = QDateTime::currentDateTime();
  const QDateTime open_at = now.addSecs(3600).addMSecs(-now.time().msec());
  opens_set->setChecked(true);
  opens->setDateTime(open_at);
  closes_set->setChecked(true);
  closes->setDateTime(open_at.addSecs(7200));
  line_set->setChecked(true);
  line->setValue(50);
  form->findChild<QLineEdit*>("itemId")->setText("boots");
  form->accept();
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  box->button(QMessageBox::Yes)->click();
  QTRY_VERIFY_WITH_TIMEOUT(!form || !form->isVisible(), kWait);
  QVERIFY(!open_dialog<QMessageBox>(window, "errorBox"));
  QVERIFY(has_request(server, "POST", "/admin/items",
                      {{"id", "boots"},
                       {"name", "More shoes"},
                       {"total_stock", 7},
                       {"payment_window_s", 600},
                       {"per_user_limit", 1},
                       {"waitlist_limit", 50},
                       {"opens_at", open_at.toUTC().toString(Qt::ISODateWithMs)},
                       {"closes_at", open_at.addSecs(7200).toUTC().toString(Qt::ISODateWithMs)},
                       {"paused", false}}));
  QVERIFY(open_at.toUTC().toString(Qt::ISODateWithMs).endsWith(".000Z"));
  // It appears, is selected, and says when it opens.
  QTRY_COMPARE_WITH_TIMEOUT(
      cell(inventory_view, inventory_view->currentIndex().row(), InventoryModel::id),
      QStringLiteral("boots"), kWait);
  QTRY_VERIFY_WITH_TIMEOUT(
      inventory(inventory_view, "boots", InventoryModel::state).startsWith("scheduled (opens in"),
      kWait);
}

void ClientTest::close_sale_is_confirmed() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 2);
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  MainWindow window;
  window.show();
  auto* inventory_view = window.findChild<QTableView*>("inventoryView");
  auto* close = window.findChild<QAction*>("closeSaleAction");
  QVERIFY(close);
  window.connect_to(server.url());
  window.select_item("shoes");
  QTRY_VERIFY_WITH_TIMEOUT(close->isEnabled(), kWait);

  // Cancelled: nothing is sent.
  close->trigger();
  QMessageBox* box = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  QVERIFY2(box->text().startsWith("Close the sale of shoes now?"), qPrintable(box->text()));
  box->button(QMessageBox::Cancel)->click();
  QTest::qWait(100);
  QVERIFY(!has_request(server, "PATCH", "/admin/items/shoes"));

  close->trigger();
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  const QDateTime asked = QDateTime::currentDateTimeUtc();
  box->button(QMessageBox::Yes)->click();
  QTRY_VERIFY_WITH_TIMEOUT(has_request(server, "PATCH", "/admin/items/shoes"), kWait);
  const auto patch = std::find_if(server.requests().begin(), server.requests().end(),
                                  [](const auto& r) { return r.method == "PATCH"; });
  const QJsonObject body = QJsonDocument::fromJson(patch->body).object();
  QCOMPARE(body.keys(), QStringList{"closes_at"});
  const QString at = body.value("closes_at").toString();
  QVERIFY2(at.endsWith('Z'), qPrintable(at));  // RFC 3339 UTC
  const QDateTime closes_at = QDateTime::fromString(at, Qt::ISODateWithMs);
  QVERIFY2(qAbs(asked.msecsTo(closes_at)) < 5000, qPrintable(at));
  QTRY_COMPARE_WITH_TIMEOUT(inventory(inventory_view, "shoes", InventoryModel::state),
                            QStringLiteral("closed"), kWait);
  QTRY_VERIFY_WITH_TIMEOUT(!close->isEnabled(), kWait);  // closed already
}

void ClientTest::jobs_are_listed_counted_and_retried() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 2);
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  server.serve_jobs();
  const QString link_dead =
      server.add_job("make_payment_link", "dead", "provider answered 503", {{"order_id", "o-1"}});
  server.add_job("refund", "dead", "connection refused");
  server.add_job("expire_leases", "running");
  for (int i = 0; i < 2; ++i) server.add_job("expire_leases", "queued");
  server.add_job("close_sale", "queued");
  for (int i = 0; i < 4; ++i) server.add_job("make_payment_link", "done");

  MainWindow window;
  window.show();
  auto* view = window.findChild<QTableView*>("jobView");
  auto* counts = window.findChild<QTableWidget*>("jobCounts");
  auto* retry = window.findChild<QAction*>("retryJobAction");
  auto* timer = window.findChild<QTimer*>("jobsRefreshTimer");
  QVERIFY(view && counts && retry && timer);
  QAbstractItemModelTester tester(view->model(),
                                  QAbstractItemModelTester::FailureReportingMode::QtTest);
  timer->setInterval(300);
  window.connect_to(server.url());
  QTRY_COMPARE_WITH_TIMEOUT(view->model()->rowCount(), 10, kWait);
  // Every list is asked for by its state (the API's default is dead only).
  int lists = 0;
  for (const auto& r : server.requests()) {
    if (r.path != QLatin1String("/admin/jobs")) continue;
    ++lists;
    QVERIFY2(
        QRegularExpression("(^|&)state=(queued|running|done|dead)(&|$)").match(r.query).hasMatch(),
        qPrintable(r.query));
  }
  QVERIFY(lists >= 4);
  // Dead jobs first, with why they died.
  const int error_column = column_titled(view, "Last error");
  QVERIFY(error_column >= 0);
  QCOMPARE(cell(view, 0, 2), QStringLiteral("dead"));
  QCOMPARE(cell(view, 1, 2), QStringLiteral("dead"));
  int dead_row = -1;
  for (int row = 0; row < view->model()->rowCount(); ++row) {
    if (cell(view, row, 0) == link_dead) dead_row = row;
  }
  QVERIFY(dead_row >= 0);
  QCOMPARE(cell(view, dead_row, error_column), QStringLiteral("provider answered 503"));
  // Counts by kind and state.
  QCOMPARE(table_cell(counts, "make_payment_link", "dead"), QStringLiteral("1"));
  QCOMPARE(table_cell(counts, "make_payment_link", "done"), QStringLiteral("4"));
  QCOMPARE(table_cell(counts, "expire_leases", "queued"), QStringLiteral("2"));
  QCOMPARE(table_cell(counts, "expire_leases", "running"), QStringLiteral("1"));
  QCOMPARE(table_cell(counts, "all", "dead"), QStringLiteral("2"));
  QCOMPARE(table_cell(counts, "all", "queued"), QStringLiteral("3"));

  // Only a dead job can be retried; confirmed first, then it is queued again.
  view->setCurrentIndex(view->model()->index(view->model()->rowCount() - 1, 0));  // a done one
  QVERIFY(!retry->isEnabled());
  view->setCurrentIndex(view->model()->index(dead_row, 0));
  QVERIFY(retry->isEnabled());
  retry->trigger();
  QMessageBox* box = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  QVERIFY2(box->text().contains(link_dead) && box->text().contains("make_payment_link"),
           qPrintable(box->text()));
  box->button(QMessageBox::Yes)->click();
  QTRY_VERIFY_WITH_TIMEOUT(has_request(server, "POST", "/admin/jobs/" + link_dead + "/retry"),
                           kWait);
  QCOMPARE(server.job(link_dead).value("state").toString(), QStringLiteral("queued"));
  QTRY_COMPARE_WITH_TIMEOUT(table_cell(counts, "all", "dead"), QStringLiteral("1"), kWait);
  QCOMPARE(table_cell(counts, "make_payment_link", "queued"), QStringLiteral("1"));

  // Refreshed on the timer while connected: a job that died meanwhile shows up.
  server.add_job("refund", "dead", "provider answered 500");
  QTRY_COMPARE_WITH_TIMEOUT(table_cell(counts, "refund", "dead"), QStringLiteral("2"), kWait);
  // The state filter.
  auto* filter = window.findChild<QComboBox*>("jobStateFilter");
  QVERIFY(filter);
  filter->setCurrentIndex(filter->findData("dead"));
  QCOMPARE(view->model()->rowCount(), 2);
}

void ClientTest::expiring_a_lease_selects_no_other() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 3, 300);
  for (int i = 1; i <= 3; ++i) sale.place("shoes", QStringLiteral("buyer-%1").arg(i));
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  MainWindow window;
  window.show();
  auto* lease_view = window.findChild<QTableView*>("leaseView");
  auto* expire = window.findChild<QAction*>("expireAction");
  window.connect_to(server.url());
  window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 3, kWait);

  lease_view->setCurrentIndex(lease_view->model()->index(1, 0));
  const QString order = cell(lease_view, 1, LeaseModel::order);
  expire->trigger();
  QMessageBox* box = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(window, "confirmBox")), kWait);
  QVERIFY(box->text().contains(order));
  box->button(QMessageBox::Yes)->click();
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 2, kWait);
  // The expired lease left; no other lease is now the one a second Expire would end.
  QVERIFY(lease_view->selectionModel()->selectedRows().isEmpty());
  QVERIFY(!lease_view->currentIndex().isValid());
  QVERIFY(!expire->isEnabled());
}

void ClientTest::ids_and_labels_read_well() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 1, 300);
  sale.add_item("hats", 5);
  const QString user = "buyer-0f3a9c1e-77d2-4b8e-a945-20";
  sale.place("shoes", user);
  sale.place("shoes", user + "-b");
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  MainWindow window;
  window.show();
  auto* waitlist_view = window.findChild<QTableView*>("waitlistView");
  auto* lease_view = window.findChild<QTableView*>("leaseView");
  auto* waitlist_label = window.findChild<QLabel*>("waitlistLabel");
  auto* lease_label = window.findChild<QLabel*>("leaseLabel");
  window.connect_to(server.url());
  window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 1, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 1, kWait);

  // User ids end at the right ("buyer-0f3a9c…"), and the whole id is in the tooltip.
  for (QTableView* view : {lease_view, waitlist_view}) {
    const int user_column = view == lease_view ? int(LeaseModel::user) : int(WaitlistModel::user);
    const int order_column =
        view == lease_view ? int(LeaseModel::order) : int(WaitlistModel::order);
    QVERIFY2(qobject_cast<ElideRightDelegate*>(view->itemDelegateForColumn(user_column)),
             qPrintable(view->objectName()));
    const QModelIndex at = view->model()->index(0, user_column);
    QCOMPARE(at.data(Qt::ToolTipRole).toString(), at.data().toString());
    QVERIFY(at.data().toString().startsWith(user));
    const QModelIndex order = view->model()->index(0, order_column);
    QCOMPARE(order.data(Qt::ToolTipRole).toString(), order.data().toString());
  }
  QCOMPARE(waitlist_label->text(), QStringLiteral("<b>shoes</b>: 1 waiting"));
  QCOMPARE(lease_label->text(), QStringLiteral("<b>shoes</b>: 1 active, soonest expiry first"));

  // Nothing to show says so, not "0 waiting; the first 0 shown".
  window.select_item("hats");
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_label->text(), QStringLiteral("<b>hats</b>: nobody waiting"),
                            kWait);
  QCOMPARE(lease_label->text(), QStringLiteral("<b>hats</b>: no active leases"));
}

void ClientTest::placements_of_the_selected_item_are_charted() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 1, 300);
  sale.add_item("hats", 5);
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  // The service's answer: this second and the one before, with refusals and latency.
  server.route("GET", "/admin/items/shoes/placements", [](const FakeAdminServer::Request&) {
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    const QJsonArray seconds{
        QJsonObject{{"at", now - 2},
                    {"outcomes", QJsonObject{{"accepted", 50}, {"limit_exceeded", 4}}},
                    {"p99_ms", 8.2}},
        QJsonObject{{"at", now - 1},
                    {"outcomes", QJsonObject{{"accepted", 1}, {"sold_out", 30}}},
                    {"p99_ms", 2.5}}};
    return FakeAdminServer::Response{
        200,
        QJsonDocument(QJsonObject{{"item_id", "shoes"}, {"window_s", 300}, {"seconds", seconds}})
            .toJson(QJsonDocument::Compact)};
  });
  MainWindow window;
  window.show();
  window.connect_to(server.url());
  auto* chart = window.findChild<PlacementChart*>("placementChart");
  QVERIFY(chart && chart->isVisible());
  const auto names = [chart] {
    QStringList out;
    for (QAbstractSeries* s : chart->chart()->series()) out << s->name();
    return out;
  };
  QTRY_VERIFY_WITH_TIMEOUT(
      window.findChild<QLabel*>("connectionLabel")->text().contains("Connected"), kWait);
  QCOMPARE(server.count("/admin/items/shoes/placements"), 0);  // nothing selected
  window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(names(), (QStringList{"p99 ms (right)", "limit_exceeded", "sold_out"}),
                            kWait);
  QVERIFY(chart->chart()->title().startsWith("shoes: "));
  // Read again every second while selected and connected.
  const int reads = server.count("/admin/items/shoes/placements");
  QTRY_VERIFY_WITH_TIMEOUT(server.count("/admin/items/shoes/placements") >= reads + 2, kWait);
  // An item the server has no placements route for: its answer, in words, in the title.
  window.select_item("hats");
  QTRY_VERIFY_WITH_TIMEOUT(chart->chart()->title().contains("404"), kWait);
  QCOMPARE(names(), QStringList{"p99 ms (right)"});
}

void ClientTest::the_activity_chart_shows_the_minutes_before_connecting() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 1, 300);
  sale.add_item("hats", 5);
  sale.serve(server);
  server.set_snapshot(sale.items_json());
  // What the service counted before the dashboard connected, a minute and a half ago: joins
  // and reservations differ by item (and for all items).
  const qint64 then = QDateTime::currentSecsSinceEpoch() - 90;
  server.route("GET", "/admin/activity", [then](const FakeAdminServer::Request& request) {
    const int n = request.query == QStringLiteral("item=shoes")  ? 40
                  : request.query == QStringLiteral("item=hats") ? 20
                                                                 : 60;
    const QJsonObject second{
        {"at", then}, {"joins", n}, {"reservations", n - 10}, {"promotions", 5}, {"expiries", 7}};
    return FakeAdminServer::Response{
        200, QJsonDocument(QJsonObject{{"window_s", 300},
                                       {"now", QDateTime::currentSecsSinceEpoch()},
                                       {"seconds", QJsonArray{second}}})
                 .toJson(QJsonDocument::Compact)};
  });
  MainWindow window;
  window.show();
  window.connect_to(server.url());
  const QChart* chart = window.findChild<ThroughputChart*>("throughputChart")->chart();
  // The chart's series, widest first: joins, reservations, expiries, promotions; each one's
  // value in the second `then`.
  const auto at_then = [chart, then] {
    QList<int> values;
    for (const QAbstractSeries* s : chart->series()) {
      int value = -1;
      for (const QPointF& p : static_cast<const QLineSeries*>(s)->points()) {
        if (static_cast<qint64>(p.x()) == then * 1000) value = static_cast<int>(p.y());
      }
      values << value;
    }
    return values;
  };
  window.select_item("hats");
  QTRY_COMPARE_WITH_TIMEOUT(at_then(), (QList<int>{20, 10, 7, 5}), kWait);
  QCOMPARE(chart->title(), QStringLiteral("hats"));
  window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(at_then(), (QList<int>{40, 30, 7, 5}), kWait);
  // Asked once per connection and item, not every second.
  const int asked = server.count("/admin/activity");
  QTest::qWait(2500);
  QCOMPARE(server.count("/admin/activity"), asked);
  // After a reconnect (events may have been missed meanwhile), asked again.
  server.drop_clients();
  QTRY_COMPARE_WITH_TIMEOUT(server.count("/admin/activity"), asked + 1, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(at_then(), (QList<int>{40, 30, 7, 5}), kWait);
}

void ClientTest::a_tab_is_shown_by_its_name() {
  MainWindow window;  // --tab NAME
  auto* tabs = window.findChild<QTabWidget*>("sideTabs");
  QCOMPARE(tabs->currentIndex(), 0);
  QCOMPARE(tabs->count(), MainWindow::kTabs.size());
  QVERIFY(window.show_tab("jobs"));
  QCOMPARE(tabs->currentWidget()->objectName(), QStringLiteral("jobsPane"));
  QVERIFY(window.show_tab("orders"));
  QCOMPARE(tabs->tabText(tabs->currentIndex()), QStringLiteral("Orders"));
  QVERIFY(!window.show_tab("Jobs"));
  QVERIFY(!window.show_tab(""));
  QCOMPARE(tabs->tabText(tabs->currentIndex()), QStringLiteral("Orders"));
}

QTEST_MAIN(ClientTest)
#include "client_test.moc"
