// The activity chart (Qt Charts): reservations, promotions and expiries per second over the
// Throughput window, redrawn once a second from the counts.
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

  // Shows the window that ends at the last full second before `now_ms`.
  void show_counts(const Throughput& counts, qint64 now_ms);
  // Not connected: greyed, titled so, the counts stop where the stream stopped.
  void set_stale(bool stale);

 private:
  QLineSeries* series_[3];  // reservations, promotions, expiries; owned by the chart
  QDateTimeAxis* time_axis_;
  QValueAxis* rate_axis_;
};

}  // namespace flashsale::admin
