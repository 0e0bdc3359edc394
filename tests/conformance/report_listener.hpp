// Writes the results table at the end of a run when asked:
//
//   WEBSOCKETS_CONFORMANCE_REPORT=tests/conformance/README.md test_conformance_server
//
// Include once per test program (it registers a Catch2 listener), in a file
// that defines CATCH_CONFIG_EXTERNAL_INTERFACES before including Catch2.
#pragma once

#ifndef CATCH_CONFIG_EXTERNAL_INTERFACES
#error "define CATCH_CONFIG_EXTERNAL_INTERFACES before including catch.hpp"
#endif
#include <catch2/catch.hpp>
#include <cstdlib>

#include "conformance/results.hpp"

namespace websockets::conformance {

struct report_listener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testRunEnded(const Catch::TestRunStats&) override {
    if (const char* path = std::getenv("WEBSOCKETS_CONFORMANCE_REPORT"); path && *path)
      result_log::instance().write(path);
  }
};

}  // namespace websockets::conformance

// The macro wants a plain identifier.
using websockets_conformance_report_listener = websockets::conformance::report_listener;
CATCH_REGISTER_LISTENER(websockets_conformance_report_listener)
