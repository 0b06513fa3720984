// The UI thread stays responsive during a busy sale: the whole window (the hot item selected, so
// its line, its leases and its rates in the chart; the activity log with inventory changes
// hidden), connected to a fake server in its own thread that streams 2,000 events a second for
// 5 seconds (100,000 waiting, 2,000 leases), while a 10 ms timer on the UI thread records the
// longest gap between its ticks. Prints the figure; fails when the gap passes the limit.
#include <QChart>
#include <QElapsedTimer>
#include <QLineSeries>
#include <QScopeGuard>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QTableView>
#include <QThread>
#include <QtTest>

#include "admin_client.hpp"
#include "main_window.hpp"
#include "support/busy_sale.hpp"
#include "support/fake_admin_server.hpp"

using namespace flashsale::admin;
using flashsale::admin::testing::BusySale;
using flashsale::admin::testing::FakeAdminServer;

namespace {

constexpr int kRate = 2000;       // events per second
constexpr double kSeconds = 5.0;  // of streaming
// The goal (issue 7): the UI thread never blocks for more than 50 ms. CTest runs this test
// alone (RUN_SERIAL), so the figure is the dashboard's, not a neighbour's; on the 2-core
// development machine it measured 17 ms alone and about 30 ms with both cores compiling.
constexpr qint64 kGapLimitMs = 50;
// AddressSanitizer slows everything several times over: there the figure is printed, not judged.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kJudgeGap = false;
#else
constexpr bool kJudgeGap = true;
#endif

}  // namespace

class UiLatencyTest : public QObject {
  Q_OBJECT

 private slots:
  void stays_responsive_at_2000_events_per_second();
};

void UiLatencyTest::stays_responsive_at_2000_events_per_second() {
  QStandardPaths::setTestModeEnabled(true);
  // The server lives in its own thread, as the real one lives in its own process.
  QThread server_thread;
  auto* server = new FakeAdminServer;
  auto* busy = new BusySale;
  busy->sale().serve(*server);
  server->set_snapshot(busy->sale().items_json());
  QVERIFY(server->listen());
  server->moveToThread(&server_thread);
  connect(&server_thread, &QThread::finished, server, &QObject::deleteLater);
  server_thread.start();
  const auto stop_server = qScopeGuard([&] {  // also when a check fails and returns early
    server_thread.quit();
    server_thread.wait();
    delete busy;  // the server thread, its only user, has ended
  });

  MainWindow window;
  window.show();
  auto* waitlist_view = window.findChild<QTableView*>("waitlistView");
  auto* lease_view = window.findChild<QTableView*>("leaseView");
  auto* log_view = window.findChild<QTableView*>("logView");
  window.connect_to(server->url());
  window.select_item(BusySale::kHot);
  QTRY_COMPARE_WITH_TIMEOUT(waitlist_view->model()->rowCount(), 100, 20000);
  QTRY_COMPARE_WITH_TIMEOUT(lease_view->model()->rowCount(), 1000, 20000);

  int received = 0;
  connect(window.findChild<AdminClient*>("adminClient"), &AdminClient::events, this,
          [&](const QVector<Event>& batch) { received += static_cast<int>(batch.size()); });
  int sent = -1;
  connect(server, &FakeAdminServer::burst_finished, this, [&](int n) { sent = n; });

  QElapsedTimer clock;
  qint64 last_tick = 0;
  qint64 largest_gap = 0;
  QTimer probe;
  probe.setTimerType(Qt::PreciseTimer);
  probe.setInterval(10);
  connect(&probe, &QTimer::timeout, this, [&] {
    const qint64 now = clock.elapsed();
    largest_gap = qMax(largest_gap, now - last_tick);
    last_tick = now;
  });
  clock.start();
  probe.start();
  QMetaObject::invokeMethod(server, [server, busy] {
    server->start_burst(kRate, kSeconds, [busy](int) { return busy->next(); });
  });
  QTRY_VERIFY_WITH_TIMEOUT(sent >= 0, 30000);
  QTRY_COMPARE_WITH_TIMEOUT(received, sent, 20000);
  probe.stop();
  const qint64 streamed_ms = clock.elapsed();

  qInfo(
      "largest UI-thread gap: %lld ms (10 ms timer) while %d events arrived in %.1f s "
      "(%d events/s)",
      largest_gap, received, static_cast<double>(streamed_ms) / 1000.0, kRate);
  QCOMPARE(sent, static_cast<int>(kRate * kSeconds));
  // Everything arrived and was shown: the log holds the newest (the view shows those that are
  // not inventory changes), the line is still paged, the chart has the hot item's joins.
  const auto* log_proxy = qobject_cast<const QSortFilterProxyModel*>(log_view->model());
  QCOMPARE(log_proxy->sourceModel()->rowCount(), qMin(received, 10000));
  QVERIFY(log_proxy->rowCount() < log_proxy->sourceModel()->rowCount());
  QVERIFY(waitlist_view->model()->rowCount() <= 100);
  const QChart* chart = window.findChild<ThroughputChart*>("throughputChart")->chart();
  QCOMPARE(chart->title(), QString::fromLatin1(BusySale::kHot));
  int peak_joins = 0;
  for (const QPointF& p : static_cast<const QLineSeries*>(chart->series().front())->points()) {
    peak_joins = qMax(peak_joins, static_cast<int>(p.y()));
  }
  QVERIFY2(peak_joins > 100, qPrintable(QString::number(peak_joins)));
  if (kJudgeGap) {
    QVERIFY2(largest_gap < kGapLimitMs,
             qPrintable(QStringLiteral("the UI thread stalled %1 ms").arg(largest_gap)));
  }
}

QTEST_MAIN(UiLatencyTest)
#include "ui_latency_test.moc"
