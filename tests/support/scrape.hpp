// Reads a /metrics answer (the text format, version 0.0.4) in tests: its samples, and one
// sample's value by name and labels.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/http_client.hpp"

namespace flashsale::test {

/// One sample line: `name{label="value",...} value`.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// The samples of an exposition, in order; comment lines are skipped. Throws on a line it cannot
/// read.
inline std::vector<Sample> parse_samples(const std::string& text) {
  std::vector<Sample> samples;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t i = line.find_first_of("{ ");
    if (i == std::string::npos) throw std::runtime_error("no value: " + line);
    s.name = line.substr(0, i);
    if (line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const auto eq = line.find("=\"", i);
        if (eq == std::string::npos) throw std::runtime_error("bad labels: " + line);
        const std::string name = line.substr(i, eq - i);
        std::string value;
        for (i = eq + 2; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
        }
        s.labels[name] = value;
        ++i;  // the closing quote
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // the closing brace
    }
    s.value = std::stod(line.substr(i));
    samples.push_back(std::move(s));
  }
  return samples;
}

/// The value of the first sample named `name` whose labels include `labels`.
inline std::optional<double> sample_value(const std::vector<Sample>& samples,
                                          const std::string& name,
                                          const std::map<std::string, std::string>& labels = {}) {
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      const auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (match) return s.value;
  }
  return std::nullopt;
}

/// GET /metrics on `port`, parsed.
inline std::vector<Sample> scrape(std::uint16_t port) {
  return parse_samples(http_request(port, "GET", "/metrics").body);
}

}  // namespace flashsale::test
