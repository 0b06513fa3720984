// See placement_chart.hpp.
#include "placement_chart.hpp"

#include <QChart>
#include <QDateTime>

#include "widgets.hpp"

namespace flashsale::admin {
namespace {

// Refusal lines in the order their codes first show; p99 is black and dashed, on its own axis.
const QColor kRefusalColours[] = {QColor(0xd7, 0x30, 0x27), QColor(0x99, 0x70, 0xab),
                                  QColor(0xe0, 0x8b, 0x14), QColor(0x35, 0x97, 0x8f),
                                  QColor(0x8c, 0x51, 0x0a), QColor(0x5a, 0x5a, 0xd0)};

}  // namespace

PlacementChart::PlacementChart(QWidget* parent) : QChartView(parent) {
  QChart* chart = make_time_chart(&time_axis_);
  count_axis_ = new QValueAxis;
  count_axis_->setLabelFormat(QStringLiteral("%d"));
  count_axis_->setTruncateLabels(false);
  count_axis_->setTitleText(tr("per s"));
  latency_axis_ = new QValueAxis;
  latency_axis_->setLabelFormat(QStringLiteral("%.0f"));
  latency_axis_->setTruncateLabels(false);
  latency_axis_->setTitleText(tr("ms"));
  chart->addAxis(count_axis_, Qt::AlignLeft);
  chart->addAxis(latency_axis_, Qt::AlignRight);
  p99_ = new QLineSeries;
  p99_->setName(tr("p99 ms (right)"));
  p99_->setPen(QPen(Qt::black, 1.5, Qt::DashLine));
  chart->addSeries(p99_);
  p99_->attachAxis(time_axis_);
  p99_->attachAxis(latency_axis_);
  setChart(chart);
  setRenderHint(QPainter::Antialiasing);
  setToolTip(
      tr("Placements answered by this replica (GET /admin/items/{item}/placements): "
         "behind a load balancer, its share only"));
  show_placements({}, {}, QDateTime::currentMSecsSinceEpoch(), 300);
}

QLineSeries* PlacementChart::refusal_series(const QString& code) {
  QLineSeries*& series = refusals_[code];
  if (!series) {
    series = new QLineSeries;
    series->setName(code);
    const qsizetype colours = std::size(kRefusalColours);
    series->setPen(QPen(kRefusalColours[(refusals_.size() - 1) % colours], 2));
    chart()->addSeries(series);
    series->attachAxis(time_axis_);
    series->attachAxis(count_axis_);
  }
  return series;
}

void PlacementChart::set_stale(bool stale) {
  admin::set_stale(this, stale);
  stale_ = stale;
  update_title();
}

void PlacementChart::update_title() {
  QString title = item_id_.isEmpty() ? tr("refusals and latency: select an item")
                                     : tr("%1: refused per second, p99 latency").arg(item_id_);
  if (!problem_.isEmpty()) title = tr("%1 — %2").arg(title, problem_);
  if (stale_) title = tr("%1 — not connected").arg(title);
  chart()->setTitle(title);
}

void PlacementChart::show_placements(const QString& item_id,
                                     const QVector<PlacementSecond>& seconds, qint64 now_ms,
                                     int window_s, const QString& problem) {
  if (item_id != item_id_) {  // another item's codes are not this one's
    for (QLineSeries* series : std::as_const(refusals_)) {
      chart()->removeSeries(series);
      delete series;
    }
    refusals_.clear();
    item_id_ = item_id;
  }
  problem_ = problem;
  update_title();
  const qint64 end_s = now_ms / 1000 - 1;
  const qint64 first_s = end_s - window_s + 1;
  // Every code seen in the window gets a line, zero in the seconds without it.
  QMap<QString, QList<QPointF>> refusals;
  for (const auto& [code, series] : refusals_.asKeyValueRange()) refusals[code];
  for (const PlacementSecond& s : seconds) {
    for (const auto& [outcome, n] : s.outcomes.asKeyValueRange()) {
      if (outcome != QLatin1String("accepted") && s.at >= first_s) refusals[outcome];
    }
  }
  QList<QPointF> p99;
  double peak_count = 0;
  double peak_ms = 0;
  auto next = seconds.begin();
  for (qint64 at = first_s; at <= end_s; ++at) {
    while (next != seconds.end() && next->at < at) ++next;
    const PlacementSecond* s = next != seconds.end() && next->at == at ? &*next : nullptr;
    const double x = static_cast<double>(at) * 1000.0;
    for (auto [code, points] : refusals.asKeyValueRange()) {
      const int n = s ? s->outcomes.value(code) : 0;
      points.append(QPointF(x, n));
      peak_count = qMax(peak_count, static_cast<double>(n));
    }
    if (s) {
      p99.append(QPointF(x, s->p99_ms));
      peak_ms = qMax(peak_ms, s->p99_ms);
    }
  }
  for (auto [code, points] : refusals.asKeyValueRange()) refusal_series(code)->replace(points);
  p99_->replace(p99);
  time_axis_->setRange(QDateTime::fromSecsSinceEpoch(first_s),
                       QDateTime::fromSecsSinceEpoch(end_s));
  count_axis_->setRange(0, qMax(5.0, peak_count * 1.1));
  count_axis_->applyNiceNumbers();
  latency_axis_->setRange(0, qMax(1.0, peak_ms * 1.1));
  latency_axis_->applyNiceNumbers();
}

}  // namespace flashsale::admin
