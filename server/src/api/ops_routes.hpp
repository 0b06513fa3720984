// Operational routes: liveness, readiness, Prometheus metrics, and the admin plugin list.
#pragma once

#include "http/router.hpp"

namespace flashsale {
class Metrics;
class PluginHost;
class WorkerPool;
}  // namespace flashsale

namespace flashsale::api {

/// GET /healthz, /readyz and /metrics.
void add_ops_routes(http::Router& router, const PluginHost& plugins, WorkerPool& workers,
                    const Metrics& metrics);
/// GET /admin/plugins.
void add_plugin_routes(http::Router& router, const PluginHost& plugins, WorkerPool& workers);

}  // namespace flashsale::api
