// The Grafana dashboard (deploy/grafana/flashsale.json) and the alert rules
// (deploy/prometheus/flashsale.rules.yml) against a live service: every expression parses as
// PromQL, and every metric it names, with every label value it matches exactly, is in the
// service's /metrics after a short load. So no panel or alert watches a metric that is not
// exported (a typo, a renamed metric, a histogram without its _bucket).
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "process.hpp"
#include "support/api_client.hpp"
#include "support/parallel.hpp"
#include "support/scrape.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"
#include "support/ws_client.hpp"

using namespace flashsale;
using namespace flashsale::test;
using nlohmann::json;

namespace {

const std::string kSource = FLASHSALE_SOURCE_DIR;

// A metric an expression selects, and the label values it matches exactly (`label="value"`).
struct Selector {
  std::string metric;
  std::vector<std::pair<std::string, std::string>> exact;
};

bool identifier_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':';
}

bool identifier_char(char c) {
  return identifier_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// The metric selectors of a PromQL expression. Strings, ranges ([5m]), Grafana variables ($x),
// numbers, functions, aggregations, keywords and the label lists of by/without/on/ignoring/
// group_left/group_right are skipped; an identifier left is a metric name.
std::vector<Selector> selectors(const std::string& expr) {
  static const std::set<std::string> keywords = {
      "sum",    "min",      "max",        "avg",          "count", "stddev", "stdvar",
      "topk",   "bottomk",  "quantile",   "count_values", "group", "by",     "without",
      "on",     "ignoring", "group_left", "group_right",  "bool",  "and",    "or",
      "unless", "offset",   "atan2",      "inf",          "nan"};
  static const std::set<std::string> label_lists = {"by",       "without",    "on",
                                                    "ignoring", "group_left", "group_right"};
  std::vector<Selector> found;
  std::size_t i = 0;
  const auto skip_to = [&](char close) {
    i = expr.find(close, i + 1);
    REQUIRE(i != std::string::npos);
    ++i;
  };
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      skip_to(c);
    } else if (c == '[') {
      skip_to(']');
    } else if (c == '$' || std::isdigit(static_cast<unsigned char>(c)) != 0) {
      for (++i; i < expr.size() && (identifier_char(expr[i]) || expr[i] == '.'); ++i) {
      }
    } else if (identifier_start(c)) {
      const auto begin = i;
      while (i < expr.size() && identifier_char(expr[i])) ++i;
      const std::string word = expr.substr(begin, i - begin);
      auto next = expr.find_first_not_of(" \t\n", i);
      const char after = next == std::string::npos ? '\0' : expr[next];
      if (label_lists.count(word) != 0 && after == '(') {
        i = next;
        skip_to(')');
      } else if (keywords.count(word) == 0 && after != '(') {
        Selector s{word, {}};
        if (after == '{') {
          // The closing brace outside the quoted label values (they may hold braces).
          auto close = next + 1;
          for (bool quoted = false; close < expr.size() && (quoted || expr[close] != '}');
               ++close) {
            if (expr[close] == '\\') {
              ++close;
            } else if (expr[close] == '"') {
              quoted = !quoted;
            }
          }
          REQUIRE(close < expr.size());
          static const std::regex matcher(
              R"re(\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*,?)re");
          const std::string body = expr.substr(next + 1, close - next - 1);
          for (std::sregex_iterator m(body.begin(), body.end(), matcher), end; m != end; ++m) {
            if ((*m)[2] == "=") s.exact.emplace_back((*m)[1], (*m)[3]);
          }
          i = close + 1;
        }
        found.push_back(std::move(s));
      }
    } else {
      ++i;
    }
  }
  return found;
}

// The `expr:` values of a rules file: on the key's line, or the block (`|`, `>`) under it.
std::vector<std::string> rule_expressions(const std::string& yaml) {
  std::vector<std::string> exprs;
  std::istringstream in(yaml);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  static const std::regex key(R"((\s*)(- )?expr:\s*(.*))");
  for (std::size_t n = 0; n < lines.size(); ++n) {
    std::smatch m;
    if (!std::regex_match(lines[n], m, key)) continue;
    std::string value = m[3];
    if (value == "|" || value == ">" || value == "|-" || value == ">-") {
      const auto indent = m[1].length();
      value.clear();
      for (++n; n < lines.size(); ++n) {
        const auto first = lines[n].find_first_not_of(' ');
        if (first != std::string::npos && first <= static_cast<std::size_t>(indent)) break;
        value += lines[n] + "\n";
      }
      --n;
    }
    exprs.push_back(value);
  }
  return exprs;
}

// Every PromQL expression of the dashboard's panels (Grafana's variables replaced by values
// PromQL accepts), and the metric of each `label_values(metric, label)` variable query.
struct Dashboard {
  std::vector<std::string> exprs;
  std::vector<std::pair<std::string, std::string>> variable_labels;  // metric, label
};

Dashboard dashboard(const json& d) {
  Dashboard out;
  for (const auto& panel : d["panels"]) {
    for (const auto& target : panel.value("targets", json::array())) {
      std::string expr = target["expr"];
      expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "5m");
      expr = std::regex_replace(expr, std::regex(R"(\$item)"), ".*");
      out.exprs.push_back(expr);
    }
  }
  static const std::regex label_values(R"(label_values\((\w+),\s*(\w+)\))");
  for (const auto& variable : d["templating"]["list"]) {
    if (variable["type"] != "query") continue;
    std::smatch m;
    const std::string definition = variable["definition"];
    REQUIRE(std::regex_match(definition, m, label_values));
    out.variable_labels.emplace_back(m[1], m[2]);
  }
  return out;
}

}  // namespace

