// See main_window.hpp.
#include "main_window.hpp"

#include <QAction>
#include <QInputDialog>
#include <QPointer>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>

#include "create_item_dialog.hpp"
#include "widgets.hpp"

namespace flashsale::admin {
namespace {

const char* const kServerKey = "server";
// A server clock this far off is worth a word in the status bar.
constexpr qint64 kClockNoteMs = 2000;

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("flashsale admin"));
  client_.setParent(this);  // a member: destroyed before ~QObject would delete it
  client_.setObjectName("adminClient");
  build_layout();
  build_actions();
  connect(&client_, &AdminClient::state_changed, this, &MainWindow::on_state);
  connect(&client_, &AdminClient::snapshot, this, &MainWindow::on_snapshot);
  connect(&client_, &AdminClient::events, this, &MainWindow::on_events);
  connect(&client_, &AdminClient::problem, this, &MainWindow::report);
  connect(&client_, &AdminClient::events_missed, activity_, &ActivityPane::note_missed_events);
  on_state(AdminClient::State::idle, {});
  update_actions();
  resize(1400, 860);
}

QUrl MainWindow::remembered_server() {
  const QUrl url = server_url(QSettings().value(kServerKey).toString());
  return url.isValid() ? url : QUrl(QStringLiteral("http://127.0.0.1:8081"));
}

void MainWindow::build_layout() {
  inventory_ = new InventoryPane(client_, clock_);
  item_ = new ItemPane(client_, inventory_->model(), clock_);
  activity_ = new ActivityPane(client_, clock_);
  plugins_ = new PluginsPane(client_);
  jobs_ = new JobsPane(client_);
  line_ = new LinePane(client_);
  orders_ = new OrdersPane(client_);
  connect(inventory_, &InventoryPane::current_item_changed, this, [this](const QString& id) {
    item_->show_item(id);
    line_->show_item(id);
    activity_->set_item(id);
    update_actions();
  });
  connect(inventory_, &InventoryPane::refreshed, this, [this] {
    item_->update_labels();
    update_actions();
  });
  connect(item_, &ItemPane::leases_changed, this, &MainWindow::update_actions);
  connect(inventory_, &InventoryPane::ticked, this, &MainWindow::update_actions);  // closing
  connect(inventory_, &InventoryPane::problem, this, &MainWindow::report);
  connect(item_, &ItemPane::problem, this, &MainWindow::report);
  connect(plugins_, &PluginsPane::problem, this, &MainWindow::report);
  const auto notice = [this](const QString& message) { statusBar()->showMessage(message, 10000); };
  connect(jobs_, &JobsPane::notice, this, notice);
  connect(orders_, &OrdersPane::notice, this, notice);

  tabs_ = new QTabWidget;  // in the order of kTabs
  tabs_->setObjectName("sideTabs");
  tabs_->addTab(activity_, tr("Activity"));
  tabs_->addTab(plugins_, tr("Plugins"));
  tabs_->addTab(jobs_, tr("Jobs"));
  tabs_->addTab(line_, tr("Whole line"));
  tabs_->addTab(orders_, tr("Orders"));

  auto* top = new QSplitter(Qt::Horizontal);
  top->addWidget(inventory_);
  top->addWidget(boxed(tr("Per second"), {activity_->chart(), activity_->placement_chart()}));
  top->setSizes({960, 440});
  auto* bottom = new QSplitter(Qt::Horizontal);
  bottom->addWidget(item_);
  bottom->addWidget(tabs_);
  bottom->setSizes({900, 500});
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(top);
  split->addWidget(bottom);
  split->setSizes({440, 480});
  setCentralWidget(split);

  connection_label_ = new QLabel;
  connection_label_->setObjectName("connectionLabel");
  statusBar()->addPermanentWidget(activity_->rate_label());
  statusBar()->addPermanentWidget(connection_label_);
}

void MainWindow::build_actions() {
  auto* bar = addToolBar(tr("Actions"));
  bar->setObjectName("actions");
  bar->setMovable(false);
  bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
  const auto add = [this, bar](const char* name, const QString& text, auto slot) {
    QAction* action = bar->addAction(text, this, slot);
    action->setObjectName(QLatin1String(name));
    return action;
  };
  add("connectAction", tr("Connect…"), &MainWindow::ask_connect)
      ->setShortcut(QKeySequence(tr("Ctrl+L")));
  add("refreshAction", tr("Refresh"), &MainWindow::refresh)->setShortcut(QKeySequence::Refresh);
  bar->addSeparator();
  add("createAction", tr("Create item…"), &MainWindow::ask_create_item)
      ->setShortcut(QKeySequence::New);
  restock_action_ = add("restockAction", tr("Restock…"), &MainWindow::ask_restock);
  pause_action_ = add("pauseAction", tr("Pause"), &MainWindow::ask_pause);
  close_sale_action_ = add("closeSaleAction", tr("Close sale"), &MainWindow::ask_close_sale);
  expire_action_ = add("expireAction", tr("Expire lease"), &MainWindow::ask_expire);
}

