// The inventory pane: every item with its counts and state, sortable, filtered by id or name. It
// owns the InventoryModel and its proxy and re-evaluates the states each second of the server's
// clock; the window feeds it the stream and follows its current item.
#pragma once

#include <QGroupBox>
#include <QTableView>
#include <QTimer>

#include "admin_client.hpp"
#include "inventory_model.hpp"
#include "server_clock.hpp"

namespace flashsale::admin {

class InventoryPane : public QGroupBox {
  Q_OBJECT

 public:
  InventoryPane(AdminClient& client, const ServerClock& clock, QWidget* parent = nullptr);

  // A stream snapshot: replaces the items in place (selection and scroll survive), then selects
  // the item asked for by select_item, else the first one when none is selected.
  void show_snapshot(const QVector<Item>& items);
  void apply(const QVector<Event>& batch);
  // Reads the items again over REST; refreshed() follows.
  void refresh();
  // The server's clock was corrected: every state is evaluated again.
  void retime();
  // Connected or not: while not, the data shown may be out of date and looks it.
  void set_live(bool live);

  // Selects this item; one that is not known yet is selected when it appears.
  void select_item(const QString& item_id);
  [[nodiscard]] QString current_item() const;
  [[nodiscard]] const Item* item(const QString& item_id) const { return model_.item(item_id); }
  [[nodiscard]] const InventoryModel& model() const { return model_; }

 signals:
  void current_item_changed(const QString& item_id);
  // The states were evaluated again (each second of the server's clock).
  void ticked();
  void refreshed();
  void problem(const QString& message);

 private:
  void tick();
  void fetch_opens_at(const QString& item_id);

  AdminClient& client_;
  const ServerClock& clock_;
  InventoryModel model_;
  ItemFilterProxy proxy_;
  QTableView* view_;
  QString wanted_;     // select_item before the item is known: selected when it appears
  QTimer tick_timer_;  // just after each second of the server's clock
};

}  // namespace flashsale::admin
