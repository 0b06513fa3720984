// See main_window.hpp.
#include "main_window.hpp"

#include <QAction>
#include <QComboBox>
#include <QDateTime>
#include <QGroupBox>
#include <QHeaderView>
#include <QInputDialog>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QVBoxLayout>

#include "create_item_dialog.hpp"

namespace flashsale::admin {
namespace {

constexpr int kPluginRefreshMs = 15000;
const char* const kServerKey = "server";

QTableView* make_table(const char* name, QAbstractItemModel* model,
                       std::initializer_list<int> widths) {
  auto* view = new QTableView;
  view->setObjectName(QLatin1String(name));
  view->setModel(model);
  view->setSelectionBehavior(QAbstractItemView::SelectRows);
  view->setSelectionMode(QAbstractItemView::SingleSelection);
  view->setEditTriggers(QAbstractItemView::NoEditTriggers);
  view->setWordWrap(false);
  view->setTextElideMode(Qt::ElideMiddle);  // order ids are long; both ends matter
  // Fixed row heights: a long model never has its rows measured.
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

QString item_path(const QString& item_id) {
  return QStringLiteral("/admin/items/") + QString::fromLatin1(QUrl::toPercentEncoding(item_id));
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("flashsale admin"));
  client_.setParent(this);  // a member: destroyed before ~QObject would delete it
  client_.setObjectName("adminClient");
  build_views();
  build_actions();
  connect(&client_, &AdminClient::state_changed, this, &MainWindow::on_state);
  connect(&client_, &AdminClient::snapshot, this, &MainWindow::on_snapshot);
  connect(&client_, &AdminClient::events, this, &MainWindow::on_events);
  connect(&client_, &AdminClient::problem, this, &MainWindow::report);
  connect(&waitlist_, &WaitlistModel::refill_needed, this, &MainWindow::fetch_waitlist);
  connect(&leases_, &LeaseModel::refill_needed, this, &MainWindow::fetch_leases);
  chart_timer_.setInterval(1000);
  connect(&chart_timer_, &QTimer::timeout, this, [this] {
    chart_->show_counts(throughput_, QDateTime::currentMSecsSinceEpoch());
    rate_label_->setText(tr("%1 events/s").arg(events_this_second_));
    events_this_second_ = 0;
  });
  chart_timer_.start();
  plugin_timer_.setInterval(kPluginRefreshMs);
  connect(&plugin_timer_, &QTimer::timeout, this, &MainWindow::fetch_plugins);
  on_state(AdminClient::State::idle, {});
  update_labels();
  update_actions();
  resize(1400, 860);
}

QUrl MainWindow::remembered_server() {
  const QUrl url = server_url(QSettings().value(kServerKey).toString());
  return url.isValid() ? url : QUrl(QStringLiteral("http://127.0.0.1:8081"));
}

void MainWindow::build_views() {
  inventory_proxy_.setSourceModel(&inventory_);
  inventory_view_ =
      make_table("inventoryView", &inventory_proxy_, {150, 190, 80, 80, 80, 80, 90, 70, 80});
  inventory_view_->setSortingEnabled(true);
  inventory_view_->sortByColumn(InventoryModel::id, Qt::AscendingOrder);
  auto* item_filter = new QLineEdit;
  item_filter->setObjectName("itemFilter");
  item_filter->setPlaceholderText(tr("Filter items by id or name"));
  item_filter->setClearButtonEnabled(true);
  connect(item_filter, &QLineEdit::textChanged, &inventory_proxy_,
          &QSortFilterProxyModel::setFilterFixedString);
  connect(inventory_view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            const QString id = current.isValid()
                                   ? inventory_.id_at(inventory_proxy_.mapToSource(current).row())
                                   : QString();
            if (id != waitlist_.item_id()) show_item(id);
          });

  chart_ = new ThroughputChart;
  chart_->setObjectName("throughputChart");
  chart_->setMinimumWidth(360);

  waitlist_label_ = new QLabel;
  waitlist_label_->setObjectName("waitlistLabel");
  waitlist_view_ = make_table("waitlistView", &waitlist_, {55, 130, 100});
  lease_label_ = new QLabel;
  lease_label_->setObjectName("leaseLabel");
  lease_view_ = make_table("leaseView", &leases_, {130, 100, 70, 70});
  connect(lease_view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          &MainWindow::update_actions);