void MainWindow::connect_to(const QUrl& server) {
  setWindowTitle(tr("flashsale admin — %1").arg(server.toString()));
  client_.connect_to(server);
}

void MainWindow::on_state(AdminClient::State state, const QString& detail) {
  QString text;
  QString colour;
  switch (state) {
    case AdminClient::State::idle:
      text = tr("Not connected");
      colour = "#666666";
      break;
    case AdminClient::State::connecting:
      text = tr("Connecting to %1…").arg(detail);
      colour = "#666666";
      break;
    case AdminClient::State::live:
      text = tr("● Connected: %1").arg(detail);
      colour = "#1a7f37";
      // Remembered only now: an address that never answered must not be the next start's.
      QSettings().setValue(kServerKey, client_.server().toString());
      break;
    case AdminClient::State::reconnecting:
      text = tr("Reconnecting: %1 — %2").arg(detail, client_.server().toString());
      colour = "#b05a00";
      break;
  }
  connection_text_ = text;
  connection_label_->setText(text);
  connection_label_->setStyleSheet(QStringLiteral("color: %1").arg(colour));
  const bool live = state == AdminClient::State::live;
  inventory_->set_live(live);
  item_->set_live(live);
  activity_->set_live(live);
  plugins_->set_live(live);
  jobs_->set_live(live);
  line_->set_live(live);
}

void MainWindow::on_snapshot(const QVector<Item>& items, const QDateTime& server_time) {
  // Countdowns and states count to the server's deadlines on the server's clock.
  clock_.sync(server_time);
  inventory_->retime();
  const qint64 offset = clock_.offset_ms();
  connection_label_->setText(
      qAbs(offset) < kClockNoteMs
          ? connection_text_
          : tr("%1 (server clock %2 %3)")
                .arg(connection_text_, time_left(qAbs(offset)),
                     offset > 0 ? tr("ahead of this machine") : tr("behind this machine")));
  const QString before = item_->item_id();
  inventory_->show_snapshot(items);
  // After a reconnect the line and the leases may have moved a lot: read them again.
  if (!before.isEmpty() && item_->item_id() == before) {
    item_->refresh();
    line_->refresh();
  }
  plugins_->refresh();
  jobs_->refresh();
  item_->update_labels();
  update_actions();
}

void MainWindow::on_events(const QVector<Event>& batch) {
  inventory_->apply(batch);
  item_->apply(batch);
  activity_->append(batch);
  update_actions();
}

void MainWindow::select_item(const QString& item_id) { inventory_->select_item(item_id); }

const QStringList MainWindow::kTabs = {"activity", "plugins", "jobs", "line", "orders"};

bool MainWindow::show_tab(const QString& name) {
  const auto index = kTabs.indexOf(name);
  if (index < 0) return false;
  tabs_->setCurrentIndex(static_cast<int>(index));
  return true;
}

void MainWindow::refresh() {
  inventory_->refresh();
  item_->refresh();
  line_->refresh();
  plugins_->refresh();
  jobs_->refresh();
}

void MainWindow::update_actions() {
  const Item* item = inventory_->item(selected_item());
  restock_action_->setEnabled(item != nullptr);
  pause_action_->setEnabled(item != nullptr);
  pause_action_->setText(item && item->paused ? tr("Resume") : tr("Pause"));
  close_sale_action_->setEnabled(item && !(item->closes_at.isValid() &&
                                           item->closes_at.toMSecsSinceEpoch() <= clock_.now_ms()));
  expire_action_->setEnabled(item_->selected_lease() != nullptr);
}

void MainWindow::ask_connect() {
  auto* dialog = new QInputDialog(this);
  dialog->setObjectName("connectDialog");
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setWindowTitle(tr("Connect"));
  dialog->setLabelText(tr("Admin API address (the service's admin.listen):"));
  dialog->setTextValue(client_.server().toString());
  connect(dialog, &QInputDialog::textValueSelected, this, [this](const QString& text) {
    const QUrl url = server_url(text);
    if (!url.isValid()) return report(tr("'%1' is not a server address").arg(text));
    connect_to(url);
  });
  dialog->open();
}

