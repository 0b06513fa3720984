// The placement chart (Qt Charts): what the event stream cannot show for the selected item, from
// GET /admin/items/{item}/placements: its refusals per second by error code (one line per code,
// added when the code first shows) and the 99th percentile of its placement latency (right
// axis, ms). The server keeps 5 minutes, so the chart is full as soon as an item is selected.
#pragma once

#include <QChartView>
#include <QDateTimeAxis>
#include <QLineSeries>
#include <QMap>
#include <QValueAxis>

#include "api_types.hpp"

namespace flashsale::admin {

class PlacementChart : public QChartView {
  Q_OBJECT

 public:
  explicit PlacementChart(QWidget* parent = nullptr);

  // `item_id`'s seconds (empty: no item selected) over the `window_s` seconds that end at the
  // last full second before `now_ms`; `problem`, when not empty, says why they could not be read.
  void show_placements(const QString& item_id, const QVector<PlacementSecond>& seconds,
                       qint64 now_ms, int window_s, const QString& problem = {});
  // Not connected: greyed, titled so.
  void set_stale(bool stale);

 private:
  QLineSeries* refusal_series(const QString& code);
  void update_title();

  QMap<QString, QLineSeries*> refusals_;  // by error code; owned by the chart
  QLineSeries* p99_;
  QDateTimeAxis* time_axis_;
  QValueAxis* count_axis_;
  QValueAxis* latency_axis_;
  QString item_id_;
  QString problem_;
  bool stale_ = false;
};

}  // namespace flashsale::admin
