// A busy sale for the load and screenshot tests: a hot item with 2,000 leases and a line of
// 100,000, two quieter items, and an endless script of what such a sale streams (newcomers,
// expiries with promotions, payments, restocks), one event at a time.
#pragma once

#include <deque>

#include "sale.hpp"

namespace flashsale::admin::testing {

class BusySale {
 public:
  static constexpr const char* kHot = "sneakers";

  BusySale();
  Sale& sale() { return sale_; }
  // The next event of the script.
  QJsonObject next();

 private:
  Sale sale_;
  std::deque<QJsonObject> queue_;
  int step_ = 0;
};

}  // namespace flashsale::admin::testing