void MainWindow::ask_create_item() {
  auto* dialog = new CreateItemDialog(this);
  dialog->setObjectName("createItemDialog");
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  const QPointer<CreateItemDialog> form = dialog;
  connect(dialog, &CreateItemDialog::submitted, this, [this, form](const QJsonObject& body) {
    const QString id = body.value("id").toString();
    QString question = tr("Create item %1 (%2) with %3 units and a %4 s payment window")
                           .arg(id, body.value("name").toString())
                           .arg(body.value("total_stock").toInt())
                           .arg(body.value("payment_window_s").toInt());
    const auto when = [&](const char* key) {
      return parse_time(body.value(QLatin1String(key)).toString()).toLocalTime().toString();
    };
    if (body.contains("opens_at")) question += tr(", opening %1").arg(when("opens_at"));
    if (body.contains("closes_at")) question += tr(", closing %1").arg(when("closes_at"));
    confirm(this, question + '?', [this, form, body, id] {
      if (form) form->sending();
      client_.send("POST", QStringLiteral("/admin/items"), body, this,
                   [this, form, id](const Reply& reply) {
                     const QString what = tr("Create item %1").arg(id);
                     if (reply.ok()) {
                       statusBar()->showMessage(tr("%1: done").arg(what), 10000);
                       inventory_->select_item(id);  // now, or once its event arrives
                       if (form) form->created();
                       return;
                     }
                     report(tr("%1 failed: %2").arg(what, reply.error));
                     // The form keeps what was typed, for another try.
                     if (form) return form->refused(reply.error);
                     show_failure(this, tr("%1 failed: %2").arg(what, reply.error));
                   });
    });
  });
  dialog->open();
}

void MainWindow::ask_restock() {
  const QString id = selected_item();
  if (id.isEmpty()) return;
  auto* dialog = new QInputDialog(this);
  dialog->setObjectName("restockDialog");
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setWindowTitle(tr("Restock"));
  dialog->setInputMode(QInputDialog::IntInput);
  dialog->setIntRange(1, 1'000'000'000);
  dialog->setIntValue(10);
  dialog->setLabelText(tr("Units to add to %1 (the waiting line is served first):").arg(id));
  connect(dialog, &QInputDialog::intValueSelected, this, [this, id](int units) {
    confirm(this, tr("Add %1 units to %2? Waiting orders get them first.").arg(units).arg(id),
            [this, id, units] {
              act("PATCH", item_path(id), QJsonObject{{"add_stock", units}},
                  tr("Restock %1 with %2 units").arg(id).arg(units));
            });
  });
  dialog->open();
}

void MainWindow::ask_pause() {
  const Item* item = inventory_->item(selected_item());
  if (!item) return;
  const QString id = item->id;
  const bool pause = !item->paused;
  confirm(this,
          pause ? tr("Pause the sale of %1? New orders are refused (sale_paused) until it is "
                     "resumed; leases and the waiting line stay.")
                      .arg(id)
                : tr("Resume the sale of %1?").arg(id),
          [this, id, pause] {
            act("PATCH", item_path(id), QJsonObject{{"paused", pause}},
                pause ? tr("Pause %1").arg(id) : tr("Resume %1").arg(id));
          });
}

void MainWindow::ask_close_sale() {
  const QString id = selected_item();
  if (id.isEmpty()) return;
  confirm(this,
          tr("Close the sale of %1 now? New orders are refused (sale_closed) and the waiting "
             "line ends (its orders expire); leases already granted can still be paid.")
              .arg(id),
          [this, id] {
            // "Now" on the server's clock: this machine's may be off.
            const QDateTime now = QDateTime::fromMSecsSinceEpoch(clock_.now_ms(), Qt::UTC);
            act("PATCH", item_path(id), QJsonObject{{"closes_at", rfc3339(now)}},
                tr("Close the sale of %1").arg(id));
          });
}

void MainWindow::ask_expire() {
  const Lease* lease = item_->selected_lease();
  if (!lease) return;
  const QString order = lease->order_id;
  confirm(this,
          tr("End the lease of order %1 (user %2) now? The order expires and its unit goes "
             "to the next in line.")
              .arg(order, lease->user_id),
          [this, order] {
            act("POST", QStringLiteral("/admin/orders/%1/expire").arg(path_segment(order)), {},
                tr("Expire order %1").arg(order));
          });
}

void MainWindow::act(const QByteArray& method, const QString& path, const QJsonObject& body,
                     const QString& what) {
  client_.send(method, path, body, this, [this, what](const Reply& reply) {
    if (reply.ok()) {
      statusBar()->showMessage(tr("%1: done").arg(what), 10000);
      return;
    }
    report(tr("%1 failed: %2").arg(what, reply.error));
    show_failure(this, tr("%1 failed: %2").arg(what, reply.error));
  });
}

void MainWindow::report(const QString& problem) { statusBar()->showMessage(problem, 15000); }

QString MainWindow::selected_item() const { return item_->item_id(); }

}  // namespace flashsale::admin
