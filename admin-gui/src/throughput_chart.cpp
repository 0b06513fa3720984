// See throughput_chart.hpp.
#include "throughput_chart.hpp"

#include <QChart>
#include <QDateTime>

namespace flashsale::admin {

ThroughputChart::ThroughputChart(QWidget* parent) : QChartView(parent) {
  auto* chart = new QChart;
  chart->legend()->setAlignment(Qt::AlignBottom);
  chart->setMargins(QMargins(4, 4, 4, 4));
  const char* const names[3] = {"reservations", "promotions", "expiries"};
  const QColor colours[3] = {QColor(0x1f, 0x77, 0xb4), QColor(0x2c, 0xa0, 0x2c),
                             QColor(0xd6, 0x27, 0x28)};
  time_axis_ = new QDateTimeAxis;
  time_axis_->setFormat(QStringLiteral("HH:mm:ss"));
  time_axis_->setTickCount(6);
  rate_axis_ = new QValueAxis;
  rate_axis_->setLabelFormat(QStringLiteral("%d"));
  rate_axis_->setMin(0);
  chart->addAxis(time_axis_, Qt::AlignBottom);
  chart->addAxis(rate_axis_, Qt::AlignLeft);
  for (int i = 0; i < 3; ++i) {
    series_[i] = new QLineSeries;
    series_[i]->setName(tr(names[i]));
    // Each expiry with a line waiting is also a promotion: dashed, so the two stay apart.
    series_[i]->setPen(QPen(colours[i], 2, i == 2 ? Qt::DashLine : Qt::SolidLine));
    chart->addSeries(series_[i]);
    series_[i]->attachAxis(time_axis_);
    series_[i]->attachAxis(rate_axis_);
  }
  setChart(chart);
  setRenderHint(QPainter::Antialiasing);
  show_counts(Throughput{}, QDateTime::currentMSecsSinceEpoch());
}

void ThroughputChart::set_stale(bool stale) {
  setProperty("stale", stale);
  chart()->setBackgroundBrush(stale ? QColor(0xec, 0xec, 0xec) : QColor(Qt::white));
  chart()->setTitle(stale ? tr("Not connected: the counts stop here") : QString());
}

void ThroughputChart::show_counts(const Throughput& counts, qint64 now_ms) {
  const qint64 end_s = now_ms / 1000 - 1;
  QList<QPointF> points[3];
  int peak = 0;
  for (const Throughput::Second& s : counts.series(end_s)) {
    const double x = static_cast<double>(s.at) * 1000.0;
    points[0].append(QPointF(x, s.reservations));
    points[1].append(QPointF(x, s.promotions));
    points[2].append(QPointF(x, s.expiries));
    peak = qMax(peak, qMax(s.reservations, qMax(s.promotions, s.expiries)));
  }
  for (int i = 0; i < 3; ++i) series_[i]->replace(points[i]);
  time_axis_->setRange(QDateTime::fromSecsSinceEpoch(end_s - counts.window_s() + 1),
                       QDateTime::fromSecsSinceEpoch(end_s));
  // A round ceiling a little above the peak, so the lines do not touch the top.
  rate_axis_->setRange(0, qMax(5.0, peak * 1.1));
  rate_axis_->applyNiceNumbers();
}

}  // namespace flashsale::admin
