// See ops_routes.hpp.
#include "api/ops_routes.hpp"

#include "api/blocking.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"

namespace flashsale::api {

void add_ops_routes(http::Router& router, const PluginHost& plugins, WorkerPool& workers,
                    const Metrics& metrics, Audience audience) {
  router.add("GET", "/healthz", [](http::Request&, const http::Reply& reply) {
    reply(http::json_response(200, {{"status", "ok"}}));
  });
  router.add(
      "GET", "/readyz", [&plugins, &workers, audience](http::Request&, const http::Reply& reply) {
        on_worker(workers, reply, [&plugins, audience] {
          bool ready = true;
          auto list = nlohmann::json::array();
          for (const auto& h : plugins.health()) {
            // The storage plugin's health is the database's: never optional. The event stream's
            // is not this replica's to fix: while it is down orders are still taken (the leader
            // holds the log back until it is up again), and every replica would be unready alike.
            const bool counts = h.kind == "storage" || (h.required && h.kind != "event_stream");
            if (!h.ok && counts) ready = false;
            nlohmann::json entry = {{"name", h.name}, {"kind", h.kind}, {"ok", h.ok}};
            if (audience == Audience::operators) entry["detail"] = h.detail;
            list.push_back(std::move(entry));
          }
          return http::json_response(
              ready ? 200 : 503, {{"status", ready ? "ready" : "not_ready"}, {"plugins", list}});
        });
      });
  router.add("GET", "/metrics", [&metrics](http::Request&, const http::Reply& reply) {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics.serialize();
    reply(std::move(r));
  });
}

namespace {

// GET /admin/cluster: this replica, the others on the same database, and which one reads the
// log (SPEC §10).
http::Response cluster_view(const PluginHost& plugins, const std::string& node_id) {
  nlohmann::json body = {
      {"node_id", node_id}, {"leader", nullptr}, {"leader_since", nullptr}, {"lag_bytes", nullptr}};
  auto* source = plugins.event_source();
  if (source == nullptr) {
    body["nodes"] = {{{"node_id", node_id}, {"leader", false}, {"this", true}}};
    return http::json_response(200, body);
  }
  sdk::ClusterView view;
  try {
    view = source->cluster();
  } catch (const std::exception& e) {
    return http::error_response(503, "unavailable",
                                std::string("the cluster view needs the database: ") + e.what());
  }
  auto nodes = nlohmann::json::array();
  for (const auto& r : view.replicas) {
    nodes.push_back({{"node_id", r.node_id},
                     {"connected_since", r.connected_since},
                     {"leader", r.leader},
                     {"this", r.node_id == node_id}});
  }
  body["nodes"] = nodes;
  if (!view.leader.empty()) body["leader"] = view.leader;
  if (!view.leader_since.empty()) body["leader_since"] = view.leader_since;
  if (view.lag_bytes) body["lag_bytes"] = *view.lag_bytes;
  return http::json_response(200, body);
}

}  // namespace

void add_plugin_routes(http::Router& router, const PluginHost& plugins, WorkerPool& workers,
                       const std::string& node_id) {
  router.add("GET", "/admin/cluster",
             [&plugins, &workers, node_id](http::Request&, const http::Reply& reply) {
               on_worker(workers, reply,
                         [&plugins, node_id] { return cluster_view(plugins, node_id); });
             });
  router.add("GET", "/admin/plugins",
             [&plugins, &workers, node_id](http::Request&, const http::Reply& reply) {
               on_worker(workers, reply, [&plugins, node_id] {
                 const auto health = plugins.health();
                 auto list = nlohmann::json::array();
                 for (std::size_t i = 0; i < health.size(); ++i) {
                   const auto& h = health[i];
                   list.push_back({{"name", h.name},
                                   {"kind", h.kind},
                                   {"version", h.version},
                                   {"required", h.required},
                                   {"file", plugins.plugins()[i]->path},
                                   {"health", {{"ok", h.ok}, {"detail", h.detail}}}});
                 }
                 return http::json_response(200, {{"node_id", node_id}, {"plugins", list}});
               });
             });
}

}  // namespace flashsale::api
