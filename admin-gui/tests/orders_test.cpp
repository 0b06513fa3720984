// The Orders tab and the Whole line tab against a real HTTP server on port 0 (FakeAdminServer
// serving orders as the service does, and a scripted Sale): an order found by id with its
// history, a user's orders then one selected, cancel and expire behind their confirmations, the
// words for an unknown or malformed id and a refusal; the line paged with offset/limit, and an
// order found in it on its page.
#include <QAction>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QStandardPaths>
#include <QTableView>
#include <QUrlQuery>
#include <QtTest>

#include "main_window.hpp"
#include "support/fake_admin_server.hpp"
#include "support/sale.hpp"

using namespace flashsale::admin;
using flashsale::admin::testing::FakeAdminServer;
using flashsale::admin::testing::Sale;

namespace {

constexpr int kWait = 10000;  // generous: the CI machine is small and busy

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

// The requests for `path` with `method`, in order.
QVector<FakeAdminServer::Request> requests(const FakeAdminServer& server, const QByteArray& method,
                                           const QString& path) {
  QVector<FakeAdminServer::Request> out;
  for (const auto& r : server.requests()) {
    if (r.method == method && r.path == path) out.push_back(r);
  }
  return out;
}

QString time_ago(int seconds) {
  return Sale::time(QDateTime::currentDateTimeUtc().addSecs(-seconds));
}

// An order as GET /admin/orders/{id} answers it.
QJsonObject order(qint64 n, const QString& user, const QString& item, const QString& status,
                  const QJsonArray& history, const QJsonObject& extra = {}) {
  QJsonObject o{{"id", Sale::order_id(n)},
                {"item_id", item},
                {"user_id", user},
                {"status", status},
                {"created_at", time_ago(600 - static_cast<int>(n))},
                {"updated_at", time_ago(60)},
                {"history", history}};
  for (auto it = extra.begin(); it != extra.end(); ++it) o.insert(it.key(), it.value());
  return o;
}

QJsonObject entry(int seconds_ago, const char* what, const QJsonObject& extra = {}) {
  QJsonObject e{{"at", time_ago(seconds_ago)}, {"what", what}};
  for (auto it = extra.begin(); it != extra.end(); ++it) e.insert(it.key(), it.value());
  return e;
}

// The history's "What" column, oldest first.
QStringList whats(const QTableView* view) {
  QStringList out;
  for (int row = 0; row < view->model()->rowCount(); ++row) out << cell(view, row, 1);
  return out;
}

struct Window {
  explicit Window(FakeAdminServer& server, Sale& sale) {
    sale.serve(server);
    server.set_snapshot(sale.items_json());
    server.serve_orders();
    window.show();
    window.connect_to(server.url());
  }
  template <typename T>
  T* find(const char* name) {
    return window.findChild<T*>(QLatin1String(name));
  }
  MainWindow window;
};

}  // namespace

class OrdersTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void an_order_is_found_by_id_with_its_history();
  void a_users_orders_are_listed_then_one_shown();
  void cancel_is_sent_only_once_confirmed();
  void a_refused_expire_is_shown_in_words();
  void the_line_is_paged_with_offset_and_limit();
  void an_order_is_found_in_the_line();
};

void OrdersTest::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);  // QSettings stays out of the user's config
}

