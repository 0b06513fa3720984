// The scheduler's jobs as the dashboard last read them (one list per state, each capped at the
// request's limit): dead first, then running, queued and done, newest first within each; and
// their counts by kind and state, computed from those lists (a capped list gives lower bounds).
#pragma once

#include <QAbstractTableModel>
#include <QMap>
#include <QSet>

#include "api_types.hpp"

namespace flashsale::admin {

class JobModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { id, kind, state, last_error, attempts, run_at, updated_at, payload, columns };
  // The states, in the order the rows show them.
  static const QStringList& states();

  using QAbstractTableModel::QAbstractTableModel;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  // The lists of some states (the others stay as they were); `capped`: the states whose list
  // came back full, so there may be more.
  void set_lists(const QMap<QString, QVector<Job>>& lists, const QSet<QString>& capped);

  [[nodiscard]] const Job* job_at(int row) const;
  [[nodiscard]] int row_of(const QString& job_id) const;
  // Kinds seen, sorted; jobs of `kind` (empty: any) in `state`; whether that count may be more.
  [[nodiscard]] QStringList kinds() const;
  [[nodiscard]] int count(const QString& kind, const QString& state) const;
  [[nodiscard]] bool capped(const QString& state) const { return capped_.contains(state); }
  // A count as shown: "12", or "100+" when the state's list was capped.
  [[nodiscard]] QString count_text(const QString& kind, const QString& state) const;

 private:
  QMap<QString, QVector<Job>> lists_;  // state -> jobs, newest first
  QSet<QString> capped_;
  QVector<Job> rows_;
};

}  // namespace flashsale::admin
