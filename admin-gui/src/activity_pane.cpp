// See activity_pane.hpp.
#include "activity_pane.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QVBoxLayout>

#include "widgets.hpp"

namespace flashsale::admin {

ActivityPane::ActivityPane(AdminClient& client, const ServerClock& clock, QWidget* parent)
    : QWidget(parent), client_(client), clock_(clock) {
  proxy_.setSourceModel(&log_);
  log_view_ = make_table("logView", &proxy_, {90, 130, 75, 230, 90});
  log_view_->setTextElideMode(Qt::ElideRight);  // details (and user ids) read from the left
  auto* type_filter = new QComboBox;
  type_filter->setObjectName("logTypeFilter");
  type_filter->addItem(tr("All types"), QString());
  for (const std::string_view type : event_type::kAll) {
    type_filter->addItem(qt_name(type), qt_name(type));
  }
  connect(type_filter, &QComboBox::currentIndexChanged, this,
          [this, type_filter] { proxy_.set_type(type_filter->currentData().toString()); });
  auto* item_filter = new QLineEdit;
  item_filter->setObjectName("logItemFilter");
  item_filter->setPlaceholderText(tr("Item"));
  item_filter->setClearButtonEnabled(true);
  connect(item_filter, &QLineEdit::textChanged, &proxy_, &EventFilterProxy::set_item);
  auto* inventory_check = new QCheckBox(tr("Show inventory changes"));
  inventory_check->setObjectName("showInventoryCheck");
  connect(inventory_check, &QCheckBox::toggled, &proxy_, &EventFilterProxy::set_show_inventory);
  auto* filter_row = new QHBoxLayout;
  filter_row->setContentsMargins(0, 0, 0, 0);
  filter_row->addWidget(type_filter);
  filter_row->addWidget(item_filter, 1);
  filter_row->addWidget(inventory_check);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(filter_row);
  layout->addWidget(log_view_);

  chart_ = new ThroughputChart;
  chart_->setObjectName("throughputChart");
  chart_->setMinimumWidth(360);
  placement_chart_ = new PlacementChart;
  placement_chart_->setObjectName("placementChart");
  placement_chart_->setMinimumWidth(360);
  rate_label_ = new QLabel;
  rate_label_->setObjectName("rateLabel");
  redraw_timer_.setInterval(1000);
  connect(&redraw_timer_, &QTimer::timeout, this, &ActivityPane::redraw);
  redraw_timer_.start();
}

ActivityPane::~ActivityPane() {
  // Never placed by a window: still ours.
  if (chart_ && !chart_->parent()) delete chart_;
  if (placement_chart_ && !placement_chart_->parent()) delete placement_chart_;
  if (rate_label_ && !rate_label_->parent()) delete rate_label_;
}

void ActivityPane::append(const QVector<Event>& batch) {
  log_.append(batch);
  throughput_.add(batch);
  events_this_second_ += static_cast<int>(batch.size());
}

void ActivityPane::note_missed_events() {
  log_.append_note(tr("some events were missed while disconnected"));
}

void ActivityPane::set_item(const QString& item_id) {
  if (item_id == item_id_) return;
  item_id_ = item_id;
  redraw_chart();  // now, not at the next second
  if (placement_chart_) {
    placement_chart_->show_placements(item_id_, {}, clock_.now_ms(), throughput_.window_s());
  }
  fetch_placements();
  fetch_backfill();
}

void ActivityPane::set_live(bool live) {
  if (live && !live_) throughput_.clear_backfill();  // what was missed meanwhile, asked again
  live_ = live;
  set_stale(log_view_, !live);
  if (chart_) chart_->set_stale(!live);
  if (placement_chart_) placement_chart_->set_stale(!live);
}

void ActivityPane::fetch_placements() {
  if (!live_ || item_id_.isEmpty() || placements_asked_ || !placement_chart_) return;
  placements_asked_ = true;
  const QString item_id = item_id_;
  client_.get(item_path(item_id) + QStringLiteral("/placements"), this,
              [this, item_id](const Reply& reply) {
                placements_asked_ = false;
                if (item_id != item_id_ || !placement_chart_) return;  // another item by now
                QString problem = reply.error;
                std::optional<QVector<PlacementSecond>> seconds;
                if (reply.ok()) seconds = parse_placements(reply.body, &problem);
                placement_chart_->show_placements(item_id,
                                                  seconds.value_or(QVector<PlacementSecond>{}),
                                                  clock_.now_ms(), throughput_.window_s(), problem);
              });
}

void ActivityPane::fetch_backfill() {
  if (!live_ || backfill_asked_ || throughput_.has_backfill(item_id_) || !chart_) return;
  backfill_asked_ = true;
  const QString item_id = item_id_;
  QString path = QStringLiteral("/admin/activity");
  if (!item_id.isEmpty()) path += QStringLiteral("?item=") + path_segment(item_id);
  client_.get(path, this, [this, item_id](const Reply& reply) {
    backfill_asked_ = false;
    if (item_id != item_id_ || !live_) return;  // another item, or disconnected, by now
    std::optional<ActivityWindow> window;
    if (reply.ok()) window = parse_activity(reply.body, nullptr);
    // Without the server's counts the chart shows what arrived since connecting.
    throughput_.backfill(item_id, window.value_or(ActivityWindow{}));
    redraw_chart();
  });
}

void ActivityPane::redraw_chart() {
  if (chart_) chart_->show_counts(throughput_, item_id_, clock_.now_ms());
}

void ActivityPane::redraw() {
  redraw_chart();
  fetch_placements();
  fetch_backfill();
  if (rate_label_) rate_label_->setText(tr("%1 events/s").arg(events_this_second_));
  events_this_second_ = 0;
}

}  // namespace flashsale::admin