void OrdersTest::an_order_is_found_by_id_with_its_history() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 1, 300);
  Window w(server, sale);
  const QJsonObject reserved =
      order(7, "buyer-7", "shoes", "reserved",
            {entry(300, "placed", {{"status", "waiting"}}),
             entry(200, "promoted", {{"expires_at", time_ago(-100)}}),
             entry(100, "payment_failed", {{"event_id", "ev-1"}, {"result", "card_declined"}})},
            {{"reservation", QJsonObject{{"id", "r-7"}, {"expires_at", time_ago(-100)}}}});
  server.add_order(reserved);
  auto* edit = w.find<QLineEdit>("orderIdEdit");
  auto* find = w.find<QPushButton>("findOrderButton");
  auto* details = w.find<QLabel>("orderDetails");
  auto* history = w.find<QTableView>("orderHistoryView");
  auto* label = w.find<QLabel>("ordersLabel");
  QVERIFY(edit && find && details && history && label);

  edit->setText(' ' + Sale::order_id(7) + ' ');  // pasted with blanks around it
  find->click();
  QTRY_COMPARE_WITH_TIMEOUT(history->model()->rowCount(), 3, kWait);
  QCOMPARE(whats(history), (QStringList{"placed", "promoted", "payment_failed"}));
  QCOMPARE(cell(history, 0, 2), QStringLiteral("status waiting"));
  QVERIFY2(cell(history, 2, 2).contains("card_declined"), qPrintable(cell(history, 2, 2)));
  for (const char* part : {"reserved", "shoes", "buyer-7", "lease until"}) {
    QVERIFY2(details->text().contains(QLatin1String(part)), qPrintable(details->text()));
  }
  QVERIFY(w.find<QAction>("cancelOrderAction")->isEnabled());
  QVERIFY(w.find<QAction>("expireOrderAction")->isEnabled());

  // An id that is not one is not sent; an unknown one is asked and answered 404.
  const int asked = static_cast<int>(server.requests().size());
  edit->setText("order-7");
  find->click();
  QCOMPARE(label->text(), QStringLiteral("'order-7' is not an order id (a UUID)"));
  QCOMPARE(server.requests().size(), asked);
  edit->setText(Sale::order_id(404));
  find->click();
  QTRY_COMPARE_WITH_TIMEOUT(label->text(), "No order " + Sale::order_id(404), kWait);
  QCOMPARE(requests(server, "GET", "/admin/orders/" + Sale::order_id(404)).size(), 1);
  // Nothing is left shown for an action to hit.
  QCOMPARE(history->model()->rowCount(), 0);
  QVERIFY(!w.find<QAction>("cancelOrderAction")->isEnabled());
}

void OrdersTest::a_users_orders_are_listed_then_one_shown() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 1, 300);
  Window w(server, sale);
  server.add_order(order(1, "buyer 1", "shoes", "expired",
                         {entry(500, "placed", {{"status", "reserved"}}),
                          entry(380, "expired", {{"reason", "payment_window_over"}})},
                         {{"reason", "payment_window_over"}}));
  server.add_order(order(2, "someone-else", "shoes", "waiting", {entry(400, "placed")}));
  server.add_order(
      order(3, "buyer 1", "hats", "confirmed",
            {entry(300, "placed", {{"status", "reserved"}}),
             entry(290, "payment_succeeded", {{"event_id", "ev-9"}}), entry(290, "confirmed")}));
  server.add_order(order(4, "buyer 1", "shoes", "waiting", {entry(10, "placed")},
                         {{"waitlist_position", 1234}}));
  auto* edit = w.find<QLineEdit>("userIdEdit");
  auto* list = w.find<QTableView>("userOrdersView");
  auto* details = w.find<QLabel>("orderDetails");
  auto* history = w.find<QTableView>("orderHistoryView");
  QVERIFY(edit && list && details && history);

  edit->setText("buyer 1");
  w.find<QPushButton>("findUserOrdersButton")->click();
  QTRY_COMPARE_WITH_TIMEOUT(list->model()->rowCount(), 3, kWait);
  const auto asked = requests(server, "GET", "/admin/orders");
  QCOMPARE(asked.size(), 1);
  QCOMPARE(QUrlQuery(asked.first().query).queryItemValue("user", QUrl::FullyDecoded),
           QStringLiteral("buyer 1"));
  // Newest first, with item and status.
  QCOMPARE(cell(list, 0, 0), Sale::order_id(4));
  QCOMPARE(cell(list, 1, 0), Sale::order_id(3));
  QCOMPARE(cell(list, 1, 1), QStringLiteral("hats"));
  QCOMPARE(cell(list, 1, 2), QStringLiteral("confirmed"));
  QCOMPARE(cell(list, 2, 0), Sale::order_id(1));
  QVERIFY(history->model()->rowCount() == 0);

  // Selecting one reads it whole: its history and its place in line.
  list->setCurrentIndex(list->model()->index(1, 0));
  QTRY_COMPARE_WITH_TIMEOUT(whats(history),
                            (QStringList{"placed", "payment_succeeded", "confirmed"}), kWait);
  QVERIFY2(details->text().contains(Sale::order_id(3)), qPrintable(details->text()));
  QVERIFY(!w.find<QAction>("cancelOrderAction")->isEnabled());  // ended
  list->setCurrentIndex(list->model()->index(0, 0));
  QTRY_VERIFY2_WITH_TIMEOUT(details->text().contains("place in line: 1,234"),
                            qPrintable(details->text()), kWait);
  QCOMPARE(whats(history), QStringList{"placed"});
  QVERIFY(w.find<QAction>("cancelOrderAction")->isEnabled());
  QVERIFY(!w.find<QAction>("expireOrderAction")->isEnabled());  // only a lease expires
}

