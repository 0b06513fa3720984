// Small pieces the window and its panes share: a table view set up the dashboard's way, a
// titled box, the look of data that may be out of date, and the non-modal confirmation and
// error boxes of the operator's actions.
#pragma once

#include <QGroupBox>
#include <QStyledItemDelegate>
#include <QTableView>
#include <functional>
#include <initializer_list>

class QChart;
class QChartView;
class QDateTimeAxis;

namespace flashsale::admin {

// A table whose selection never moves to another row by itself. In single-selection mode
// QAbstractItemView selects the next row when the selected one leaves the model; for the
// operator's actions that is another lease or job than the one chosen. Here nothing is
// selected then.
class TableView : public QTableView {
  Q_OBJECT

 public:
  using QTableView::QTableView;

 protected:
  void rowsAboutToBeRemoved(const QModelIndex& parent, int start, int end) override;
};

// Draws its column's text elided at the right ("buyer-0f3a9c…"), whatever the view's elide mode:
// for ids read from the left, such as user ids.
class ElideRightDelegate : public QStyledItemDelegate {
  Q_OBJECT

 public:
  using QStyledItemDelegate::QStyledItemDelegate;

 protected:
  void initStyleOption(QStyleOptionViewItem* option, const QModelIndex& index) const override;
};

// Makes `view` elide `column` at the right.
void elide_right(QTableView* view, int column);

// A read-only, single-row-selection table (a TableView) named `name` (tests find it by that name),
// with fixed row heights (a long model never has its rows measured) and these column widths.
QTableView* make_table(const char* name, QAbstractItemModel* model,
                       std::initializer_list<int> widths);

// `widgets` stacked in a group box titled `title`.
QGroupBox* boxed(const QString& title, std::initializer_list<QWidget*> widgets);

// Greys `view` out (property "stale" true) while the data it shows may be out of date: the
// dashboard is not connected. It stays readable and scrollable.
void set_stale(QAbstractItemView* view, bool stale);

// A chart for the per-second views: legend below, small margins, and a time axis (HH:mm:ss)
// along the bottom, which `*time_axis` is set to. (Their value axes must not truncate labels:
// Qt Charts 6.4 sometimes keeps an axis as narrow as its first labels and then shows "...".)
QChart* make_time_chart(QDateTimeAxis** time_axis);

// The stale look of a chart (property "stale"): a grey background while not connected.
void set_stale(QChartView* view, bool stale);

// Asks `question` ("confirmBox"); runs `then` on Yes. Non-modal, so the live views keep
// updating while the operator reads it.
void confirm(QWidget* parent, const QString& question, std::function<void()> then);

// Shows why an action failed ("errorBox"), non-modal.
void show_failure(QWidget* parent, const QString& message);

}  // namespace flashsale::admin
