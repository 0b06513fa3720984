// See jobs_pane.hpp.
#include "jobs_pane.hpp"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QToolButton>
#include <QVBoxLayout>

#include "widgets.hpp"

namespace flashsale::admin {

JobsPane::JobsPane(AdminClient& client, QWidget* parent) : QWidget(parent), client_(client) {
  setObjectName("jobsPane");
  proxy_.setSourceModel(&jobs_);
  proxy_.setFilterKeyColumn(JobModel::state);
  view_ = make_table("jobView", &proxy_, {45, 130, 55, 220, 60, 70, 70});
  view_->setTextElideMode(Qt::ElideRight);  // errors and payloads read from the left

  counts_ = new QTableWidget(0, static_cast<int>(JobModel::states().size()));
  counts_->setObjectName("jobCounts");
  counts_->setHorizontalHeaderLabels(JobModel::states());
  counts_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  counts_->setSelectionMode(QAbstractItemView::NoSelection);
  counts_->setFocusPolicy(Qt::NoFocus);
  counts_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  counts_->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
  counts_->verticalHeader()->setDefaultSectionSize(counts_->fontMetrics().height() + 4);
  counts_->setMaximumHeight(6 * (counts_->fontMetrics().height() + 4) + 8);

  state_filter_ = new QComboBox;
  state_filter_->setObjectName("jobStateFilter");
  state_filter_->addItem(tr("All states"), QString());
  for (const QString& s : JobModel::states()) state_filter_->addItem(s, s);
  connect(state_filter_, &QComboBox::currentIndexChanged, this, [this] {
    const QString s = state_filter_->currentData().toString();
    proxy_.setFilterRegularExpression(
        s.isEmpty() ? QString() : QStringLiteral("^%1$").arg(QRegularExpression::escape(s)));
    update_actions();
  });

  retry_action_ = new QAction(tr("Retry…"), this);
  retry_action_->setObjectName("retryJobAction");
  retry_action_->setToolTip(tr("Run the selected dead job again, now"));
  connect(retry_action_, &QAction::triggered, this, &JobsPane::ask_retry);
  auto* retry_button = new QToolButton;
  retry_button->setDefaultAction(retry_action_);
  auto* refresh_button = new QPushButton(tr("Refresh"));
  connect(refresh_button, &QPushButton::clicked, this, &JobsPane::refresh);
  connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this,
          &JobsPane::update_actions);

  status_ = new QLabel;
  status_->setObjectName("jobsLabel");
  status_->setWordWrap(true);

  auto* bar = new QHBoxLayout;
  bar->addWidget(state_filter_);
  bar->addStretch(1);
  bar->addWidget(retry_button);
  bar->addWidget(refresh_button);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(counts_);
  layout->addWidget(status_);
  layout->addLayout(bar);
  layout->addWidget(view_, 1);

  refresh_timer_.setObjectName("jobsRefreshTimer");
  refresh_timer_.setParent(this);  // a member: found by name, destroyed before ~QObject
  refresh_timer_.setInterval(kRefreshMs);
  connect(&refresh_timer_, &QTimer::timeout, this, &JobsPane::refresh);
  show_counts();
  update_actions();
}

void JobsPane::refresh() {
  if (in_flight_) {
    again_ = true;
    return;
  }
  in_flight_ = true;
  answers_ = 0;
  lists_.clear();
  capped_.clear();
  errors_.clear();
  for (const QString& state : JobModel::states()) {
    client_.get(QStringLiteral("/admin/jobs?state=%1&limit=%2").arg(state).arg(kLimit), this,
                [this, state](const Reply& reply) {
                  QString error = reply.error;
                  const auto jobs = reply.ok() ? parse_jobs(reply.body, &error) : std::nullopt;
                  if (jobs) {
                    lists_.insert(state, *jobs);
                    if (jobs->size() >= kLimit) capped_.insert(state);
                  } else {
                    errors_ << tr("%1 jobs: %2").arg(state, error);
                  }
                  if (++answers_ == JobModel::states().size()) show_lists();
                });
  }
}

void JobsPane::show_lists() {
  // A refresh must not lose the operator's selection.
  const Job* selected = selected_job();
  const QString selected_id = selected ? selected->id : QString();
  jobs_.set_lists(lists_, capped_);  // states whose list failed keep the last one read
  if (!selected_id.isEmpty() && jobs_.row_of(selected_id) >= 0) {
    const QModelIndex index = proxy_.mapFromSource(jobs_.index(jobs_.row_of(selected_id), 0));
    if (index.isValid()) view_->setCurrentIndex(index);
  }
  status_->setText(errors_.join('\n'));
  status_->setStyleSheet(errors_.isEmpty() ? QString() : QStringLiteral("color: #b00000"));
  show_counts();
  update_actions();
  in_flight_ = false;
  if (again_) {
    again_ = false;
    refresh();
  }
}

void JobsPane::show_counts() {
  QStringList rows = jobs_.kinds();
  rows << tr("all");
  counts_->setRowCount(static_cast<int>(rows.size()));
  counts_->setVerticalHeaderLabels(rows);
  for (int r = 0; r < rows.size(); ++r) {
    const QString kind = r == rows.size() - 1 ? QString() : rows[r];
    for (int c = 0; c < JobModel::states().size(); ++c) {
      const QString& state = JobModel::states()[c];
      auto* item = new QTableWidgetItem(jobs_.count_text(kind, state));
      item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      if (jobs_.capped(state)) {
        item->setToolTip(
            tr("At least: only the newest %1 %2 jobs were read").arg(kLimit).arg(state));
      }
      if (state == QLatin1String("dead") && jobs_.count(kind, state) > 0) {
        item->setForeground(QColor(0xb0, 0x00, 0x00));
      }
      counts_->setItem(r, c, item);
    }
  }
}

void JobsPane::set_live(bool live) {
  set_stale(view_, !live);
  if (live) {
    refresh_timer_.start();
  } else {
    refresh_timer_.stop();
  }
}

const Job* JobsPane::selected_job() const {
  const QModelIndexList rows = view_->selectionModel()->selectedRows();
  return rows.isEmpty() ? nullptr : jobs_.job_at(proxy_.mapToSource(rows.first()).row());
}

void JobsPane::update_actions() {
  const Job* job = selected_job();
  retry_action_->setEnabled(job && job->state == QLatin1String("dead"));
}

void JobsPane::ask_retry() {
  const Job* job = selected_job();
  if (!job || job->state != QLatin1String("dead")) return;
  const QString id = job->id;
  const QString what = tr("Retry job %1 (%2)").arg(id, job->kind);
  confirm(this,
          tr("Retry job %1 (%2) now? It runs again, due now, with its attempts reset. Its last "
             "error: %3")
              .arg(id, job->kind, job->last_error.isEmpty() ? tr("none") : job->last_error),
          [this, id, what] {
            client_.send("POST", QStringLiteral("/admin/jobs/%1/retry").arg(path_segment(id)), {},
                         this, [this, what](const Reply& reply) {
                           if (!reply.ok()) {
                             return show_failure(this, tr("%1 failed: %2").arg(what, reply.error));
                           }
                           emit notice(tr("%1: done").arg(what));
                           refresh();
                         });
          });
}

}  // namespace flashsale::admin
