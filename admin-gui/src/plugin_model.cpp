// See plugin_model.hpp.
#include "plugin_model.hpp"

#include <QBrush>
#include <QColor>

namespace flashsale::admin {

int PluginModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(plugins_.size());
}

int PluginModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : columns;
}

QVariant PluginModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid)) return {};
  const PluginInfo& p = plugins_[index.row()];
  const QString health_text = p.detail.isEmpty()
                                  ? (p.healthy ? tr("ok") : tr("failing"))
                                  : (p.healthy ? tr("ok: %1") : tr("failing: %1")).arg(p.detail);
  if (role == Qt::DisplayRole) {
    switch (index.column()) {
      case name:
        return p.name;
      case kind:
        return p.kind;
      case version:
        return p.version;
      case health:
        return stale_ ? tr("unknown") : health_text;
      case required:
        return p.required ? tr("required") : tr("optional");
      case file:
        return p.file;
    }
  }
  if (role == Qt::ForegroundRole && index.column() == health) {
    if (stale_) return QBrush(QColor(0x80, 0x80, 0x80));
    return QBrush(p.healthy ? QColor(0x1a, 0x7f, 0x37) : QColor(0xb0, 0x00, 0x00));
  }
  if (role == Qt::ToolTipRole && index.column() == health && stale_) {
    return tr("Not connected; last read: %1").arg(health_text);
  }
  return {};
}

QVariant PluginModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* const titles[columns] = {"Plugin", "Kind",     "Version",
                                              "Health", "Required", "File"};
  return section >= 0 && section < columns ? tr(titles[section]) : QVariant();
}

void PluginModel::set_stale(bool stale) {
  if (stale == stale_) return;
  stale_ = stale;
  if (!plugins_.isEmpty()) {
    emit dataChanged(index(0, health), index(static_cast<int>(plugins_.size()) - 1, health));
  }
}

void PluginModel::set_plugins(const QVector<PluginInfo>& plugins) {
  beginResetModel();
  plugins_ = plugins;
  endResetModel();
}

}  // namespace flashsale::admin