  log_proxy_.setSourceModel(&log_);
  log_view_ = make_table("logView", &log_proxy_, {90, 130, 75, 230, 90});
  log_view_->setTextElideMode(Qt::ElideRight);  // details read from the left
  auto* type_filter = new QComboBox;
  type_filter->setObjectName("logTypeFilter");
  type_filter->addItem(tr("All types"), QString());
  for (const std::string_view type : event_type::kAll) {
    type_filter->addItem(qt_name(type), qt_name(type));
  }
  connect(type_filter, &QComboBox::currentIndexChanged, this,
          [this, type_filter] { log_proxy_.set_type(type_filter->currentData().toString()); });
  auto* log_item_filter = new QLineEdit;
  log_item_filter->setObjectName("logItemFilter");
  log_item_filter->setPlaceholderText(tr("Item"));
  log_item_filter->setClearButtonEnabled(true);
  connect(log_item_filter, &QLineEdit::textChanged, &log_proxy_, &EventFilterProxy::set_item);
  auto* log_filters = new QWidget;
  auto* filter_row = new QHBoxLayout(log_filters);
  filter_row->setContentsMargins(0, 0, 0, 0);
  filter_row->addWidget(type_filter);
  filter_row->addWidget(log_item_filter, 1);
  auto* activity = new QWidget;
  auto* activity_layout = new QVBoxLayout(activity);
  activity_layout->setContentsMargins(4, 4, 4, 4);
  activity_layout->addWidget(log_filters);
  activity_layout->addWidget(log_view_);

  plugin_view_ = make_table("pluginView", &plugins_, {110, 90, 70, 190, 70});
  auto* plugin_refresh = new QPushButton(tr("Refresh"));
  connect(plugin_refresh, &QPushButton::clicked, this, &MainWindow::fetch_plugins);
  auto* plugin_page = new QWidget;
  auto* plugin_layout = new QVBoxLayout(plugin_page);
  plugin_layout->setContentsMargins(4, 4, 4, 4);
  plugin_layout->addWidget(plugin_view_);
  plugin_layout->addWidget(plugin_refresh, 0, Qt::AlignRight);

  auto* tabs = new QTabWidget;
  tabs->setObjectName("sideTabs");
  tabs->addTab(activity, tr("Activity"));
  tabs->addTab(plugin_page, tr("Plugins"));

  auto* top = new QSplitter(Qt::Horizontal);
  top->addWidget(boxed(tr("Inventory"), {item_filter, inventory_view_}));
  top->addWidget(boxed(tr("Reservations, promotions and expiries per second"), {chart_}));
  top->setSizes({960, 440});
  auto* bottom = new QSplitter(Qt::Horizontal);
  bottom->addWidget(boxed(tr("Waiting line"), {waitlist_label_, waitlist_view_}));
  bottom->addWidget(boxed(tr("Lease timers"), {lease_label_, lease_view_}));
  bottom->addWidget(tabs);
  bottom->setSizes({420, 480, 500});
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(top);
  split->addWidget(bottom);
  split->setSizes({330, 530});
  setCentralWidget(split);

  connection_label_ = new QLabel;
  connection_label_->setObjectName("connectionLabel");
  rate_label_ = new QLabel;
  rate_label_->setObjectName("rateLabel");
  statusBar()->addPermanentWidget(rate_label_);
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
  expire_action_ = add("expireAction", tr("Expire lease"), &MainWindow::ask_expire);
}

void MainWindow::connect_to(const QUrl& server) {
  QSettings().setValue(kServerKey, server.toString());
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
      break;
    case AdminClient::State::reconnecting:
      text = tr("Reconnecting: %1").arg(detail);
      colour = "#b05a00";
      break;
  }
  connection_label_->setText(text);
  connection_label_->setStyleSheet(QStringLiteral("color: %1").arg(colour));
  if (state == AdminClient::State::live) {
    plugin_timer_.start();
  } else {
    plugin_timer_.stop();
  }
}

