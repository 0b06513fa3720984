// The activity pane: the event log with its type and item filters, the throughput chart of the
// selected item and the events-per-second figure, redrawn once a second. It owns the EventLogModel,
// its proxy and the Throughput counts. The chart and the rate label are made here but placed by the
// window (the chart beside the inventory, the rate in the status bar), which then owns them.
#pragma once

#include <QLabel>
#include <QPointer>
#include <QTableView>
#include <QTimer>
#include <QWidget>

#include "event_log_model.hpp"
#include "server_clock.hpp"
#include "throughput.hpp"
#include "throughput_chart.hpp"

namespace flashsale::admin {

class ActivityPane : public QWidget {
  Q_OBJECT

 public:
  // The chart shows the minutes up to `clock`'s now: events carry the server's commit times.
  explicit ActivityPane(const ServerClock& clock, QWidget* parent = nullptr);
  ~ActivityPane() override;

  void append(const QVector<Event>& batch);
  // The stream could not replay every event since the connection was lost: the log says so.
  void note_missed_events();
  // The chart shows this item's rates; empty: all items'.
  void set_item(const QString& item_id);
  // Connected or not: while not, the data shown may be out of date and looks it.
  void set_live(bool live);

  [[nodiscard]] ThroughputChart* chart() const { return chart_; }
  [[nodiscard]] QLabel* rate_label() const { return rate_label_; }

 private:
  void redraw();
  void redraw_chart();

  const ServerClock& clock_;
  EventLogModel log_;
  EventFilterProxy proxy_;
  Throughput throughput_;
  QString item_id_;  // the chart's
  QTableView* log_view_;
  QPointer<ThroughputChart> chart_;
  QPointer<QLabel> rate_label_;
  QTimer redraw_timer_;  // the chart and the event rate, once a second
  int events_this_second_ = 0;
};

}  // namespace flashsale::admin
