// The head of one item's waiting line, in order, live: newcomers join the tail while the whole
// line fits the page, and orders that leave (promoted to a lease, cancelled, expired) stay
// for a moment, coloured, before they drop out, so an operator sees the head move.
#pragma once

#include <QHash>
#include <QTimer>

#include "api_types.hpp"
#include "head_page_model.hpp"

namespace flashsale::admin {

class WaitlistModel : public HeadPageModel {
  Q_OBJECT

 public:
  enum Column { position, order, user, since, columns };
  static constexpr int kLeavingMs = 1500;  // how long a leaving order stays visible

  explicit WaitlistModel(int limit = 100, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  void set_page(const WaitlistPage& page);
  void apply(const QVector<Event>& batch);
  // Drops the orders that left at least kLeavingMs ago; a timer calls it.
  void sweep();

  // The whole line's length (the server's count), and how many of it the page shows.
  [[nodiscard]] int waiting() const { return waiting_; }
  [[nodiscard]] int shown() const { return live_; }

 private:
  struct Row {
    explicit Row(Waiter w) : waiter(std::move(w)) {}
    Waiter waiter;
    int position = 0;  // 1 = next in line; 0 once it left
    QString left;      // why it left: "promoted", "cancelled", "expired"
    qint64 left_at = 0;
  };

  void clear_rows() override;
  [[nodiscard]] int column_count() const override { return columns; }
  void append(const Waiter& waiter);
  void renumber();
  void reindex();

  QVector<Row> rows_;
  QHash<QString, int> index_;  // order id -> row
  QVector<Waiter> arrived_;    // joined while a fetch was in flight
  int waiting_ = 0;
  int live_ = 0;
  QTimer sweep_timer_;
};

}  // namespace flashsale::admin