void MainWindow::on_snapshot(const QVector<Item>& items) {
  const QString before = waitlist_.item_id();
  inventory_.set_items(items);
  if (!wanted_item_.isEmpty()) {
    select_item(wanted_item_);
  } else if (before.isEmpty() && inventory_proxy_.rowCount() > 0) {
    inventory_view_->setCurrentIndex(inventory_proxy_.index(0, 0));
  }
  // After a reconnect the line and the leases may have moved a lot: read them again.
  if (!before.isEmpty() && waitlist_.item_id() == before) {
    fetch_waitlist();
    fetch_leases();
  }
  fetch_plugins();
  update_labels();
  update_actions();
}

void MainWindow::on_events(const QVector<Event>& batch) {
  inventory_.apply(batch);
  waitlist_.apply(batch);
  leases_.apply(batch);
  log_.append(batch);
  throughput_.add(batch);
  events_this_second_ += static_cast<int>(batch.size());
  if (!wanted_item_.isEmpty()) select_item(wanted_item_);
  update_labels();
  update_actions();
}

void MainWindow::select_item(const QString& item_id) {
  wanted_item_ = item_id;
  for (int row = 0; row < inventory_.rowCount(); ++row) {
    if (inventory_.id_at(row) != item_id) continue;
    const QModelIndex index = inventory_proxy_.mapFromSource(inventory_.index(row, 0));
    if (!index.isValid()) return;  // filtered out
    inventory_view_->setCurrentIndex(index);
    inventory_view_->scrollTo(index);
    wanted_item_.clear();
    return;
  }
}

void MainWindow::show_item(const QString& item_id) {
  waitlist_.set_item(item_id);
  leases_.set_item(item_id);
  fetch_waitlist();
  fetch_leases();
  update_labels();
  update_actions();
}

void MainWindow::fetch_waitlist() {
  const QString id = waitlist_.item_id();
  if (id.isEmpty()) return;
  waitlist_.begin_fetch();
  client_.get(item_path(id) + QStringLiteral("/waitlist?limit=%1").arg(waitlist_.limit()), this,
              [this, id](const Reply& reply) {
                if (id != waitlist_.item_id()) return;
                QString error = reply.error;
                const auto page = reply.ok() ? parse_waitlist(reply.body, &error) : std::nullopt;
                if (!page) {
                  waitlist_.fetch_failed();
                  return report(tr("Waiting line of %1: %2").arg(id, error));
                }
                waitlist_.set_page(*page);
                update_labels();
              });
}

void MainWindow::fetch_leases() {
  const QString id = leases_.item_id();
  if (id.isEmpty()) return;
  leases_.begin_fetch();
  client_.get(item_path(id) + QStringLiteral("/leases?limit=%1").arg(leases_.limit()), this,
              [this, id](const Reply& reply) {
                if (id != leases_.item_id()) return;
                QString error = reply.error;
                const auto leases = reply.ok() ? parse_leases(reply.body, &error) : std::nullopt;
                if (!leases) {
                  leases_.fetch_failed();
                  return report(tr("Leases of %1: %2").arg(id, error));
                }
                leases_.set_page(id, *leases);
                update_labels();
                update_actions();
              });
}

void MainWindow::fetch_plugins() {
  client_.get(QStringLiteral("/admin/plugins"), this, [this](const Reply& reply) {
    QString error = reply.error;
    const auto plugins = reply.ok() ? parse_plugins(reply.body, &error) : std::nullopt;
    if (!plugins) return report(tr("Plugins: %1").arg(error));
    plugins_.set_plugins(*plugins);
  });
}

void MainWindow::refresh() {
  client_.get(QStringLiteral("/admin/items"), this, [this](const Reply& reply) {
    QString error = reply.error;
    const auto items = reply.ok() ? parse_items(reply.body, &error) : std::nullopt;
    if (!items) return report(tr("Items: %1").arg(error));
    inventory_.set_items(*items);
    update_labels();
  });
  fetch_waitlist();
  fetch_leases();
  fetch_plugins();
}

