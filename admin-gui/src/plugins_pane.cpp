// See plugins_pane.hpp.
#include "plugins_pane.hpp"

#include <QPushButton>
#include <QVBoxLayout>

#include "widgets.hpp"

namespace flashsale::admin {

PluginsPane::PluginsPane(AdminClient& client, QWidget* parent) : QWidget(parent), client_(client) {
  view_ = make_table("pluginView", &plugins_, {110, 90, 70, 190, 70});
  auto* refresh_button = new QPushButton(tr("Refresh"));
  connect(refresh_button, &QPushButton::clicked, this, &PluginsPane::refresh);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
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
}

void PluginsPane::set_live(bool live) {
  set_stale(view_, !live);
  plugins_.set_stale(!live);
  if (live) {
    refresh_timer_.start();
  } else {
    refresh_timer_.stop();
  }
}

}  // namespace flashsale::admin
