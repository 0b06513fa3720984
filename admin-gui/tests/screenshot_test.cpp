// Screenshots of the main window for review: a light sale and a busy one (100,000 waiting,
// thousands of events a second), written as PNGs into the build folder, after checking that
// the views show the data the picture is meant to show.
#include <QImage>
#include <QLabel>
#include <QStandardPaths>
#include <QTableView>
#include <QtTest>

#include "main_window.hpp"
#include "support/busy_sale.hpp"
#include "support/fake_admin_server.hpp"
#include "support/sale.hpp"

using namespace flashsale::admin;
using flashsale::admin::testing::BusySale;
using flashsale::admin::testing::FakeAdminServer;
using flashsale::admin::testing::Sale;

namespace {

constexpr int kWait = 20000;

// Saves the window and checks the file holds the picture, not a blank.
void save(MainWindow& window, const QString& name) {
  const QString path = QStringLiteral(SCREENSHOT_DIR "/%1").arg(name);
  QVERIFY(window.grab().save(path));
  const QImage image(path);
  QCOMPARE(image.size(), window.size() * window.devicePixelRatio());
  QSet<QRgb> colours;
  for (int y = 0; y < image.height(); y += 7) {
    for (int x = 0; x < image.width(); x += 7) colours.insert(image.pixel(x, y));
  }
  QVERIFY2(colours.size() > 20, "the screenshot is nearly blank");
  qInfo("wrote %s", qPrintable(path));
}

}  // namespace

class ScreenshotTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
  void light_sale();
  void busy_sale();
};

void ScreenshotTest::light_sale() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  Sale sale;
  sale.add_item("sneakers", 5, 300);
  sale.add_item("hoodies", 40, 600);
  sale.add_item("caps", 100, 600);
  sale.set_paused("caps", true);
  for (int i = 1; i <= 9; ++i) sale.place("sneakers", QStringLiteral("buyer-%1").arg(i));
  for (int i = 1; i <= 12; ++i) sale.place("hoodies", QStringLiteral("fan-%1").arg(i));
  sale.confirm("hoodies", sale.item("hoodies").leases.front().order);
  sale.serve(server);
  server.set_snapshot(sale.items_json());

  MainWindow window;
  window.show();
  window.connect_to(server.url());
  window.select_item("sneakers");
  auto* waitlist_view = window.findChild<QTableView*>("waitlistView");
  auto* lease_view = window.findChild<QTableView*>("leaseView");
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 4, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 5, kWait);
  // A little activity for the log and the chart.
  for (int i = 10; i <= 12; ++i) {
    for (const auto& e : sale.place("sneakers", QStringLiteral("buyer-%1").arg(i))) server.send(e);
  }
  for (const auto& e : sale.expire("sneakers")) server.send(e);
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 6, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(window.findChild<QTableView*>("pluginView")->model()->rowCount(), 3,
                            kWait);
  QTest::qWait(1200);  // the chart redraws once a second
  save(window, "admin-gui-light.png");
}

void ScreenshotTest::busy_sale() {
  FakeAdminServer server;
  QVERIFY(server.listen());
  BusySale busy;
  busy.sale().serve(server);
  server.set_snapshot(busy.sale().items_json());

  MainWindow window;
  window.show();
  window.connect_to(server.url());
  window.select_item(BusySale::kHot);
  auto* waitlist_view = window.findChild<QTableView*>("waitlistView");
  auto* lease_view = window.findChild<QTableView*>("leaseView");
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 100, kWait);
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 1000, kWait);
  int sent = -1;
  connect(&server, &FakeAdminServer::burst_finished, this, [&](int n) { sent = n; });
  server.start_burst(1500, 4.0, [&busy](int) { return busy.next(); });
  QTRY_VERIFY_WITH_TIMEOUT(sent > 0, kWait);
  QTest::qWait(1200);
  const QString label = window.findChild<QLabel*>("waitlistLabel")->text();
  QVERIFY2(label.contains("waiting; the first 100 shown"), qPrintable(label));
  QVERIFY(window.findChild<QTableView*>("logView")->model()->rowCount() > 1000);
  save(window, "admin-gui-busy.png");
}

QTEST_MAIN(ScreenshotTest)
#include "screenshot_test.moc"
