// See throughput_chart.hpp.
#include "throughput_chart.hpp"

#include <QChart>
#include <QDateTime>

#include "widgets.hpp"

namespace flashsale::admin {
namespace {

// The lines often coincide: every join is a reservation while stock lasts, and every expiry a
// promotion while a line waits. Each is drawn narrower than the one under it, so a line on top
// of another leaves the one below showing on both sides.
struct Line {
  const char* name;
  QColor colour;
  qreal width;
};
const Line kLines[4] = {{"joins", QColor(0x9e, 0xca, 0xe1), 10},
                        {"reservations", QColor(0x21, 0x66, 0xac), 7},
                        {"expiries", QColor(0xef, 0x6f, 0x4a), 4},
                        {"promotions", QColor(0x00, 0x6d, 0x2c), 1.5}};

}  // namespace

ThroughputChart::ThroughputChart(QWidget* parent) : QChartView(parent) {
  QChart* chart = make_time_chart(&time_axis_);
  rate_axis_ = new QValueAxis;
  rate_axis_->setLabelFormat(QStringLiteral("%d"));
  rate_axis_->setTruncateLabels(false);
  rate_axis_->setMin(0);
  chart->addAxis(rate_axis_, Qt::AlignLeft);
  for (int i = 0; i < 4; ++i) {
    series_[i] = new QLineSeries;
    series_[i]->setName(tr(kLines[i].name));
    series_[i]->setPen(
        QPen(kLines[i].colour, kLines[i].width, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
    chart->addSeries(series_[i]);  // later series are drawn on top
    series_[i]->attachAxis(time_axis_);
    series_[i]->attachAxis(rate_axis_);
  }
  setChart(chart);
  setRenderHint(QPainter::Antialiasing);
  show_counts(Throughput{}, {}, QDateTime::currentMSecsSinceEpoch());
}

void ThroughputChart::set_stale(bool stale) {
  admin::set_stale(this, stale);
  stale_ = stale;
  update_title();
}

void ThroughputChart::update_title() {
  const QString what = item_id_.isEmpty() ? tr("all items") : item_id_;
  chart()->setTitle(stale_ ? tr("%1 — not connected: the counts stop here").arg(what) : what);
}

void ThroughputChart::show_counts(const Throughput& counts, const QString& item_id, qint64 now_ms) {
  if (item_id != item_id_) {
    item_id_ = item_id;
    update_title();
  }
  const qint64 end_s = now_ms / 1000 - 1;
  QList<QPointF> points[4];
  int peak = 0;
  for (const Throughput::Second& s : counts.series(end_s, item_id)) {
    const double x = static_cast<double>(s.at) * 1000.0;
    const int values[4] = {s.joins, s.reservations, s.expiries, s.promotions};
    for (int i = 0; i < 4; ++i) {
      points[i].append(QPointF(x, values[i]));
      peak = qMax(peak, values[i]);
    }
  }
  for (int i = 0; i < 4; ++i) series_[i]->replace(points[i]);
  time_axis_->setRange(QDateTime::fromSecsSinceEpoch(end_s - counts.window_s() + 1),
                       QDateTime::fromSecsSinceEpoch(end_s));
  // A round ceiling a little above the peak, so the lines do not touch the top.
  rate_axis_->setRange(0, qMax(5.0, peak * 1.1));
  rate_axis_->applyNiceNumbers();
}

}  // namespace flashsale::admin
