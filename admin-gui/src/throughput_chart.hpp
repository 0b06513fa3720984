// The activity chart (Qt Charts): joins, reservations, promotions and expiries per second of one
// item (or of all) over the Throughput window, redrawn once a second from the counts.
#pragma once

#include <QChartView>
#include <QDateTimeAxis>
#include <QLineSeries>
#include <QValueAxis>

#include "throughput.hpp"

namespace flashsale::admin {

class ThroughputChart : public QChartView {
  Q_OBJECT

 public:
  explicit ThroughputChart(QWidget* parent = nullptr);

  // Shows `item_id`'s (empty: every item's) window that ends at the last full second before
  // `now_ms`.
  void show_counts(const Throughput& counts, const QString& item_id, qint64 now_ms);
  // Not connected: greyed, titled so, the counts stop where the stream stopped.
  void set_stale(bool stale);

 private:
  void update_title();

  // joins, reservations, expiries, promotions: widest first; owned by the chart
  QLineSeries* series_[4];
  QDateTimeAxis* time_axis_;
  QValueAxis* rate_axis_;
  QString item_id_;
  bool stale_ = false;
};

}  // namespace flashsale::admin
