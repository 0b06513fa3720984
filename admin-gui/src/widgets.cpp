// See widgets.hpp.
#include "widgets.hpp"

#include <QAbstractButton>
#include <QChart>
#include <QChartView>
#include <QDateTimeAxis>
#include <QHeaderView>
#include <QMessageBox>
#include <QVBoxLayout>

namespace flashsale::admin {

void TableView::rowsAboutToBeRemoved(const QModelIndex& parent, int start, int end) {
  const QModelIndex current = currentIndex();
  const bool leaving = current.isValid() && current.parent() == parent && current.row() >= start &&
                       current.row() <= end;
  QTableView::rowsAboutToBeRemoved(parent, start, end);  // selects the next row: undone here
  if (leaving) selectionModel()->clear();
}

void ElideRightDelegate::initStyleOption(QStyleOptionViewItem* option,
                                         const QModelIndex& index) const {
  QStyledItemDelegate::initStyleOption(option, index);
  option->textElideMode = Qt::ElideRight;
}

void elide_right(QTableView* view, int column) {
  view->setItemDelegateForColumn(column, new ElideRightDelegate(view));
}

QTableView* make_table(const char* name, QAbstractItemModel* model,
                       std::initializer_list<int> widths) {
  auto* view = new TableView;
  view->setObjectName(QLatin1String(name));
  view->setModel(model);
  view->setSelectionBehavior(QAbstractItemView::SelectRows);
  view->setSelectionMode(QAbstractItemView::SingleSelection);
  view->setEditTriggers(QAbstractItemView::NoEditTriggers);
  view->setWordWrap(false);
  view->setTextElideMode(Qt::ElideMiddle);  // order ids are long; both ends matter
  view->verticalHeader()->hide();
  view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
  view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 6);
  view->horizontalHeader()->setStretchLastSection(true);
  view->horizontalHeader()->setHighlightSections(false);
  int column = 0;
  for (int width : widths) view->setColumnWidth(column++, width);
  return view;
}

QGroupBox* boxed(const QString& title, std::initializer_list<QWidget*> widgets) {
  auto* box = new QGroupBox(title);
  auto* layout = new QVBoxLayout(box);
  layout->setContentsMargins(6, 6, 6, 6);
  for (QWidget* w : widgets) layout->addWidget(w);
  return box;
}

void set_stale(QAbstractItemView* view, bool stale) {
  if (view->property("stale").toBool() == stale) return;
  view->setProperty("stale", stale);
  if (!stale) {
    view->setPalette(QPalette());  // the inherited one again
    view->setToolTip({});
    return;
  }
  QPalette palette = view->palette();
  palette.setColor(QPalette::Base, QColor(0xec, 0xec, 0xec));
  palette.setColor(QPalette::AlternateBase, QColor(0xe4, 0xe4, 0xe4));
  palette.setColor(QPalette::Text, QColor(0x80, 0x80, 0x80));
  view->setPalette(palette);
  view->setToolTip(
      QObject::tr("Not connected: this is what was known when the connection was lost."));
}

void confirm(QWidget* parent, const QString& question, std::function<void()> then) {
  auto* box = new QMessageBox(QMessageBox::Question, QMessageBox::tr("Please confirm"), question,
                              QMessageBox::Yes | QMessageBox::Cancel, parent);
  box->setObjectName("confirmBox");
  box->setAttribute(Qt::WA_DeleteOnClose);
  QObject::connect(box, &QMessageBox::buttonClicked, parent,
                   [box, then = std::move(then)](QAbstractButton* button) {
                     if (box->standardButton(button) == QMessageBox::Yes) then();
                   });
  box->open();
}

void show_failure(QWidget* parent, const QString& message) {
  auto* box = new QMessageBox(QMessageBox::Warning, QMessageBox::tr("Action failed"), message,
                              QMessageBox::Ok, parent);
  box->setObjectName("errorBox");
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

QChart* make_time_chart(QDateTimeAxis** time_axis) {
  auto* chart = new QChart;
  chart->legend()->setAlignment(Qt::AlignBottom);
  chart->setMargins(QMargins(4, 4, 4, 4));
  *time_axis = new QDateTimeAxis;
  (*time_axis)->setFormat(QStringLiteral("HH:mm:ss"));
  (*time_axis)->setTickCount(6);
  chart->addAxis(*time_axis, Qt::AlignBottom);
  return chart;
}

void set_stale(QChartView* view, bool stale) {
  view->setProperty("stale", stale);
  view->chart()->setBackgroundBrush(stale ? QColor(0xec, 0xec, 0xec) : QColor(Qt::white));
}

}  // namespace flashsale::admin
