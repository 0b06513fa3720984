// Small pieces the window and its panes share: a table view set up the dashboard's way, a
// titled box, the look of data that may be out of date, and the non-modal confirmation and
// error boxes of the operator's actions.
#pragma once

#include <QGroupBox>
#include <QTableView>
#include <functional>
#include <initializer_list>

namespace flashsale::admin {

// A read-only, single-row-selection table named `name` (tests find it by that name), with fixed
// row heights (a long model never has its rows measured) and these column widths.
QTableView* make_table(const char* name, QAbstractItemModel* model,
                       std::initializer_list<int> widths);

// `widgets` stacked in a group box titled `title`.
QGroupBox* boxed(const QString& title, std::initializer_list<QWidget*> widgets);

// Greys `view` out (property "stale" true) while the data it shows may be out of date: the
// dashboard is not connected. It stays readable and scrollable.
void set_stale(QAbstractItemView* view, bool stale);

// Asks `question` ("confirmBox"); runs `then` on Yes. Non-modal, so the live views keep
// updating while the operator reads it.
void confirm(QWidget* parent, const QString& question, std::function<void()> then);

// Shows why an action failed ("errorBox"), non-modal.
void show_failure(QWidget* parent, const QString& message);

}  // namespace flashsale::admin
