// SPEC §2's invariants, checked with SQL against the database after a scenario. Each
// violation comes back as a line of text naming the item or order.
#pragma once

#include <string>
#include <vector>

namespace flashsale::test {

/// Every violation of the invariants in the database at `url`; empty when all hold.
std::vector<std::string> invariant_violations(const std::string& url);

}  // namespace flashsale::test
