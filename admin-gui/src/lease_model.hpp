// One item's active leases, soonest expiry first, each with a live countdown to its absolute
// expires_at. One timer drives every row (the clock is injectable for tests); a row turns
// amber, then red, as its lease runs out, and leaves when the order is paid, cancelled or
// expired.
#pragma once

#include <QTimer>

#include "api_types.hpp"
#include "head_page_model.hpp"

namespace flashsale::admin {

class LeaseModel : public HeadPageModel {
  Q_OBJECT

 public:
  enum Column { order, user, remaining, expires, granted, columns };
  // Parts of the lease left when the row turns amber, then red.
  static constexpr double kAmber = 0.25;
  static constexpr double kRed = 0.10;

  explicit LeaseModel(int limit = 1000, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  void set_page(const QString& item_id, const QVector<Lease>& leases);
  void apply(const QVector<Event>& batch);
  // Redraws the countdowns; the timer calls it twice a second.
  void tick();
  // Not connected: whether these leases still run is not known, so the countdowns stop and show
  // "—" (the expiry time stays) until set_stale(false).
  void set_stale(bool stale);
  [[nodiscard]] bool stale() const { return stale_; }

  [[nodiscard]] const Lease* lease_at(int row) const;
  // "4:59", or "expiring…" once expires_at is past and the service has not reclaimed it yet.
  [[nodiscard]] static QString countdown(qint64 remaining_ms);

 private:
  void clear_rows() override;
  [[nodiscard]] int column_count() const override { return columns; }
  void insert_sorted(QVector<Lease> leases);

  QVector<Lease> rows_;
  QSet<QString> orders_;    // order ids in rows_
  QVector<Lease> arrived_;  // granted while a fetch was in flight
  QTimer tick_timer_;
  bool stale_ = false;
};

}  // namespace flashsale::admin
