// See inventory_pane.hpp.
#include "inventory_pane.hpp"

#include <QLineEdit>
#include <QVBoxLayout>

#include "widgets.hpp"

namespace flashsale::admin {

InventoryPane::InventoryPane(AdminClient& client, const ServerClock& clock, QWidget* parent)
    : QGroupBox(tr("Inventory"), parent), client_(client), clock_(clock) {
  model_.set_clock(clock_.source());
  proxy_.setSourceModel(&model_);
  view_ = make_table("inventoryView", &proxy_, {150, 150, 70, 80, 80, 80, 80, 70, 180});
  view_->setSortingEnabled(true);
  view_->sortByColumn(InventoryModel::id, Qt::AscendingOrder);
  auto* filter = new QLineEdit;
  filter->setObjectName("itemFilter");
  filter->setPlaceholderText(tr("Filter items by id or name"));
  filter->setClearButtonEnabled(true);
  connect(filter, &QLineEdit::textChanged, &proxy_, &QSortFilterProxyModel::setFilterFixedString);
  connect(view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            emit current_item_changed(
                current.isValid() ? model_.id_at(proxy_.mapToSource(current).row()) : QString());
          });
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->addWidget(filter);
  layout->addWidget(view_);
  // Each second of the server's clock for the countdowns, and at each opening and closing time,
  // so a sale that opens at 10:00:00.250 shows it then, not up to a second later.
  tick_timer_.setSingleShot(true);
  tick_timer_.setTimerType(Qt::PreciseTimer);
  connect(&tick_timer_, &QTimer::timeout, this, &InventoryPane::tick);
  tick();
}

void InventoryPane::tick() {
  model_.tick();
  const qint64 now = clock_.now_ms();
  qint64 next = now - now % 1000 + 1000;
  const qint64 change = model_.next_change_after(now);
  if (change > 0) next = qMin(next, change);
  tick_timer_.start(static_cast<int>(next - now) + 1);
  emit ticked();
}

void InventoryPane::set_live(bool live) { set_stale(view_, !live); }

void InventoryPane::retime() {
  model_.retime();
  tick();
}

void InventoryPane::show_snapshot(const QVector<Item>& items) {
  model_.set_items(items);
  if (!wanted_.isEmpty()) {
    select_item(wanted_);
  } else if (current_item().isEmpty() && proxy_.rowCount() > 0) {
    view_->setCurrentIndex(proxy_.index(0, 0));
  }
}

void InventoryPane::apply(const QVector<Event>& batch) {
  model_.apply(batch);
  // item.created does not say when the sale opens (docs/api.md): ask the item.
  for (const Event& e : batch) {
    if (e.type == qt_name(event_type::kItemCreated) && !e.data.contains("opens_at")) {
      fetch_opens_at(e.item_id);
    }
  }
  if (!wanted_.isEmpty()) select_item(wanted_);
}

void InventoryPane::refresh() {
  client_.get(QStringLiteral("/admin/items"), this, [this](const Reply& reply) {
    QString error = reply.error;
    const auto items = reply.ok() ? parse_items(reply.body, &error) : std::nullopt;
    if (!items) return emit problem(tr("Items: %1").arg(error));
    model_.set_items(*items);
    emit refreshed();
  });
}

void InventoryPane::fetch_opens_at(const QString& item_id) {
  client_.get(item_path(item_id), this, [this, item_id](const Reply& reply) {
    QString error = reply.error;
    const auto item = reply.ok() ? parse_item(reply.body, &error) : std::nullopt;
    if (!item) return emit problem(tr("Item %1: %2").arg(item_id, error));
    model_.set_opens_at(item_id, item->opens_at);
  });
}

void InventoryPane::select_item(const QString& item_id) {
  wanted_ = item_id;
  for (int row = 0; row < model_.rowCount(); ++row) {
    if (model_.id_at(row) != item_id) continue;
    const QModelIndex index = proxy_.mapFromSource(model_.index(row, 0));
    if (!index.isValid()) return;  // filtered out
    view_->setCurrentIndex(index);
    view_->scrollTo(index);
    wanted_.clear();
    return;
  }
}

QString InventoryPane::current_item() const {
  const QModelIndex current = view_->currentIndex();
  return current.isValid() ? model_.id_at(proxy_.mapToSource(current).row()) : QString();
}

}  // namespace flashsale::admin
