// See job_model.hpp.
#include "job_model.hpp"

#include <QBrush>
#include <QColor>
#include <algorithm>

namespace flashsale::admin {
namespace {

QString short_time(const QDateTime& t) {
  const QDateTime local = t.toLocalTime();
  return local.date() == QDate::currentDate() ? local.toString(QStringLiteral("HH:mm:ss"))
                                              : local.toString(QStringLiteral("yyyy-MM-dd HH:mm"));
}

}  // namespace

const QStringList& JobModel::states() {
  static const QStringList all{QStringLiteral("dead"), QStringLiteral("running"),
                               QStringLiteral("queued"), QStringLiteral("done")};
  return all;
}

int JobModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int JobModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : columns;
}

QVariant JobModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const Job& job = rows_[index.row()];
  if (role == Qt::DisplayRole) {
    switch (index.column()) {
      case id:
        return job.id;
      case kind:
        return job.kind;
      case state:
        return job.state;
      case attempts:
        return job.attempts;
      case run_at:
        return short_time(job.run_at);
      case updated_at:
        return short_time(job.updated_at);
      case last_error:
        return job.last_error;
      case payload:
        return job.payload;
    }
  }
  if (role == Qt::ToolTipRole) {
    switch (index.column()) {
      case run_at:
        return job.run_at.toString(Qt::ISODateWithMs);
      case updated_at:
        return job.updated_at.toString(Qt::ISODateWithMs);
      case last_error:
        return job.last_error.isEmpty() ? QVariant() : job.last_error;
      case payload:
        return job.payload;
    }
  }
  if (role == Qt::ForegroundRole && job.state == QLatin1String("dead") &&
      (index.column() == state || index.column() == last_error)) {
    return QBrush(QColor(0xb0, 0x00, 0x00));
  }
  if (role == Qt::TextAlignmentRole && index.column() == attempts) {
    return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
  }
  return {};
}

QVariant JobModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const titles[columns] = {"Job",      "Kind",   "State",   "Last error",
                                              "Attempts", "Run at", "Updated", "Payload"};
  return section >= 0 && section < columns ? tr(titles[section]) : QVariant();
}

void JobModel::set_lists(const QMap<QString, QVector<Job>>& lists, const QSet<QString>& capped) {
  beginResetModel();
  for (auto it = lists.begin(); it != lists.end(); ++it) {
    lists_[it.key()] = it.value();
    if (capped.contains(it.key())) {
      capped_.insert(it.key());
    } else {
      capped_.remove(it.key());
    }
  }
  rows_.clear();
  for (const QString& s : states()) rows_ += lists_.value(s);
  endResetModel();
}

const Job* JobModel::job_at(int row) const {
  return row >= 0 && row < rows_.size() ? &rows_[row] : nullptr;
}

int JobModel::row_of(const QString& job_id) const {
  const auto it =
      std::find_if(rows_.begin(), rows_.end(), [&](const Job& job) { return job.id == job_id; });
  return it == rows_.end() ? -1 : static_cast<int>(it - rows_.begin());
}

QStringList JobModel::kinds() const {
  QStringList out;
  for (const Job& job : rows_) {
    if (!out.contains(job.kind)) out << job.kind;
  }
  out.sort();
  return out;
}

int JobModel::count(const QString& kind, const QString& state) const {
  const QVector<Job> list = lists_.value(state);
  return static_cast<int>(std::count_if(list.begin(), list.end(), [&](const Job& job) {
    return kind.isEmpty() || job.kind == kind;
  }));
}

QString JobModel::count_text(const QString& kind, const QString& state) const {
  return QString::number(count(kind, state)) + (capped(state) ? QStringLiteral("+") : QString());
}

}  // namespace flashsale::admin
