// Input checks shared by the API handlers: identifiers, headers, and JSON bodies whose every
// field is known and of the right type. A failed check throws BadRequest; the handler answers
// 400 bad_request with its message and changes nothing.
#pragma once

#include <cstdint>
#include <flashsale/sdk/storage.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

namespace flashsale::api {

class BadRequest : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An item id: [a-z0-9-]{1,64}.
bool is_item_id(const std::string& s);
/// A UUID in its canonical text form (any case).
bool is_uuid(const std::string& s);
/// 1..max characters, each printable ASCII (space to '~').
bool is_printable(const std::string& s, std::size_t max);
/// An RFC 3339 date-time that names a real instant, e.g. 2026-11-24T10:00:00Z or with an
/// offset, as microseconds since 1970; nullopt for anything else (30 February, hour 24, second
/// 60, an offset past 23:59, year 0000).
std::optional<std::int64_t> rfc3339_unix_us(const std::string& s);
bool is_rfc3339(const std::string& s);

/// The orders of `user_id` that a list query asks for: ?item= and ?status=, both optional.
/// Throws BadRequest on a bad value or on a parameter neither those nor in `also_known`.
sdk::OrderQuery order_query(const std::map<std::string, std::string>& query, std::string user_id,
                            const std::set<std::string>& also_known = {});

/// The fields of a JSON object body, checked one by one.
class Fields {
 public:
  /// Throws BadRequest naming the first field not in `allowed`.
  Fields(const nlohmann::json& body, const std::set<std::string>& allowed);

  bool has(const std::string& name) const { return body_.contains(name); }
  bool is_null(const std::string& name) const { return has(name) && body_.at(name).is_null(); }
  /// The field as a string of min..max characters; nullopt when absent and not required.
  std::optional<std::string> text(const std::string& name, std::size_t min, std::size_t max,
                                  bool required = false) const;
  std::optional<long long> integer(const std::string& name, long long min, long long max,
                                   bool required = false) const;
  std::optional<bool> boolean(const std::string& name) const;
  /// An RFC 3339 time; nullopt when absent.
  std::optional<std::string> time(const std::string& name) const;

 private:
  const nlohmann::json& body_;
};

}  // namespace flashsale::api
