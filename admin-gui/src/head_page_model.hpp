// Base of the per-item views that show the head of a list that can be far too long to load
// (the waiting line, the active leases): a page fetched over REST, kept live from events, and
// refilled when too few rows are left. Events that arrive while a fetch is in flight are
// recorded, so a page read just before them cannot bring back an order that already left.
#pragma once

#include <QAbstractTableModel>
#include <QSet>
#include <functional>

namespace flashsale::admin {

class HeadPageModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  using Clock = std::function<qint64()>;  // milliseconds since 1970, UTC

  HeadPageModel(int limit, QObject* parent);

  int columnCount(const QModelIndex& parent = {}) const override;

  // Shows another item: empties the model, the caller fetches.
  void set_item(const QString& item_id);
  [[nodiscard]] QString item_id() const { return item_id_; }
  // Page size: the `limit` of the REST call.
  [[nodiscard]] int limit() const { return limit_; }
  // True when the page holds the whole list, so new arrivals belong in it.
  [[nodiscard]] bool complete() const { return complete_; }
  // Call when a fetch starts; the page it brings goes to the derived class's set_page.
  void begin_fetch();
  // The fetch failed (the caller reports why); a later batch may ask for a refill again.
  void fetch_failed() { fetching_ = false; }
  [[nodiscard]] bool fetching() const { return fetching_; }

  void set_clock(Clock clock) { clock_ = std::move(clock); }
  [[nodiscard]] qint64 now_ms() const { return clock_(); }

 signals:
  // The page ran low while the list goes on: fetch again.
  void refill_needed();

 protected:
  // Ends a fetch: `rows` rows came back (fewer than the limit: the whole list).
  void end_fetch(qsizetype rows);
  // Asks for a refill when fewer than half a page of `live` rows is left and the list goes on
  // beyond them; at most once a second, so a failing server is not asked at every batch.
  void check_refill(qsizetype live, bool more_beyond);
  // Removes every row where doomed(row), one beginRemoveRows per run of adjacent rows;
  // erase(first, last) drops them from the derived class's storage.
  template <typename Doomed, typename Erase>
  void remove_runs(int count, Doomed doomed, Erase erase) {
    for (int last = count - 1; last >= 0; --last) {
      if (!doomed(last)) continue;
      int first = last;
      while (first > 0 && doomed(first - 1)) --first;
      beginRemoveRows({}, first, last);
      erase(first, last);
      endRemoveRows();
      last = first;
    }
  }
  virtual void clear_rows() = 0;
  [[nodiscard]] virtual int column_count() const = 0;

  QString item_id_;
  bool complete_ = false;
  bool fetching_ = false;
  QSet<QString> departed_;  // order ids that left while a fetch was in flight

 private:
  int limit_;
  Clock clock_;
  qint64 last_refill_ms_ = 0;
};

}  // namespace flashsale::admin
