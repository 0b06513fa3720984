// See plugins_pane.hpp.
#include "plugins_pane.hpp"

#include <QJsonArray>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

#include "widgets.hpp"

namespace flashsale::admin {

PluginsPane::PluginsPane(AdminClient& client, QWidget* parent) : QWidget(parent), client_(client) {
  view_ = make_table("pluginView", &plugins_, {110, 90, 70, 190, 70});
  auto* refresh_button = new QPushButton(tr("Refresh"));
  connect(refresh_button, &QPushButton::clicked, this, &PluginsPane::refresh);
  cluster_ = new QLabel(tr("Node: unknown"));
  cluster_->setObjectName(QStringLiteral("clusterLabel"));
  cluster_->setWordWrap(true);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(cluster_);
  layout->addWidget(view_);
  layout->addWidget(refresh_button, 0, Qt::AlignRight);
  refresh_timer_.setInterval(kRefreshMs);
  connect(&refresh_timer_, &QTimer::timeout, this, &PluginsPane::refresh);
}

void PluginsPane::refresh() {
  client_.get(QStringLiteral("/admin/plugins"), this, [this](const Reply& reply) {
    QString error = reply.error;
    const auto plugins = reply.ok() ? parse_plugins(reply.body, &error) : std::nullopt;
    if (!plugins) return emit problem(tr("Plugins: %1").arg(error));
    plugins_.set_plugins(*plugins);
  });
  client_.get(QStringLiteral("/admin/cluster"), this, [this](const Reply& reply) {
    if (!reply.ok()) {
      cluster_->setText(tr("Node: unknown (%1)").arg(reply.error));
      return;
    }
    cluster_->setText(cluster_text(reply.body));
  });
}

QString PluginsPane::cluster_text(const QJsonObject& view) {
  const QString node = view.value(QStringLiteral("node_id")).toString();
  const QString leader = view.value(QStringLiteral("leader")).toString();
  const auto replicas = view.value(QStringLiteral("nodes")).toArray().size();
  const QString leads = leader.isEmpty() ? tr("nobody reads the log now")
                        : leader == node ? tr("this node reads the log (CDC leader)")
                                         : tr("CDC leader: %1").arg(leader);
  return tr("Node: %1 — %2 — %n replica(s) connected", nullptr, static_cast<int>(replicas))
      .arg(node, leads);
}

void PluginsPane::set_live(bool live) {
  set_stale(view_, !live);
  cluster_->setEnabled(live);  // greyed out: who leads may have changed
  plugins_.set_stale(!live);
  if (live) {
    refresh_timer_.start();
  } else {
    refresh_timer_.stop();
  }
}

}  // namespace flashsale::admin
