// See item_pane.hpp.
#include "item_pane.hpp"

#include <QHBoxLayout>
#include <QLocale>
#include <QSplitter>

#include "widgets.hpp"

namespace flashsale::admin {
ItemPane::ItemPane(AdminClient& client, const InventoryModel& inventory, const ServerClock& clock,
                   QWidget* parent)
    : QWidget(parent), client_(client), inventory_(inventory) {
  waitlist_.set_clock(clock.source());
  leases_.set_clock(clock.source());
  waitlist_label_ = new QLabel;
  waitlist_label_->setObjectName("waitlistLabel");
  waitlist_view_ = make_table("waitlistView", &waitlist_, {55, 130, 100});
  elide_right(waitlist_view_, WaitlistModel::user);
  lease_label_ = new QLabel;
  lease_label_->setObjectName("leaseLabel");
  lease_view_ = make_table("leaseView", &leases_, {130, 100, 70, 70});
  elide_right(lease_view_, LeaseModel::user);
  connect(lease_view_->selectionModel(), &QItemSelectionModel::selectionChanged, this,
          &ItemPane::leases_changed);
  connect(&waitlist_, &WaitlistModel::refill_needed, this, &ItemPane::fetch_waitlist);
  connect(&leases_, &LeaseModel::refill_needed, this, &ItemPane::fetch_leases);

  auto* split = new QSplitter(Qt::Horizontal);
  split->addWidget(boxed(tr("Waiting line"), {waitlist_label_, waitlist_view_}));
  split->addWidget(boxed(tr("Lease timers"), {lease_label_, lease_view_}));
  split->setSizes({420, 480});
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(split);
  update_labels();
}

void ItemPane::show_item(const QString& item_id) {
  if (item_id == waitlist_.item_id()) return;
  waitlist_.set_item(item_id);
  leases_.set_item(item_id);
  refresh();
  update_labels();
  emit leases_changed();
}

void ItemPane::refresh() {
  fetch_waitlist();
  fetch_leases();
}

void ItemPane::apply(const QVector<Event>& batch) {
  waitlist_.apply(batch);
  leases_.apply(batch);
  update_labels();
}

void ItemPane::fetch_waitlist() {
  const QString id = waitlist_.item_id();
  if (id.isEmpty()) return;
  waitlist_.begin_fetch();
  client_.get(item_path(id) + QStringLiteral("/waitlist?limit=%1").arg(waitlist_.limit()), this,
              [this, id](const Reply& reply) {
                if (id != waitlist_.item_id()) return;
                QString error = reply.error;
                const auto page = reply.ok() ? parse_waitlist(reply.body, &error) : std::nullopt;
                if (!page) {
                  waitlist_.fetch_failed();
                  return emit problem(tr("Waiting line of %1: %2").arg(id, error));
                }
                waitlist_.set_page(*page);
                update_labels();
              });
}

void ItemPane::fetch_leases() {
  const QString id = leases_.item_id();
  if (id.isEmpty()) return;
  leases_.begin_fetch();
  client_.get(item_path(id) + QStringLiteral("/leases?limit=%1").arg(leases_.limit()), this,
              [this, id](const Reply& reply) {
                if (id != leases_.item_id()) return;
                QString error = reply.error;
                const auto leases = reply.ok() ? parse_leases(reply.body, &error) : std::nullopt;
                if (!leases) {
                  leases_.fetch_failed();
                  return emit problem(tr("Leases of %1: %2").arg(id, error));
                }
                leases_.set_page(id, *leases);
                update_labels();
                emit leases_changed();
              });
}

void ItemPane::update_labels() {
  const QString id = waitlist_.item_id();
  if (id.isEmpty()) {
    waitlist_label_->setText(tr("Select an item to see its waiting line."));
    lease_label_->setText(tr("Select an item to see its leases."));
    return;
  }
  const QLocale locale;
  const QString name = id.toHtmlEscaped();
  const int waiting = waitlist_.waiting();
  const int shown = waitlist_.shown();
  if (waiting == 0) {
    waitlist_label_->setText(tr("<b>%1</b>: nobody waiting").arg(name));
  } else if (shown == 0 || shown >= waiting) {  // not read yet, or all of it
    waitlist_label_->setText(tr("<b>%1</b>: %2 waiting").arg(name, locale.toString(waiting)));
  } else {
    waitlist_label_->setText(tr("<b>%1</b>: %2 waiting; the first %3 shown")
                                 .arg(name, locale.toString(waiting), locale.toString(shown)));
  }
  const Item* item = inventory_.item(id);
  const int active = item ? item->reserved : 0;
  const int rows = leases_.rowCount();
  if (active == 0) {
    lease_label_->setText(tr("<b>%1</b>: no active leases").arg(name));
  } else if (rows == 0 || rows >= active) {
    lease_label_->setText(
        tr("<b>%1</b>: %2 active, soonest expiry first").arg(name, locale.toString(active)));
  } else {
    lease_label_->setText(tr("<b>%1</b>: %2 active; the first %3 shown, soonest expiry first")
                              .arg(name, locale.toString(active), locale.toString(rows)));
  }
}

void ItemPane::set_live(bool live) {
  set_stale(waitlist_view_, !live);
  set_stale(lease_view_, !live);
  leases_.set_stale(!live);
}

const Lease* ItemPane::selected_lease() const {
  const QModelIndexList rows = lease_view_->selectionModel()->selectedRows();
  return rows.isEmpty() ? nullptr : leases_.lease_at(rows.first().row());
}

}  // namespace flashsale::admin