TEST_CASE("the selector reader finds metrics and exact label values, and nothing else") {
  const auto s = selectors(
      R"(histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route="/x/{id}", code=~"5..",)"
      R"( job!="j"}[5m]))) / on (instance) group_left b > 256 * 1024 and c offset 1h)");
  REQUIRE(s.size() == 3);
  CHECK(s[0].metric == "a_bucket");
  REQUIRE(s[0].exact.size() == 1);
  CHECK(s[0].exact[0] == std::pair<std::string, std::string>{"route", "/x/{id}"});
  CHECK(s[1].metric == "b");
  CHECK(s[2].metric == "c");
  const auto rules = rule_expressions(
      "    - alert: A\n      expr: up == 0\n      for: 1m\n    - alert: B\n      expr: |\n"
      "        x\n          / y\n      labels:\n");
  CHECK(rules == std::vector<std::string>{"up == 0", "        x\n          / y\n"});
}

TEST_CASE("every expression of the dashboard and the alert rules names what the service exports") {
  const auto rules =
      rule_expressions(read_file(kSource + "/deploy/prometheus/flashsale.rules.yml"));
  const auto board = dashboard(json::parse(read_file(kSource + "/deploy/grafana/flashsale.json")));
  REQUIRE(rules.size() >= 15);
  REQUIRE(board.exprs.size() >= 30);

  // Each dashboard expression parses: promtool checks it as a recording rule.
  {
    const auto file = temp_dir() / "dashboard.rules.yml";
    std::ofstream out(file);
    out << "groups:\n  - name: dashboard\n    rules:\n";
    for (std::size_t i = 0; i < board.exprs.size(); ++i) {
      out << "      - record: panel_" << i << "\n        expr: " << json(board.exprs[i]).dump()
          << "\n";
    }
    out.close();
    std::string output;
    const int code = process::run({"promtool", "check", "rules", file.string()}, output);
    INFO(output);
    CHECK(code == 0);
  }

  // A short sale: placements (some wait, some are refused), a cancel, leases that lapse and
  // promote, a WebSocket client that gets pushes, a payment.
  ServiceProcess service({"serve"}, {"FLASHSALE_DATABASE_URL=" + fresh_database()});
  REQUIRE(service.wait_listening());
  const auto P = service.public_port;
  const auto A = service.admin_port;
  REQUIRE(eventually(
      [&] {
        try {
          return http_request(P, "GET", "/readyz").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(30)));
  WsClient stream(P, "/v1/stream", {{"X-User-Id", "load-0"}});
  for (const char* item : {"mon-a", "mon-b"}) {
    create_item(A, {{"id", item},
                    {"name", item},
                    {"total_stock", 5},
                    {"payment_window_s", 1},
                    {"per_user_limit", 1}});
  }
  parallel_for(8, 40, [&](int i) {
    const auto user = "load-" + std::to_string(i % 20);
    place(P, user, i % 2 ? "mon-a" : "mon-b", "k" + std::to_string(i));
  });
  const std::string solo = place(P, "solo", "mon-a", "s").json()["id"];
  place(P, "solo", "mon-a", "s");  // a replay
  http_request(P, "POST", "/v1/payments/webhook",
               json{{"event_id", "pay-1"}, {"order_id", solo}, {"outcome", "succeeded"}}.dump());
  cancel(P, "solo", solo);
  http_request(P, "GET", "/v1/nowhere");
  // The leases lapse after 1 s: the sweeps expire them and promote the line.
  REQUIRE(eventually(
      [&] {
        const auto samples = scrape(A);
        return sample_value(samples, "flashsale_lease_expiry_lateness_seconds_count") > 0 &&
               sample_value(samples, "flashsale_push_total",
                            {{"channel", "websocket"}, {"outcome", "delivered"}}) > 0 &&
               sample_value(samples, "flashsale_item_available", {{"item", "mon-a"}});
      },
      std::chrono::seconds(20)));

  const auto samples = scrape(A);
  // Labels Prometheus adds to every scraped series, and a series it makes itself.
  const std::set<std::string> target_labels = {"job", "instance"};
  const auto exported = [&](const Selector& s) {
    if (s.metric == "up") return true;
    for (const auto& sample : samples) {
      if (sample.name != s.metric) continue;
      bool match = true;
      for (const auto& [label, value] : s.exact) {
        if (target_labels.count(label) != 0) continue;
        const auto it = sample.labels.find(label);
        match = match && it != sample.labels.end() && it->second == value;
      }
      if (match) return true;
    }
    return false;
  };
  std::set<std::string> checked;
  for (const auto* exprs : {&rules, &board.exprs}) {
    for (const auto& expr : *exprs) {
      const auto found = selectors(expr);
      INFO(expr);
      CHECK(!found.empty());
      for (const auto& s : found) {
        std::string labels;
        for (const auto& [k, v] : s.exact) labels += " " + k + "=\"" + v + "\"";
        INFO(s.metric << labels);
        CHECK(exported(s));
        checked.insert(s.metric);
      }
    }
  }
  for (const auto& [metric, label] : board.variable_labels) {
    INFO(metric << " by " << label);
    bool found = false;
    for (const auto& sample : samples) {
      found = found || (sample.name == metric && sample.labels.count(label) != 0);
    }
    CHECK(found);
  }
  // The rules and the dashboard between them watch every family the issue asked for.
  for (const char* metric :
       {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
        "flashsale_plugin_health", "flashsale_cdc_slot_wal_status",
        "flashsale_cdc_slot_safe_wal_size_bytes", "flashsale_job_oldest_due_age_seconds",
        "flashsale_job_queue_due", "flashsale_job_dead", "flashsale_http_connections",
        "flashsale_worker_queue_length", "flashsale_place_pending", "flashsale_push_total",
        "flashsale_item_waiting"}) {
    INFO(metric);
    CHECK(checked.count(metric) == 1);
  }
}
