// See head_page_model.hpp.
#include "head_page_model.hpp"

#include <QDateTime>

namespace flashsale::admin {

HeadPageModel::HeadPageModel(int limit, QObject* parent)
    : QAbstractTableModel(parent),
      limit_(limit),
      clock_([] { return QDateTime::currentMSecsSinceEpoch(); }) {}

int HeadPageModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : column_count();
}

void HeadPageModel::set_item(const QString& item_id) {
  beginResetModel();
  clear_rows();
  item_id_ = item_id;
  complete_ = false;
  fetching_ = false;
  departed_.clear();
  endResetModel();
}

void HeadPageModel::begin_fetch() {
  fetching_ = true;
  departed_.clear();
}

void HeadPageModel::end_fetch(qsizetype rows) {
  fetching_ = false;
  complete_ = rows < limit_;
  departed_.clear();
}

void HeadPageModel::check_refill(qsizetype live, bool more_beyond) {
  if (complete_ || fetching_ || item_id_.isEmpty() || live * 2 >= limit_ || !more_beyond) return;
  if (now_ms() - last_refill_ms_ < 1000) return;
  last_refill_ms_ = now_ms();
  emit refill_needed();
}

}  // namespace flashsale::admin