void OrdersTest::cancel_is_sent_only_once_confirmed() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 1, 300);
  Window w(server, sale);
  const QString id = Sale::order_id(5);
  server.add_order(
      order(5, "buyer-5", "shoes", "waiting", {entry(30, "placed")}, {{"waitlist_position", 3}}));
  auto* details = w.find<QLabel>("orderDetails");
  auto* history = w.find<QTableView>("orderHistoryView");
  auto* cancel = w.find<QAction>("cancelOrderAction");
  w.find<QLineEdit>("orderIdEdit")->setText(id);
  w.find<QPushButton>("findOrderButton")->click();
  QTRY_VERIFY_WITH_TIMEOUT(cancel->isEnabled(), kWait);

  cancel->trigger();
  QMessageBox* box = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(w.window, "confirmBox")), kWait);
  QVERIFY2(box->text().contains(id) && box->text().contains("buyer-5"), qPrintable(box->text()));
  QTest::qWait(100);
  QVERIFY(requests(server, "POST", "/admin/orders/" + id + "/cancel").isEmpty());  // not yet
  box->button(QMessageBox::Yes)->click();
  QTRY_COMPARE_WITH_TIMEOUT(requests(server, "POST", "/admin/orders/" + id + "/cancel").size(), 1,
                            kWait);
  // Read again afterwards: cancelled, with why, and the history's new last entry.
  QTRY_COMPARE_WITH_TIMEOUT(whats(history), (QStringList{"placed", "cancelled"}), kWait);
  QVERIFY2(
      details->text().contains("cancelled") && details->text().contains("cancelled_by_operator"),
      qPrintable(details->text()));
  QVERIFY(!details->text().contains("place in line"));
  QVERIFY(!cancel->isEnabled());
}

void OrdersTest::a_refused_expire_is_shown_in_words() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 1, 300);
  Window w(server, sale);
  const QString id = Sale::order_id(6);
  server.add_order(
      order(6, "buyer-6", "shoes", "reserved", {entry(30, "placed")},
            {{"reservation", QJsonObject{{"id", "r-6"}, {"expires_at", time_ago(-60)}}}}));
  auto* details = w.find<QLabel>("orderDetails");
  auto* expire = w.find<QAction>("expireOrderAction");
  w.find<QLineEdit>("orderIdEdit")->setText(id);
  w.find<QPushButton>("findOrderButton")->click();
  QTRY_VERIFY_WITH_TIMEOUT(expire->isEnabled(), kWait);
  // Paid meanwhile: the service refuses to expire it.
  server.add_order(
      order(6, "buyer-6", "shoes", "confirmed", {entry(30, "placed"), entry(5, "confirmed")}));

  expire->trigger();
  QMessageBox* box = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((box = open_dialog<QMessageBox>(w.window, "confirmBox")), kWait);
  box->button(QMessageBox::Yes)->click();
  QMessageBox* error = nullptr;
  QTRY_VERIFY_WITH_TIMEOUT((error = open_dialog<QMessageBox>(w.window, "errorBox")), kWait);
  QVERIFY2(error->text().contains("Expire order " + id + " failed") &&
               error->text().contains("invalid_transition, HTTP 409"),
           qPrintable(error->text()));
  // And what it is now.
  QTRY_VERIFY2_WITH_TIMEOUT(details->text().contains("confirmed"), qPrintable(details->text()),
                            kWait);
  QVERIFY(!expire->isEnabled());
}

