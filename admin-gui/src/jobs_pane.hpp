// The jobs pane: the scheduler's jobs (GET /admin/jobs, one request per state, always with
// state= since the API's default is dead only), their counts by kind and state, dead jobs with
// their last error, and Retry (confirmed) for a dead one. It owns the JobModel; refreshed on a
// timer while connected and after each retry. Problems are shown in the pane, not the status
// bar (a service without a scheduler answers 404 on every refresh).
#pragma once

#include <QAction>
#include <QComboBox>
#include <QLabel>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTableWidget>
#include <QTimer>
#include <QWidget>

#include "admin_client.hpp"
#include "job_model.hpp"

namespace flashsale::admin {

class JobsPane : public QWidget {
  Q_OBJECT

 public:
  static constexpr int kRefreshMs = 5000;
  static constexpr int kLimit = 200;  // jobs per state and request

  explicit JobsPane(AdminClient& client, QWidget* parent = nullptr);

  void refresh();
  // Connected: refreshed on a timer. Not connected: greyed, not refreshed.
  void set_live(bool live);
  [[nodiscard]] const Job* selected_job() const;

 signals:
  // An action's outcome for the status bar.
  void notice(const QString& message);

 private:
  void show_lists();
  void show_counts();
  void update_actions();
  void ask_retry();

  AdminClient& client_;
  JobModel jobs_;
  QSortFilterProxyModel proxy_;
  QTableView* view_;
  QTableWidget* counts_;
  QComboBox* state_filter_;
  QLabel* status_;
  QAction* retry_action_;
  QTimer refresh_timer_;
  // One refresh: the four lists arrive separately and are shown together. A refresh asked for
  // while one is under way follows it (a slow server is not asked ever more often).
  bool in_flight_ = false;
  bool again_ = false;
  int answers_ = 0;
  QMap<QString, QVector<Job>> lists_;
  QSet<QString> capped_;
  QStringList errors_;
};

}  // namespace flashsale::admin
