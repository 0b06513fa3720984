// The dashboard's models, each under QAbstractItemModelTester: inventory counts from events,
// the waiting line's head and its leavers, lease countdowns on an injected clock, the capped
// activity log and its filter, plugins, throughput counts, and the parsing of bad answers; the
// activity pane's log filter and its per-item chart.
#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QComboBox>
#include <QJsonArray>
#include <QLineSeries>
#include <QSignalSpy>
#include <QtTest>

#include "activity_pane.hpp"
#include "admin_client.hpp"
#include "api_types.hpp"
#include "event_log_model.hpp"
#include "inventory_model.hpp"
#include "job_model.hpp"
#include "lease_model.hpp"
#include "placement_chart.hpp"
#include "plugin_model.hpp"
#include "plugins_pane.hpp"
#include "server_clock.hpp"
#include "throughput.hpp"
#include "waitlist_model.hpp"

using namespace flashsale::admin;

namespace {

const QDateTime kT0 = QDateTime::fromString("2026-11-24T10:00:00.000Z", Qt::ISODateWithMs);

Event ev(const QString& type, const QString& item, const QString& order = {},
         const QJsonObject& data = {}, const QDateTime& at = kT0) {
  static int n = 0;
  return Event{QStringLiteral("0/%1/0").arg(++n),
               type,
               item,
               order,
               order.isEmpty() ? QString() : "user-" + order,
               at,
               data};
}

// An item's change as the server streams it: the leases held are what is neither free nor sold.
Event counts(const QString& item, int total, int available, int waiting, int confirmed = 0,
             bool paused = false) {
  return ev("inventory.changed", item, {},
            {{"total_stock", total},
             {"available", available},
             {"reserved", total - available - confirmed},
             {"confirmed", confirmed},
             {"waiting", waiting},
             {"paused", paused}});
}

Event reserved(const QString& item, const QString& order, const QDateTime& expires,
               bool promoted = false, const QDateTime& at = kT0) {
  return ev("order.reserved", item, order,
            {{"promoted", promoted},
             {"reservation", QJsonObject{{"id", "r-" + order},
                                         {"expires_at", expires.toString(Qt::ISODateWithMs)}}}},
            at);
}

Item item(const QString& id, int total, int available, int confirmed, int waiting) {
  Item i;
  i.id = id;
  i.name = "Item " + id;
  i.total_stock = total;
  i.available = available;
  i.confirmed = confirmed;
  i.waiting = waiting;
  i.reserved = total - available - confirmed;
  return i;
}

Waiter waiter(int seq) {
  return Waiter{QStringLiteral("o%1").arg(seq), QStringLiteral("u%1").arg(seq), seq,
                kT0.addSecs(seq)};
}

WaitlistPage page(const QString& item, int waiting, int first_seq, int count) {
  WaitlistPage p{item, waiting, {}};
  for (int s = first_seq; s < first_seq + count; ++s) p.waiters.push_back(waiter(s));
  return p;
}

QString cell(const QAbstractItemModel& m, int row, int column, int role = Qt::DisplayRole) {
  return m.index(row, column).data(role).toString();
}

QColor background(const QAbstractItemModel& m, int row, int column) {
  return m.index(row, column).data(Qt::BackgroundRole).value<QBrush>().color();
}

}  // namespace

class ModelsTest : public QObject {
  Q_OBJECT

 private slots:
  void inventory_follows_events();
  void inventory_snapshot_updates_in_place();
  void inventory_sorts_numbers_and_filters();
  void inventory_states_follow_the_clock();
  void server_clock_corrects_by_the_offset();
  void waitlist_shows_the_head_and_who_leaves();
  void waitlist_grows_only_while_it_holds_the_whole_line();
  void waitlist_drops_orders_that_left_during_a_fetch();
  void waitlist_asks_for_a_refill_when_low();
  void leases_count_down_on_one_clock();
  void leases_leave_when_the_order_ends();
  void leases_keep_to_the_head_of_a_long_list();
  void event_log_is_capped_and_filtered();
  void plugins_show_health();
  void plugins_pane_names_the_node_and_the_leader();
  void jobs_are_counted_by_kind_and_state();
  void throughput_counts_per_second();
  void throughput_backfill_stands_for_the_seconds_before_it();
  void activity_log_hides_inventory_changes();
  void chart_shows_the_selected_items_rates();
  void placement_chart_shows_refusals_and_latency();
  void bad_answers_are_named();
  void orders_and_line_pages_are_parsed();
};

void ModelsTest::inventory_follows_events() {
  InventoryModel m;
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.set_items({item("shoes", 20, 0, 2, 5)});
  QCOMPARE(m.rowCount(), 1);
  QCOMPARE(m.index(0, InventoryModel::reserved).data().toInt(), 18);

  QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
  // Two leases expire into the line's head; one order pays; the line shrinks.
  m.apply({counts("shoes", 20, 0, 3, 2), ev("order.confirmed", "shoes", "o1"),
           counts("shoes", 20, 0, 3, 3)});
  QCOMPARE(changed.count(), 1);  // one row, one signal per batch
  QCOMPARE(m.index(0, InventoryModel::waiting).data().toInt(), 3);
  QCOMPARE(m.index(0, InventoryModel::confirmed).data().toInt(), 3);
  QCOMPARE(m.index(0, InventoryModel::reserved).data().toInt(), 17);
  QCOMPARE(cell(m, 0, InventoryModel::sold), QStringLiteral("15.0 %"));
  QCOMPARE(cell(m, 0, InventoryModel::state), QStringLiteral("sold out"));
  // The counts come with the item's own change; an order event alone (here one seen again after
  // a reconnect) moves none of them.
  m.apply({ev("order.confirmed", "shoes", "o1")});
  QCOMPARE(m.index(0, InventoryModel::confirmed).data().toInt(), 3);
  QCOMPARE(m.index(0, InventoryModel::reserved).data().toInt(), 17);

  // Restock and pause: absolute values; applying the same event twice changes nothing.
  const Event restock = counts("shoes", 30, 7, 0, 3, true);
  m.apply({restock, restock});
  QCOMPARE(m.index(0, InventoryModel::total).data().toInt(), 30);
  QCOMPARE(m.index(0, InventoryModel::available).data().toInt(), 7);
  QCOMPARE(m.index(0, InventoryModel::reserved).data().toInt(), 20);
  QCOMPARE(cell(m, 0, InventoryModel::state), QStringLiteral("paused"));

  // A new item appears from its event, and the events after it in the same batch count.
  m.apply({ev("item.created", "hats", {},
              {{"name", "Hats"},
               {"total_stock", 5},
               {"available", 5},
               {"waiting", 0},
               {"paused", false}}),
           counts("hats", 5, 4, 0)});
  QCOMPARE(m.rowCount(), 2);
  QVERIFY(m.item("hats"));
  QCOMPARE(m.item("hats")->name, QStringLiteral("Hats"));
  QCOMPARE(m.item("hats")->reserved, 1);
  // Events of unknown items (created before the snapshot was read) are ignored, not invented.
  m.apply({counts("ghost", 1, 1, 0)});
  QCOMPARE(m.rowCount(), 2);
}