void OrdersTest::the_line_is_paged_with_offset_and_limit() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 0, 300);
  sale.fill_line("shoes", 250);
  Window w(server, sale);
  auto* view = w.find<QTableView>("linePageView");
  auto* label = w.find<QLabel>("linePageLabel");
  auto* next = w.find<QPushButton>("lineNextButton");
  auto* previous = w.find<QPushButton>("linePreviousButton");
  QVERIFY(view && label && next && previous);
  w.window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(label->text(),
                            QStringLiteral("<b>shoes</b>: 250 waiting; showing 1-100"), kWait);
  QCOMPARE(view->model()->rowCount(), 100);
  QCOMPARE(cell(view, 0, 0), QStringLiteral("1"));
  QVERIFY(!previous->isEnabled());

  const auto page_asked = [&](int offset) {
    for (const auto& r : requests(server, "GET", "/admin/items/shoes/waitlist")) {
      const QUrlQuery q(r.query);
      if (q.queryItemValue("offset") == QString::number(offset) &&
          q.queryItemValue("limit") == QLatin1String("100")) {
        return true;
      }
    }
    return false;
  };
  QVERIFY(page_asked(0));
  next->click();
  QTRY_COMPARE_WITH_TIMEOUT(label->text(),
                            QStringLiteral("<b>shoes</b>: 250 waiting; showing 101-200"), kWait);
  QVERIFY(page_asked(100));
  QCOMPARE(cell(view, 0, 0), QStringLiteral("101"));
  QCOMPARE(cell(view, 99, 0), QStringLiteral("200"));
  QCOMPARE(cell(view, 0, 1), sale.item("shoes").line[100].order);
  next->click();
  QTRY_COMPARE_WITH_TIMEOUT(label->text(),
                            QStringLiteral("<b>shoes</b>: 250 waiting; showing 201-250"), kWait);
  QCOMPARE(view->model()->rowCount(), 50);
  QVERIFY(!next->isEnabled());
  previous->click();
  QTRY_COMPARE_WITH_TIMEOUT(label->text(),
                            QStringLiteral("<b>shoes</b>: 250 waiting; showing 101-200"), kWait);
  // The item pane still shows the head, live, as before.
  auto* head = w.find<QTableView>("waitlistView");
  QCOMPARE(head->model()->rowCount(), 100);
  QCOMPARE(cell(head, 0, 1), sale.item("shoes").line[0].order);
}

void OrdersTest::an_order_is_found_in_the_line() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("shoes", 0, 300);
  sale.fill_line("shoes", 250);
  Window w(server, sale);
  const QString wanted = sale.item("shoes").line[233].order;  // position 234
  server.add_order(QJsonObject{{"id", wanted},
                               {"item_id", "shoes"},
                               {"user_id", sale.item("shoes").line[233].user},
                               {"status", "waiting"},
                               {"waitlist_position", 234},
                               {"created_at", time_ago(60)},
                               {"updated_at", time_ago(60)},
                               {"history", QJsonArray{entry(60, "placed")}}});
  server.add_order(order(900, "buyer-900", "shoes", "reserved", {entry(60, "placed")}));
  auto* view = w.find<QTableView>("linePageView");
  auto* label = w.find<QLabel>("linePageLabel");
  auto* edit = w.find<QLineEdit>("findInLineEdit");
  auto* find = w.find<QPushButton>("findInLineButton");
  auto* said = w.find<QLabel>("lineFindLabel");
  QVERIFY(view && label && edit && find && said);
  w.window.select_item("shoes");
  QTRY_COMPARE_WITH_TIMEOUT(view->model()->rowCount(), 100, kWait);

  edit->setText(wanted);
  find->click();
  QTRY_COMPARE_WITH_TIMEOUT(label->text(),
                            QStringLiteral("<b>shoes</b>: 250 waiting; showing 201-250"), kWait);
  QCOMPARE(requests(server, "GET", "/admin/orders/" + wanted).size(), 1);
  const QModelIndexList selected = view->selectionModel()->selectedRows();
  QCOMPARE(selected.size(), 1);
  QCOMPARE(selected.first().row(), 33);
  QCOMPARE(cell(view, 33, 0), QStringLiteral("234"));
  QCOMPARE(cell(view, 33, 1), wanted);
  QVERIFY(said->text().isEmpty());

  // An order not waiting, one not known, and an id that is not one, in words.
  edit->setText(Sale::order_id(900));
  find->click();
  QTRY_COMPARE_WITH_TIMEOUT(said->text(),
                            "Order " + Sale::order_id(900) + " is not waiting (reserved)", kWait);
  edit->setText(Sale::order_id(901));
  find->click();
  QTRY_COMPARE_WITH_TIMEOUT(said->text(), "No order " + Sale::order_id(901), kWait);
  edit->setText("nope");
  find->click();
  QCOMPARE(said->text(), QStringLiteral("'nope' is not an order id (a UUID)"));
}

QTEST_MAIN(OrdersTest)
#include "orders_test.moc"
