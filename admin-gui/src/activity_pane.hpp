// The activity pane: the event log with its type and item filters, the throughput chart and the
// placement chart of the selected item and the events-per-second figure, redrawn once a second.
// It owns the EventLogModel, its proxy and the Throughput counts, and reads the selected item's
// placements, and the activity from before it connected, over REST. The charts and the rate label
// are made here but placed by the window (the charts beside the inventory, the rate in the status
// bar), which then owns them.
#pragma once

#include <QLabel>
#include <QPointer>
#include <QTableView>
#include <QTimer>
#include <QWidget>

#include "admin_client.hpp"
#include "event_log_model.hpp"
#include "placement_chart.hpp"
#include "server_clock.hpp"
#include "throughput.hpp"
#include "throughput_chart.hpp"

namespace flashsale::admin {

class ActivityPane : public QWidget {
  Q_OBJECT

 public:
  // The chart shows the minutes up to `clock`'s now: events carry the server's commit times.
  ActivityPane(AdminClient& client, const ServerClock& clock, QWidget* parent = nullptr);
  ~ActivityPane() override;

  void append(const QVector<Event>& batch);
  // The stream could not replay every event since the connection was lost: the log says so.
  void note_missed_events();
  // The chart shows this item's rates; empty: all items'.
  void set_item(const QString& item_id);
  // Connected or not: while not, the data shown may be out of date and looks it.
  void set_live(bool live);

  [[nodiscard]] ThroughputChart* chart() const { return chart_; }
  [[nodiscard]] PlacementChart* placement_chart() const { return placement_chart_; }
  [[nodiscard]] QLabel* rate_label() const { return rate_label_; }

 private:
  void redraw();
  void redraw_chart();
  void fetch_placements();
  // The server's counts of the selected item (or of all) from before this connection, once per
  // connection and item.
  void fetch_backfill();

  AdminClient& client_;
  const ServerClock& clock_;
  EventLogModel log_;
  EventFilterProxy proxy_;
  Throughput throughput_;
  QString item_id_;  // the chart's
  QTableView* log_view_;
  QPointer<ThroughputChart> chart_;
  QPointer<PlacementChart> placement_chart_;
  bool live_ = false;
  bool placements_asked_ = false;  // a read is under way: the next waits for it
  bool backfill_asked_ = false;    // likewise
  QPointer<QLabel> rate_label_;
  QTimer redraw_timer_;  // the chart and the event rate, once a second
  int events_this_second_ = 0;
};

}  // namespace flashsale::admin