void ModelsTest::inventory_snapshot_updates_in_place() {
  InventoryModel m;
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.set_items({item("a", 10, 10, 0, 0), item("b", 10, 0, 0, 4), item("c", 1, 1, 0, 0)});
  const QPersistentModelIndex b = m.index(1, 0);
  QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
  // After a reconnect: b moved on, c is gone, d is new.
  m.set_items({item("b", 10, 0, 6, 1), item("a", 10, 9, 0, 0), item("d", 3, 3, 0, 0)});
  QCOMPARE(reset.count(), 0);
  QVERIFY(b.isValid());
  QCOMPARE(b.data().toString(), QStringLiteral("b"));
  QCOMPARE(m.item("b")->confirmed, 6);
  QCOMPARE(m.item("b")->waiting, 1);
  QVERIFY(!m.item("c"));
  QVERIFY(m.item("d"));
  QCOMPARE(m.rowCount(), 3);
}

void ModelsTest::inventory_sorts_numbers_and_filters() {
  InventoryModel m;
  ItemFilterProxy proxy;
  proxy.setSourceModel(&m);
  QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.set_items({item("a", 100, 0, 0, 9), item("b", 100, 0, 0, 100000), item("c", 100, 0, 0, 20)});
  proxy.sort(InventoryModel::waiting, Qt::DescendingOrder);
  // Numerically: 100000 > 20 > 9 (as text "9" would come first).
  QCOMPARE(cell(proxy, 0, InventoryModel::id), QStringLiteral("b"));
  QCOMPARE(cell(proxy, 2, InventoryModel::id), QStringLiteral("a"));
  m.apply({counts("a", 100, 0, 200000)});  // live re-sort
  QCOMPARE(cell(proxy, 0, InventoryModel::id), QStringLiteral("a"));
  proxy.setFilterFixedString("ITEM C");  // by name, any case
  QCOMPARE(proxy.rowCount(), 1);
  QCOMPARE(cell(proxy, 0, InventoryModel::id), QStringLiteral("c"));
}

void ModelsTest::inventory_states_follow_the_clock() {
  InventoryModel m;
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  qint64 now = kT0.toMSecsSinceEpoch();
  m.set_clock([&] { return now; });
  Item drop = item("drop", 10, 10, 0, 0);
  drop.opens_at = kT0.addSecs(134);
  Item ending = item("ending", 10, 3, 0, 0);
  ending.closes_at = kT0.addSecs(60);
  Item shut = item("shut", 10, 10, 0, 0);
  shut.paused = true;
  shut.closes_at = kT0.addSecs(-1);
  Item held = item("held", 10, 10, 0, 0);
  held.paused = true;
  held.opens_at = kT0.addSecs(10);
  Item gone = item("gone", 10, 0, 0, 0);
  gone.opens_at = kT0.addSecs(-3600);
  m.set_items({drop, ending, shut, held, gone});
  const auto state = [&](int row) { return cell(m, row, InventoryModel::state); };
  QCOMPARE(state(0), QStringLiteral("scheduled (opens in 2:14)"));
  QCOMPARE(state(1), QStringLiteral("on sale"));
  QCOMPARE(state(2), QStringLiteral("closed"));  // closed, paused or not
  QCOMPARE(state(3), QStringLiteral("paused"));  // a paused sale does not open by itself
  QCOMPARE(state(4), QStringLiteral("sold out"));
  QCOMPARE(m.next_change_after(now), kT0.addSecs(10).toMSecsSinceEpoch());  // "held" opens
  QCOMPARE(m.index(0, InventoryModel::state).data(Qt::ForegroundRole).value<QBrush>().color(),
           QColor(0x1f, 0x5f, 0xb4));

  QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
  m.tick();
  changed.clear();
  // A second later only the rows still counting down are redrawn, only their state, at once.
  now += 1000;
  m.tick();
  QCOMPARE(changed.count(), 1);
  QCOMPARE(changed[0][0].toModelIndex(), m.index(0, InventoryModel::state));
  QCOMPARE(changed[0][1].toModelIndex(), m.index(3, InventoryModel::state));
  QCOMPARE(state(0), QStringLiteral("scheduled (opens in 2:13)"));
  // "ending" closes: its row is redrawn.
  now = kT0.addSecs(60).toMSecsSinceEpoch();
  changed.clear();
  m.tick();
  QCOMPARE(changed.count(), 1);
  QCOMPARE(changed[0][0].toModelIndex(), m.index(0, InventoryModel::state));
  QCOMPARE(changed[0][1].toModelIndex(), m.index(3, InventoryModel::state));
  QCOMPARE(state(1), QStringLiteral("closed"));
  QCOMPARE(state(0), QStringLiteral("scheduled (opens in 1:14)"));
  now = kT0.addSecs(134).toMSecsSinceEpoch();
  m.tick();
  QCOMPARE(state(0), QStringLiteral("on sale"));
  // Nothing counts down any more: a tick redraws nothing.
  now += 11'000;
  m.tick();
  changed.clear();
  now += 1000;
  m.tick();
  QCOMPARE(changed.count(), 0);

  // An item that arrived by an event learns its opening time later.
  m.apply({ev("item.created", "late", {},
              {{"name", "Late"}, {"total_stock", 1}, {"available", 1}, {"waiting", 0}})});
  QCOMPARE(cell(m, 5, InventoryModel::state), QStringLiteral("on sale"));
  m.set_opens_at("late", QDateTime::fromMSecsSinceEpoch(now + 5000, Qt::UTC));
  QCOMPARE(cell(m, 5, InventoryModel::state), QStringLiteral("scheduled (opens in 0:05)"));
}

