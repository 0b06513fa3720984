// Operational routes: liveness, readiness, Prometheus metrics, the admin plugin list and the
// cluster view.
#pragma once

#include <string>

#include "http/router.hpp"

namespace flashsale {
class Metrics;
class PluginHost;
class WorkerPool;
}  // namespace flashsale

namespace flashsale::api {

/// Who reads an answer: the public listener's clients, or operators on the admin listener.
enum class Audience { public_clients, operators };

/// GET /healthz, /readyz and /metrics. Only operators see why a plugin is unhealthy (the detail
/// can name database hosts and ports).
void add_ops_routes(http::Router& router, const PluginHost& plugins, WorkerPool& workers,
                    const Metrics& metrics, Audience audience);
/// GET /admin/plugins and /admin/cluster; `node_id` names this replica in both.
void add_plugin_routes(http::Router& router, const PluginHost& plugins, WorkerPool& workers,
                       const std::string& node_id);

}  // namespace flashsale::api