void MainWindow::update_labels() {
  const QString id = waitlist_.item_id();
  if (id.isEmpty()) {
    waitlist_label_->setText(tr("Select an item to see its waiting line."));
    lease_label_->setText(tr("Select an item to see its leases."));
    return;
  }
  const QLocale locale;
  const QString name = id.toHtmlEscaped();
  waitlist_label_->setText(
      tr("<b>%1</b>: %2 waiting; the first %3 shown")
          .arg(name, locale.toString(waitlist_.waiting()), locale.toString(waitlist_.shown())));
  const Item* item = inventory_.item(id);
  lease_label_->setText(tr("<b>%1</b>: %2 active; %3 shown, soonest expiry first")
                            .arg(name, locale.toString(item ? item->reserved : 0),
                                 locale.toString(leases_.rowCount())));
}

void MainWindow::update_actions() {
  const Item* item = inventory_.item(waitlist_.item_id());
  restock_action_->setEnabled(item != nullptr);
  pause_action_->setEnabled(item != nullptr);
  pause_action_->setText(item && item->paused ? tr("Resume") : tr("Pause"));
  expire_action_->setEnabled(leases_.lease_at(lease_view_->currentIndex().row()) != nullptr);
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
  connect(dialog, &QDialog::accepted, this, [this, dialog] {
    const QJsonObject body = dialog->body();
    const QString id = body.value("id").toString();
    confirm(tr("Create item %1 (%2) with %3 units and a %4 s payment window?")
                .arg(id, body.value("name").toString())
                .arg(body.value("total_stock").toInt())
                .arg(body.value("payment_window_s").toInt()),
            [this, body, id] {
              wanted_item_ = id;
              act("POST", QStringLiteral("/admin/items"), body, tr("Create item %1").arg(id));
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
    confirm(tr("Add %1 units to %2? Waiting orders get them first.").arg(units).arg(id),
            [this, id, units] {
              act("PATCH", item_path(id), QJsonObject{{"add_stock", units}},
                  tr("Restock %1 with %2 units").arg(id).arg(units));
            });
  });
  dialog->open();
}

void MainWindow::ask_pause() {
  const Item* item = inventory_.item(selected_item());
  if (!item) return;
  const QString id = item->id;
  const bool pause = !item->paused;
  confirm(pause ? tr("Pause the sale of %1? New orders are refused (sale_paused) until it is "
                     "resumed; leases and the waiting line stay.")
                      .arg(id)
                : tr("Resume the sale of %1?").arg(id),
          [this, id, pause] {
            act("PATCH", item_path(id), QJsonObject{{"paused", pause}},
                pause ? tr("Pause %1").arg(id) : tr("Resume %1").arg(id));
          });
}

void MainWindow::ask_expire() {
  const Lease* lease = leases_.lease_at(lease_view_->currentIndex().row());
  if (!lease) return;
  const QString order = lease->order_id;
  confirm(tr("End the lease of order %1 (user %2) now? The order expires and its unit goes "
             "to the next in line.")
              .arg(order, lease->user_id),
          [this, order] {
            act("POST",
                QStringLiteral("/admin/orders/%1/expire")
                    .arg(QString::fromLatin1(QUrl::toPercentEncoding(order))),
                {}, tr("Expire order %1").arg(order));
          });
}

void MainWindow::confirm(const QString& question, std::function<void()> then) {
  auto* box = new QMessageBox(QMessageBox::Question, tr("Please confirm"), question,
                              QMessageBox::Yes | QMessageBox::Cancel, this);
  box->setObjectName("confirmBox");
  box->setAttribute(Qt::WA_DeleteOnClose);
  connect(box, &QMessageBox::buttonClicked, this,
          [box, then = std::move(then)](QAbstractButton* button) {
            if (box->standardButton(button) == QMessageBox::Yes) then();
          });
  box->open();
}

void MainWindow::act(const QByteArray& method, const QString& path, const QJsonObject& body,
                     const QString& what) {
  client_.send(method, path, body, this, [this, what](const Reply& reply) {
    if (reply.ok()) {
      statusBar()->showMessage(tr("%1: done").arg(what), 10000);
      return;
    }
    report(tr("%1 failed: %2").arg(what, reply.error));
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Action failed"),
                                tr("%1 failed: %2").arg(what, reply.error), QMessageBox::Ok, this);
    box->setObjectName("errorBox");
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  });
}

void MainWindow::report(const QString& problem) { statusBar()->showMessage(problem, 15000); }

QString MainWindow::selected_item() const { return waitlist_.item_id(); }

}  // namespace flashsale::admin