void ModelsTest::server_clock_corrects_by_the_offset() {
  ServerClock clock;
  qint64 local = kT0.toMSecsSinceEpoch();
  clock.set_local([&] { return local; });
  QCOMPARE(clock.now_ms(), local);
  clock.sync(kT0.addSecs(3600));  // the server is an hour ahead
  QCOMPARE(clock.offset_ms(), 3'600'000);
  local += 500;
  QCOMPARE(clock.now_ms(), kT0.toMSecsSinceEpoch() + 3'600'500);
  clock.sync({});  // a server that does not say: this machine's clock
  QCOMPARE(clock.offset_ms(), 0);
  QCOMPARE(time_left(0), QStringLiteral("0:00"));
  QCOMPARE(time_left(1), QStringLiteral("0:01"));
  QCOMPARE(time_left(134'000), QStringLiteral("2:14"));
  QCOMPARE(time_left(3'661'000), QStringLiteral("1:01:01"));
  QCOMPARE(time_left(90'061'000), QStringLiteral("1 d 1:01:01"));
}

void ModelsTest::waitlist_shows_the_head_and_who_leaves() {
  WaitlistModel m(10);
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  qint64 now = 1000;
  m.set_clock([&] { return now; });
  m.set_item("shoes");
  m.begin_fetch();
  m.set_page(page("shoes", 3, 1, 3));
  QVERIFY(m.complete());
  QCOMPARE(m.rowCount(), 3);
  QCOMPARE(m.index(0, WaitlistModel::position).data().toInt(), 1);
  QCOMPARE(cell(m, 0, WaitlistModel::order), QStringLiteral("o1"));

  // The head is promoted: it stays, green, marked; the others move up at once.
  m.apply({reserved("shoes", "o1", kT0.addSecs(600), true), counts("shoes", 5, 0, 2)});
  QCOMPARE(m.rowCount(), 3);
  QCOMPARE(cell(m, 0, WaitlistModel::position), QStringLiteral("→ lease"));
  QCOMPARE(background(m, 0, WaitlistModel::order), QColor(0xc8, 0xf0, 0xc8));
  QCOMPARE(m.index(1, WaitlistModel::position).data().toInt(), 1);
  QCOMPARE(m.index(2, WaitlistModel::position).data().toInt(), 2);
  QCOMPARE(m.waiting(), 2);
  QCOMPARE(m.shown(), 2);
  // o3 cancels; a new order of another item changes nothing here.
  m.apply({ev("order.cancelled", "shoes", "o3", {{"reason", "cancelled_by_user"}}),
           ev("order.cancelled", "hats", "o2")});
  QCOMPARE(cell(m, 2, WaitlistModel::position), QStringLiteral("cancelled"));
  QCOMPARE(m.index(1, WaitlistModel::position).data().toInt(), 1);

  now += WaitlistModel::kLeavingMs - 1;
  m.sweep();
  QCOMPARE(m.rowCount(), 3);
  now += 1;
  m.sweep();
  QCOMPARE(m.rowCount(), 1);
  QCOMPARE(cell(m, 0, WaitlistModel::order), QStringLiteral("o2"));
  QCOMPARE(m.index(0, WaitlistModel::position).data().toInt(), 1);
}

void ModelsTest::waitlist_grows_only_while_it_holds_the_whole_line() {
  WaitlistModel m(4);
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.set_item("shoes");
  m.begin_fetch();
  m.set_page(page("shoes", 2, 1, 2));
  const auto join = [](int seq) {
    return ev("order.waiting", "shoes", QStringLiteral("o%1").arg(seq), {{"waitlist_seq", seq}});
  };
  m.apply({join(3), join(4)});
  QCOMPARE(m.rowCount(), 4);
  QCOMPARE(cell(m, 3, WaitlistModel::user), QStringLiteral("user-o4"));
  QCOMPARE(m.index(3, WaitlistModel::position).data().toInt(), 4);
  // The page is full: the line goes on beyond it, the model keeps showing the head.
  m.apply({join(5), join(6)});
  QCOMPARE(m.rowCount(), 4);
  QVERIFY(!m.complete());

  // A page that is the head of a much longer line (100,000 waiting) takes no newcomers.
  m.set_item("shoes");
  m.begin_fetch();
  m.set_page(page("shoes", 100000, 1, 4));
  QVERIFY(!m.complete());
  m.apply({join(100001)});
  QCOMPARE(m.rowCount(), 4);
  QCOMPARE(m.waiting(), 100000);
}

void ModelsTest::waitlist_drops_orders_that_left_during_a_fetch() {
  WaitlistModel m(10);
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.set_item("shoes");
  m.begin_fetch();
  // While the request is in flight: o1 is promoted, o6 joins. The page was read before both.
  m.apply({reserved("shoes", "o1", kT0.addSecs(600), true),
           ev("order.waiting", "shoes", "o6", {{"waitlist_seq", 6}})});
  m.set_page(page("shoes", 5, 1, 5));
  QCOMPARE(m.rowCount(), 5);
  QCOMPARE(cell(m, 0, WaitlistModel::order), QStringLiteral("o2"));
  QCOMPARE(cell(m, 4, WaitlistModel::order), QStringLiteral("o6"));
  // An answer for the item shown before is dropped.
  m.set_item("hats");
  m.begin_fetch();
  m.set_page(page("shoes", 5, 1, 5));
  QCOMPARE(m.rowCount(), 0);
  QVERIFY(m.fetching());
}

void ModelsTest::waitlist_asks_for_a_refill_when_low() {
  WaitlistModel m(4);
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  qint64 now = 5000;
  m.set_clock([&] { return now; });
  QSignalSpy refill(&m, &WaitlistModel::refill_needed);
  m.set_item("shoes");
  m.begin_fetch();
  m.set_page(page("shoes", 50, 1, 4));
  m.apply({reserved("shoes", "o1", kT0, true)});
  QCOMPARE(refill.count(), 0);  // 3 of 4 left
  m.apply({reserved("shoes", "o2", kT0, true), reserved("shoes", "o3", kT0, true)});
  QCOMPARE(refill.count(), 1);
  m.apply({counts("shoes", 5, 0, 46)});
  QCOMPARE(refill.count(), 1);  // at most once a second
  now += 1000;
  m.apply({counts("shoes", 5, 0, 46)});
  QCOMPARE(refill.count(), 2);
  m.begin_fetch();  // in flight: no more asking
  now += 1000;
  m.apply({counts("shoes", 5, 0, 46)});
  QCOMPARE(refill.count(), 2);
}

void ModelsTest::leases_count_down_on_one_clock() {
  LeaseModel m(100);
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  qint64 now = kT0.toMSecsSinceEpoch();
  m.set_clock([&] { return now; });
  m.set_item("shoes");
  m.begin_fetch();
  m.set_page("shoes", {Lease{"r2", "o2", "u2", kT0, kT0.addSecs(300)},
                       Lease{"r1", "o1", "u1", kT0.addSecs(-100), kT0.addSecs(200)}});
  QCOMPARE(m.rowCount(), 2);
  QCOMPARE(cell(m, 0, LeaseModel::order), QStringLiteral("o1"));  // soonest expiry first
  QCOMPARE(cell(m, 0, LeaseModel::remaining), QStringLiteral("3:20"));
  QCOMPARE(cell(m, 1, LeaseModel::remaining), QStringLiteral("5:00"));
  QVERIFY(!m.index(1, 0).data(Qt::BackgroundRole).isValid());

  QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
  now += 225'500;  // o2 has 74.5 s of 300 left: under a quarter
  m.tick();
  QCOMPARE(changed.count(), 1);  // one signal redraws every row
  QCOMPARE(cell(m, 1, LeaseModel::remaining), QStringLiteral("1:15"));
  QCOMPARE(background(m, 1, LeaseModel::order), QColor(0xff, 0xe0, 0x99));  // amber
  now += 45'000;  // 29.5 s left: under a tenth
  QCOMPARE(cell(m, 1, LeaseModel::remaining), QStringLiteral("0:30"));
  QCOMPARE(background(m, 1, LeaseModel::order), QColor(0xf6, 0xc0, 0xbb));  // red
  QCOMPARE(cell(m, 0, LeaseModel::remaining), QStringLiteral("expiring…"));
  // Not connected: the countdowns stop, uncoloured; the expiry time stays.
  changed.clear();
  m.set_stale(true);
  QCOMPARE(changed.count(), 1);
  QCOMPARE(cell(m, 1, LeaseModel::remaining), QStringLiteral("—"));
  QVERIFY(!m.index(1, 0).data(Qt::BackgroundRole).isValid());
  QVERIFY(!cell(m, 1, LeaseModel::expires).isEmpty());
  m.set_stale(false);
  QCOMPARE(cell(m, 1, LeaseModel::remaining), QStringLiteral("0:30"));
  QCOMPARE(LeaseModel::countdown(3'600'000 + 61'000), QStringLiteral("1:01:01"));
  QCOMPARE(LeaseModel::countdown(1), QStringLiteral("0:01"));
}

void ModelsTest::leases_leave_when_the_order_ends() {
  LeaseModel m(100);
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.set_item("shoes");
  m.begin_fetch();
  m.set_page("shoes", {});
  QVERIFY(m.complete());
  m.apply({reserved("shoes", "o1", kT0.addSecs(10)), reserved("shoes", "o2", kT0.addSecs(20)),
           reserved("shoes", "o3", kT0.addSecs(30)), reserved("hats", "o9", kT0.addSecs(5))});
  QCOMPARE(m.rowCount(), 3);
  // Paid, cancelled, expired; and one granted and gone within one batch.
  m.apply({ev("order.confirmed", "shoes", "o1"), ev("order.expired", "shoes", "o3"),
           reserved("shoes", "o4", kT0.addSecs(15)), ev("order.cancelled", "shoes", "o4"),
           reserved("shoes", "o5", kT0.addSecs(5))});
  QCOMPARE(m.rowCount(), 2);
  QCOMPARE(cell(m, 0, LeaseModel::order), QStringLiteral("o5"));
  QCOMPARE(cell(m, 1, LeaseModel::order), QStringLiteral("o2"));
  QCOMPARE(m.lease_at(1)->user_id, QStringLiteral("user-o2"));
  QVERIFY(!m.lease_at(2));
}

void ModelsTest::leases_keep_to_the_head_of_a_long_list() {
  LeaseModel m(3);
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  QSignalSpy refill(&m, &LeaseModel::refill_needed);
  m.set_item("shoes");
  m.begin_fetch();
  // During the fetch o1 ends: the page must not bring it back.
  m.apply({ev("order.expired", "shoes", "o1")});
  m.set_page("shoes", {Lease{"r1", "o1", "u1", kT0, kT0.addSecs(1)},
                       Lease{"r2", "o2", "u2", kT0, kT0.addSecs(2)},
                       Lease{"r3", "o3", "u3", kT0, kT0.addSecs(3)}});
  QVERIFY(!m.complete());  // a full page: there may be more
  QCOMPARE(m.rowCount(), 2);
  // A later lease belongs past the page's end: not shown. An earlier one is.
  m.apply({reserved("shoes", "o8", kT0.addSecs(8)), reserved("shoes", "o0", kT0)});
  QCOMPARE(m.rowCount(), 3);
  QCOMPARE(cell(m, 0, LeaseModel::order), QStringLiteral("o0"));
  QCOMPARE(refill.count(), 0);
  m.apply({ev("order.expired", "shoes", "o0"), ev("order.expired", "shoes", "o2")});
  QCOMPARE(m.rowCount(), 1);
  QCOMPARE(refill.count(), 1);
}

void ModelsTest::event_log_is_capped_and_filtered() {
  EventLogModel m(5);
  EventFilterProxy proxy;
  proxy.setSourceModel(&m);
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  QAbstractItemModelTester proxy_tester(&proxy,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.append({counts("shoes", 5, 4, 0), ev("order.waiting", "hats", "o1", {{"waitlist_seq", 7}})});
  QCOMPARE(m.rowCount(), 2);
  QCOMPARE(cell(m, 0, EventLogModel::type), QStringLiteral("order.waiting"));  // newest first
  QCOMPARE(cell(m, 0, EventLogModel::details), QStringLiteral("joined the line (seq 7)"));
  QCOMPARE(cell(m, 1, EventLogModel::details), QStringLiteral("available 4, waiting 0, total 5"));
  QVector<Event> many;
  for (int i = 0; i < 8; ++i) many.push_back(reserved("shoes", QStringLiteral("r%1").arg(i), kT0));
  m.append(many);
  QCOMPARE(m.rowCount(), 5);
  QCOMPARE(cell(m, 0, EventLogModel::order), QStringLiteral("r7"));
  QCOMPARE(cell(m, 4, EventLogModel::order), QStringLiteral("r3"));
  m.append({ev("order.expired", "hats", "o1"), ev("order.expired", "shoes", "r3")});
  QCOMPARE(m.rowCount(), 5);
  proxy.set_type("order.expired");
  QCOMPARE(proxy.rowCount(), 2);
  proxy.set_item("HAT");
  QCOMPARE(proxy.rowCount(), 1);
  QCOMPARE(cell(proxy, 0, EventLogModel::order), QStringLiteral("o1"));
  proxy.set_type({});
  proxy.set_item("shoes");
  QCOMPARE(proxy.rowCount(), 4);
}

void ModelsTest::plugins_pane_names_the_node_and_the_leader() {
  const auto view = [](const char* json) { return QJsonDocument::fromJson(json).object(); };
  QCOMPARE(PluginsPane::cluster_text(
               view(R"({"node_id":"a","leader":"b","nodes":[{"node_id":"a"},{"node_id":"b"}]})")),
           QStringLiteral("Node: a — CDC leader: b — 2 replica(s) connected"));
  QVERIFY(PluginsPane::cluster_text(view(R"({"node_id":"b","leader":"b","nodes":[{}]})"))
              .contains(QStringLiteral("this node reads the log")));
  QVERIFY(PluginsPane::cluster_text(view(R"({"node_id":"b","leader":null,"nodes":[]})"))
              .contains(QStringLiteral("nobody reads the log")));
}

void ModelsTest::plugins_show_health() {
  PluginModel m;
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.set_plugins({PluginInfo{"postgres", "storage", "0.1.0", "/x.so", true, true, ""},
                 PluginInfo{"websocket", "push", "0.2.0", "", false, false, "3 clients slow"}});
  QCOMPARE(m.rowCount(), 2);
  QCOMPARE(cell(m, 0, PluginModel::health), QStringLiteral("ok"));
  QCOMPARE(cell(m, 1, PluginModel::health), QStringLiteral("failing: 3 clients slow"));
  QCOMPARE(cell(m, 1, PluginModel::kind), QStringLiteral("push"));
  QCOMPARE(cell(m, 1, PluginModel::version), QStringLiteral("0.2.0"));
  QCOMPARE(cell(m, 1, PluginModel::required), QStringLiteral("optional"));
  // Not connected: the health is not known; the last one read is in the tooltip.
  QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
  m.set_stale(true);
  QCOMPARE(changed.count(), 1);
  QCOMPARE(cell(m, 0, PluginModel::health), QStringLiteral("unknown"));
  QCOMPARE(cell(m, 1, PluginModel::health, Qt::ToolTipRole),
           QStringLiteral("Not connected; last read: failing: 3 clients slow"));
  m.set_stale(false);
  QCOMPARE(cell(m, 0, PluginModel::health), QStringLiteral("ok"));
}

void ModelsTest::jobs_are_counted_by_kind_and_state() {
  QString error;
  const auto jobs = [&](const QString& state, int n, const QString& kind) {
    QJsonArray list;
    for (int i = n; i >= 1; --i) {
      list.append(QJsonObject{{"id", QStringLiteral("%1-%2").arg(state).arg(i)},
                              {"kind", kind},
                              {"state", state},
                              {"payload", QJsonObject{{"order_id", "o1"}}},
                              {"attempts", 3},
                              {"run_at", "2026-11-24T10:00:00.000Z"},
                              {"last_error", state == "dead" ? QJsonValue("boom") : QJsonValue()},
                              {"updated_at", "2026-11-24T10:00:01.000Z"}});
    }
    const auto parsed = parse_jobs(QJsonObject{{"jobs", list}}, &error);
    return parsed ? *parsed : QVector<Job>{};
  };
  const QVector<Job> done = jobs("done", 3, "refund");
  QCOMPARE(done.size(), 3);
  QCOMPARE(done[0].id, QStringLiteral("done-3"));
  QCOMPARE(done[0].payload, QStringLiteral(R"({"order_id":"o1"})"));
  QVERIFY(done[0].last_error.isEmpty());
  QCOMPARE(done[0].run_at, kT0);

  JobModel m;
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
  m.set_lists({{"done", done}, {"dead", jobs("dead", 2, "make_payment_link")}, {"queued", {}}},
              {"done"});
  QCOMPARE(m.rowCount(), 5);
  QCOMPARE(cell(m, 0, JobModel::state), QStringLiteral("dead"));  // dead first
  QCOMPARE(cell(m, 0, JobModel::last_error), QStringLiteral("boom"));
  QCOMPARE(cell(m, 2, JobModel::id), QStringLiteral("done-3"));
  QCOMPARE(m.kinds(), (QStringList{"make_payment_link", "refund"}));
  QCOMPARE(m.count_text("refund", "done"), QStringLiteral("3+"));  // the list came back full
  QCOMPARE(m.count_text({}, "dead"), QStringLiteral("2"));
  QCOMPARE(m.count_text("refund", "dead"), QStringLiteral("0"));
  // A later read of one state leaves the others as they were.
  m.set_lists({{"dead", {}}}, {});
  QCOMPARE(m.rowCount(), 3);
  QCOMPARE(m.count_text({}, "done"), QStringLiteral("3+"));
  QCOMPARE(m.row_of("done-1"), 2);

  QVERIFY(!parse_jobs(QJsonObject{{"jobs", QJsonArray{QJsonObject{{"id", 7}}}}}, &error));
  QCOMPARE(error, QStringLiteral("job 1: field 'id' is missing or not a string"));
}

void ModelsTest::throughput_counts_per_second() {
  Throughput t(60);
  const qint64 s0 = kT0.toSecsSinceEpoch();
  t.add({reserved("a", "1", kT0, false, kT0), reserved("a", "2", kT0, false, kT0.addMSecs(999)),
         reserved("a", "3", kT0, true, kT0.addSecs(1)), ev("order.expired", "a", "4", {}, kT0),
         ev("order.waiting", "a", "5", {}, kT0)});
  auto series = t.series(s0 + 1);
  QCOMPARE(series.size(), 60);
  QCOMPARE(series.back().at, s0 + 1);
  QCOMPARE(series[58].reservations, 2);
  QCOMPARE(series[58].joins, 3);  // the two reservations and the one that waits
  QCOMPARE(series[58].expiries, 1);
  QCOMPARE(series[59].promotions, 1);
  QCOMPARE(series[59].joins, 0);
  QCOMPARE(t.series(s0 + 1, "b")[58].joins, 0);
  QCOMPARE(series[0].reservations, 0);
  // Seconds that slid out of the window are forgotten.
  t.add({ev("order.expired", "a", "6", {}, kT0.addSecs(100))});
  series = t.series(s0 + 100);
  int total = 0;
  for (const auto& s : series) total += s.joins + s.reservations + s.promotions + s.expiries;
  QCOMPARE(total, 1);
}

void ModelsTest::throughput_backfill_stands_for_the_seconds_before_it() {
  Throughput t(60);
  const qint64 s0 = kT0.toSecsSinceEpoch();
  // Counted here since connecting: second s0 for items a and b, and s0 + 1 for a.
  t.add({ev("order.waiting", "a", "1", {}, kT0), ev("order.waiting", "b", "2", {}, kT0),
         ev("order.expired", "a", "3", {}, kT0.addSecs(1))});
  QVERIFY(!t.has_backfill("a"));
  // The server's counts for a, answered during second s0 + 1: seconds s0 - 30 and s0 (which
  // includes this connection's event), and the incomplete s0 + 1, which is not taken.
  t.backfill("a",
             ActivityWindow{s0 + 1,
                            {ActivitySecond{s0 - 30, 9, 8, 1, 2}, ActivitySecond{s0, 3, 0, 0, 0},
                             ActivitySecond{s0 + 1, 50, 0, 0, 0}}});
  QVERIFY(t.has_backfill("a"));
  QVERIFY(!t.has_backfill(""));
  auto a = t.series(s0 + 1, "a");
  QCOMPARE(a[28].at, s0 - 30);
  QCOMPARE(a[28].joins, 9);
  QCOMPARE(a[28].reservations, 8);
  QCOMPARE(a[28].promotions, 1);
  QCOMPARE(a[28].expiries, 2);
  QCOMPARE(a[58].joins, 3);  // the server's count, not 1 + 3
  QCOMPARE(a[59].joins, 0);  // from here on what arrives here
  QCOMPARE(a[59].expiries, 1);
  // Other items, and all items, are what was counted here.
  QCOMPARE(t.series(s0 + 1, "b")[58].joins, 1);
  QCOMPARE(t.series(s0 + 1)[58].joins, 2);
  QCOMPARE(t.series(s0 + 1)[28].joins, 0);
  t.clear_backfill();
  QVERIFY(!t.has_backfill("a"));
  // The server's answer, read; a malformed one is named.
  QString error;
  const auto parsed =
      parse_activity(QJsonObject{{"now", s0 + 1},
                                 {"seconds", QJsonArray{QJsonObject{{"at", s0},
                                                                    {"joins", 4},
                                                                    {"reservations", 3},
                                                                    {"promotions", 1},
                                                                    {"expiries", 2}}}}},
                     &error);
  QVERIFY2(parsed, qPrintable(error));
  QCOMPARE(parsed->now, s0 + 1);
  QCOMPARE(parsed->seconds.size(), 1);
  QCOMPARE(parsed->seconds[0].reservations, 3);
  QCOMPARE(parsed->seconds[0].expiries, 2);
  QVERIFY(!parse_activity(
      QJsonObject{{"now", s0}, {"seconds", QJsonArray{QJsonObject{{"at", s0}}}}}, &error));
  QCOMPARE(error, QStringLiteral("second 1: field 'joins' is missing or not a whole number"));
  QCOMPARE(t.series(s0 + 1, "a")[58].joins, 1);
  QCOMPARE(t.series(s0 + 1, "a")[28].joins, 0);
}

void ModelsTest::activity_log_hides_inventory_changes() {
  ServerClock clock;
  AdminClient client;  // never connected: the pane reads nothing over REST
  ActivityPane pane(client, clock);
  QAbstractItemModel& log = *pane.findChild<QTableView*>("logView")->model();
  QAbstractItemModelTester tester(&log, QAbstractItemModelTester::FailureReportingMode::QtTest);
  auto* show_inventory = pane.findChild<QCheckBox*>("showInventoryCheck");
  auto* type_filter = pane.findChild<QComboBox*>("logTypeFilter");
  QVERIFY(!show_inventory->isChecked());
  pane.append({reserved("shoes", "o1", kT0.addSecs(60)), counts("shoes", 5, 4, 0),
               ev("order.waiting", "shoes", "o2", {{"waitlist_seq", 1}}),
               counts("shoes", 5, 4, 1)});
  QCOMPARE(log.rowCount(), 2);  // the order events only
  QCOMPARE(cell(log, 0, EventLogModel::type), QStringLiteral("order.waiting"));
  QCOMPARE(cell(log, 1, EventLogModel::type), QStringLiteral("order.reserved"));
  show_inventory->setChecked(true);
  QCOMPARE(log.rowCount(), 4);
  QCOMPARE(cell(log, 0, EventLogModel::type), QStringLiteral("inventory.changed"));
  show_inventory->setChecked(false);
  QCOMPARE(log.rowCount(), 2);
  // Asked for by type, they show.
  type_filter->setCurrentIndex(type_filter->findData("inventory.changed"));
  QCOMPARE(log.rowCount(), 2);
  QCOMPARE(cell(log, 1, EventLogModel::details), QStringLiteral("available 4, waiting 0, total 5"));
  // A note shows whatever the filters.
  pane.note_missed_events();
  QCOMPARE(log.rowCount(), 3);
  QCOMPARE(cell(log, 0, EventLogModel::details),
           QStringLiteral("some events were missed while disconnected"));
  type_filter->setCurrentIndex(0);
  QCOMPARE(log.rowCount(), 3);
}

void ModelsTest::chart_shows_the_selected_items_rates() {
  ServerClock clock;
  clock.set_local([] { return kT0.addSecs(3).toMSecsSinceEpoch(); });  // the chart ends at t0+2
  AdminClient client;
  ActivityPane pane(client, clock);
  const QDateTime t1 = kT0.addSecs(1);
  const QDateTime later = kT0.addSecs(600);
  pane.append({reserved("a", "1", later, false, kT0), reserved("a", "2", later, false, kT0),
               ev("order.waiting", "a", "3", {{"waitlist_seq", 1}}, kT0),
               ev("order.expired", "a", "1", {}, t1), reserved("a", "3", later, true, t1),
               reserved("b", "4", later, false, kT0), ev("order.waiting", "b", "5", {}, t1),
               ev("order.waiting", "b", "6", {}, t1), ev("order.expired", "b", "4", {}, t1)});
  QChart* chart = pane.chart()->chart();
  // Widest first, each drawn over the ones before: two equal rates still show both lines.
  QStringList names;
  qreal width = 1000;
  for (QAbstractSeries* s : chart->series()) {
    names << s->name();
    const qreal w = static_cast<QLineSeries*>(s)->pen().widthF();
    QVERIFY2(w < width, qPrintable(s->name()));
    width = w;
  }
  QCOMPARE(names, (QStringList{"joins", "reservations", "expiries", "promotions"}));
  // The last three points of each series: t0, t0+1, t0+2.
  const auto rates = [chart](const char* name) {
    for (QAbstractSeries* s : chart->series()) {
      if (s->name() != QLatin1String(name)) continue;
      const QList<QPointF> points = static_cast<QLineSeries*>(s)->points();
      QList<int> out;
      for (qsizetype i = points.size() - 3; i < points.size(); ++i) {
        out << static_cast<int>(points[i].y());
      }
      return out;
    }
    return QList<int>{};
  };
  pane.set_item("a");
  QCOMPARE(chart->title(), QStringLiteral("a"));
  QCOMPARE(rates("joins"), (QList<int>{3, 0, 0}));
  QCOMPARE(rates("reservations"), (QList<int>{2, 0, 0}));
  QCOMPARE(rates("promotions"), (QList<int>{0, 1, 0}));
  QCOMPARE(rates("expiries"), (QList<int>{0, 1, 0}));
  pane.set_item("b");
  QCOMPARE(rates("joins"), (QList<int>{1, 2, 0}));
  QCOMPARE(rates("reservations"), (QList<int>{1, 0, 0}));
  QCOMPARE(rates("promotions"), (QList<int>{0, 0, 0}));
  QCOMPARE(rates("expiries"), (QList<int>{0, 1, 0}));
  pane.set_item({});  // none selected: every item
  QCOMPARE(chart->title(), QStringLiteral("all items"));
  QCOMPARE(rates("joins"), (QList<int>{4, 2, 0}));
  QCOMPARE(rates("expiries"), (QList<int>{0, 2, 0}));
  const qint64 end = kT0.addSecs(2).toMSecsSinceEpoch();
  for (QAbstractSeries* s : chart->series()) {
    QCOMPARE(static_cast<qint64>(static_cast<QLineSeries*>(s)->points().back().x()), end);
  }
}

void ModelsTest::placement_chart_shows_refusals_and_latency() {
  const qint64 s0 = kT0.toSecsSinceEpoch();
  const auto second = [](qint64 at, const QJsonObject& outcomes, double p99_ms) {
    return QJsonObject{{"at", at}, {"outcomes", outcomes}, {"p99_ms", p99_ms}};
  };
  QString error;
  const auto parsed = parse_placements(
      QJsonObject{
          {"item_id", "shoes"},
          {"window_s", 300},
          {"seconds", QJsonArray{second(s0 - 400, {{"sale_closed", 9}}, 900),  // too old
                                 second(s0, {{"accepted", 40}, {"limit_exceeded", 3}}, 12.5),
                                 second(s0 + 2, {{"accepted", 1}, {"sold_out", 7}}, 3.1)}}},
      &error);
  QVERIFY2(parsed, qPrintable(error));
  QCOMPARE(parsed->size(), 3);
  QCOMPARE((*parsed)[1].outcomes.value("limit_exceeded"), 3);
  QCOMPARE((*parsed)[1].p99_ms, 12.5);

  PlacementChart chart;
  // The window ends at s0+2; the last three seconds are s0, s0+1 (no placement) and s0+2.
  chart.show_placements("shoes", *parsed, (s0 + 3) * 1000, 60);
  QCOMPARE(chart.chart()->title(), QStringLiteral("shoes: refused per second, p99 latency"));
  const auto points = [&chart](const QString& name) {
    for (QAbstractSeries* s : chart.chart()->series()) {
      if (s->name() == name) return static_cast<QLineSeries*>(s)->points();
    }
    return QList<QPointF>{};
  };
  const auto last3 = [&points](const QString& name) {
    const QList<QPointF> p = points(name);
    QList<double> out;
    for (qsizetype i = qMax<qsizetype>(0, p.size() - 3); i < p.size(); ++i) out << p[i].y();
    return out;
  };
  QStringList names;
  for (QAbstractSeries* s : chart.chart()->series()) names << s->name();
  // A line per code seen in the window (not `accepted`: the joins of the other chart), and p99.
  QCOMPARE(names, (QStringList{"p99 ms (right)", "limit_exceeded", "sold_out"}));
  QCOMPARE(points("limit_exceeded").size(), 60);  // zeros where the code did not show
  QCOMPARE(last3("limit_exceeded"), (QList<double>{3, 0, 0}));
  QCOMPARE(last3("sold_out"), (QList<double>{0, 0, 7}));
  // p99 only where there were placements.
  QCOMPARE(points("p99 ms (right)").size(), 2);
  QCOMPARE(last3("p99 ms (right)"), (QList<double>{12.5, 3.1}));
  // Another item: the first item's codes go.
  chart.show_placements("hats", {}, (s0 + 3) * 1000, 60, "HTTP 404: no item 'hats'");
  names.clear();
  for (QAbstractSeries* s : chart.chart()->series()) names << s->name();
  QCOMPARE(names, QStringList{"p99 ms (right)"});
  QVERIFY(chart.chart()->title().endsWith("HTTP 404: no item 'hats'"));
  chart.set_stale(true);
  QVERIFY(chart.chart()->title().endsWith("not connected"));

  QVERIFY(!parse_placements(QJsonObject{{"seconds", QJsonArray{second(s0, {{"accepted", -1}}, 1)}}},
                            &error));
  QCOMPARE(error, QStringLiteral(
                      "second 1: field 'outcomes' is missing or not an object of whole numbers"));
  QVERIFY(!parse_placements(
      QJsonObject{{"seconds", QJsonArray{QJsonObject{{"at", s0}, {"outcomes", QJsonObject{}}}}}},
      &error));
  QCOMPARE(error, QStringLiteral("second 1: field 'p99_ms' is missing or not a number"));
}

void ModelsTest::bad_answers_are_named() {
  QString error;
  QVERIFY(!parse_event(QJsonObject{{"type", "order.waiting"}}, &error));
  QCOMPARE(error, QStringLiteral("event: field 'event_id' is missing or not a string"));
  QVERIFY(!parse_event(
      QJsonObject{
          {"event_id", "1"}, {"type", "x"}, {"item_id", "a"}, {"committed_at", "yesterday"}},
      &error));
  QVERIFY(error.contains("'committed_at'"));
  const QJsonObject good{{"event_id", "0/1/0"},
                         {"type", "order.waiting"},
                         {"item_id", "a"},
                         {"order_id", "o"},
                         {"committed_at", "2026-11-24T10:00:00.250Z"}};
  const auto e = parse_event(good, &error);
  QVERIFY(e);
  QCOMPARE(e->committed_at.toMSecsSinceEpoch(), kT0.toMSecsSinceEpoch() + 250);
  QVERIFY(e->user_id.isEmpty());

  QVERIFY(!parse_items(QJsonObject{{"items", QJsonArray{QJsonObject{{"id", "a"}}}}}, &error));
  QCOMPARE(error, QStringLiteral("item 'a': field 'name' is missing or not a string"));
  QVERIFY(!parse_items(QJsonObject{{"items", QJsonArray{QJsonObject{
                                                 {"id", "a"},
                                                 {"name", "A"},
                                                 {"total_stock", 1.5},
                                             }}}},
                       &error));
  QVERIFY(error.contains("'total_stock'") && error.contains("whole number"));
  QVERIFY(!parse_items(QJsonObject{{"things", QJsonArray{}}}, &error));
  QVERIFY(error.contains("'items'"));
  QVERIFY(
      !parse_waitlist(QJsonObject{{"item_id", "a"}, {"waiting", 1}, {"waitlist", "x"}}, &error));
  QVERIFY(!parse_leases(QJsonObject{{"leases", QJsonArray{1}}}, &error));
  QCOMPARE(error, QStringLiteral("lease 1 is not an object"));
  QVERIFY(!parse_plugins(
      QJsonObject{
          {"plugins", QJsonArray{QJsonObject{{"name", "p"}, {"kind", "push"}, {"version", "1"}}}}},
      &error));
  QVERIFY(error.contains("health"));
  QVERIFY(!parse_time("24/11/2026 10:00").isValid());
}

void ModelsTest::orders_and_line_pages_are_parsed() {
  QString error;
  const QJsonObject order{
      {"id", "o-1"},
      {"item_id", "shoes"},
      {"user_id", "u-1"},
      {"status", "reserved"},
      {"reservation", QJsonObject{{"id", "r-1"}, {"expires_at", "2026-11-24T10:02:00.000Z"}}},
      {"created_at", "2026-11-24T10:00:00.000Z"},
      {"updated_at", "2026-11-24T10:00:00.000Z"},
      {"history", QJsonArray{QJsonObject{{"at", "2026-11-24T10:00:00.000Z"},
                                         {"what", "placed"},
                                         {"status", "waiting"}},
                             QJsonObject{{"at", "2026-11-24T10:00:00.000Z"},
                                         {"what", "promoted"},
                                         {"expires_at", "2026-11-24T10:02:00.000Z"}}}}};
  const auto parsed = parse_order(order, &error);
  QVERIFY2(parsed, qPrintable(error));
  QCOMPARE(parsed->history.size(), 2);
  QCOMPARE(parsed->history[0].what, QStringLiteral("placed"));
  QCOMPARE(parsed->history[0].detail, QStringLiteral("status waiting"));
  QCOMPARE(parsed->expires_at, kT0.addSecs(120));
  QCOMPARE(parsed->waitlist_position, 0);  // not waiting
  QVERIFY(parsed->can_cancel() && parsed->can_expire());
  QJsonObject waiting = order;
  waiting["status"] = "waiting";
  waiting["waitlist_position"] = 12;
  waiting.remove("reservation");
  const auto in_line = parse_order(waiting, &error);
  QVERIFY(in_line && in_line->waitlist_position == 12 && !in_line->expires_at.isValid());
  QVERIFY(in_line->can_cancel() && !in_line->can_expire());
  // A bad entry is named; a list's orders need no user or history.
  QJsonObject bad = order;
  bad["history"] = QJsonArray{QJsonObject{{"what", "placed"}}};
  QVERIFY(!parse_order(bad, &error));
  QCOMPARE(error, QStringLiteral("history entry 1: field 'at' is missing or not a string"));
  QJsonObject listed = order;
  listed.remove("user_id");
  listed.remove("history");
  const auto list =
      parse_orders(QJsonObject{{"orders", QJsonArray{listed, QJsonObject{}}}}, &error);
  QVERIFY(!list);
  QCOMPARE(error, QStringLiteral("order 2: field 'id' is missing or not a string"));
  QCOMPARE(parse_orders(QJsonObject{{"orders", QJsonArray{listed}}}, &error)->size(), 1);

  // A page of the line from offset on: positions as sent, else counted from the offset.
  const QJsonObject waiter{{"order_id", "o"},
                           {"user_id", "u"},
                           {"waitlist_seq", 9},
                           {"waiting_since", "2026-11-24T10:00:00.000Z"}};
  QJsonObject placed = waiter;
  placed["position"] = 201;
  const auto page = parse_waitlist(QJsonObject{{"item_id", "a"},
                                               {"waiting", 1234},
                                               {"offset", 200},
                                               {"waitlist", QJsonArray{placed, waiter}}},
                                   &error);
  QVERIFY2(page, qPrintable(error));
  QCOMPARE(page->offset, 200);
  QCOMPARE(page->waiters[0].position, 201);
  QCOMPARE(page->waiters[1].position, 202);
}

QTEST_MAIN(ModelsTest)
#include "models_test.moc"
