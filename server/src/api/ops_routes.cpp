// See ops_routes.hpp.
#include "api/ops_routes.hpp"

#include "api/blocking.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"

namespace flashsale::api {

void add_ops_routes(http::Router& router, const PluginHost& plugins, WorkerPool& workers,
                    const Metrics& metrics) {
  router.add("GET", "/healthz", [](http::Request&, const http::Reply& reply) {
    reply(http::json_response(200, {{"status", "ok"}}));
  });
  router.add("GET", "/readyz", [&plugins, &workers](http::Request&, const http::Reply& reply) {
    on_worker(workers, reply, [&plugins] {
      bool ready = true;
      auto list = nlohmann::json::array();
      for (const auto& h : plugins.health()) {
        // The storage plugin's health is the database's: never optional.
        if (!h.ok && (h.required || h.kind == "storage")) ready = false;
        list.push_back({{"name", h.name}, {"kind", h.kind}, {"ok", h.ok}, {"detail", h.detail}});
      }
      return http::json_response(ready ? 200 : 503,
                                 {{"status", ready ? "ready" : "not_ready"}, {"plugins", list}});
    });
  });
  router.add("GET", "/metrics", [&metrics](http::Request&, const http::Reply& reply) {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics.serialize();
    reply(std::move(r));
  });
}

void add_plugin_routes(http::Router& router, const PluginHost& plugins, WorkerPool& workers) {
  router.add("GET", "/admin/plugins",
             [&plugins, &workers](http::Request&, const http::Reply& reply) {
               on_worker(workers, reply, [&plugins] {
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
                 return http::json_response(200, {{"plugins", list}});
               });
             });
}

}  // namespace flashsale::api
