// The selected item's pane: its waiting line and its active leases side by side, each under a
// line saying how long the list is and how much of it is shown. It owns the WaitlistModel and
// the LeaseModel and reads their pages over REST itself; the window hands it the stream's events.
#pragma once

#include <QLabel>
#include <QTableView>
#include <QWidget>

#include "admin_client.hpp"
#include "inventory_model.hpp"
#include "lease_model.hpp"
#include "server_clock.hpp"
#include "waitlist_model.hpp"

namespace flashsale::admin {

class ItemPane : public QWidget {
  Q_OBJECT

 public:
  // `inventory` gives the selected item's counts for the labels; the lease countdowns run on
  // `clock`.
  ItemPane(AdminClient& client, const InventoryModel& inventory, const ServerClock& clock,
           QWidget* parent = nullptr);

  // Shows this item's line and leases (an empty id: none); the item already shown: nothing.
  void show_item(const QString& item_id);
  [[nodiscard]] QString item_id() const { return waitlist_.item_id(); }
  // Reads the line and the leases again.
  void refresh();
  void apply(const QVector<Event>& batch);
  // Rewrites the two labels from the models and the inventory's counts.
  void update_labels();
  // Connected or not: while not, the line and the leases may be out of date and look it, and
  // the lease countdowns stop.
  void set_live(bool live);

  // The lease the operator selected, if any.
  [[nodiscard]] const Lease* selected_lease() const;

 signals:
  // The leases, or the lease selected among them, changed.
  void leases_changed();
  void problem(const QString& message);

 private:
  void fetch_waitlist();
  void fetch_leases();

  AdminClient& client_;
  const InventoryModel& inventory_;
  WaitlistModel waitlist_;
  LeaseModel leases_;
  QTableView* waitlist_view_;
  QTableView* lease_view_;
  QLabel* waitlist_label_;
  QLabel* lease_label_;
};

}  // namespace flashsale::admin
