// bench_loadgen: the load generator of the side-by-side benchmarks. See
// bench/README.md for what it measures and how bench/run.sh uses it.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <exception>

#include "driver.hpp"
#include "options.hpp"
#include "report.hpp"

namespace {

// Lets the run open as many sockets as the hard limit allows.
void raise_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace websockets::loadgen;
  options opts;
  try {
    if (!parse_options(argc, argv, opts)) {
      std::fputs(usage_text, stdout);
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_loadgen: %s\n%s", e.what(), usage_text);
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);  // a server that goes away is an error reported by write()
  raise_file_limit();
  try {
    load_driver driver(opts);
    print_report(opts, driver.run());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_loadgen: %s\n", e.what());
    return 1;
  }
  return 0;
}
