// CPU time and resident memory: the load generator's own (getrusage) and a
// server's, read from /proc while it runs, so that the report can say how
// much CPU each side spent per echoed message.
#pragma once

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

namespace websockets::loadgen {

// User + system CPU seconds this process has used so far.
inline double self_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec) + double(u.ru_stime.tv_sec) +
         (double(u.ru_utime.tv_usec) + double(u.ru_stime.tv_usec)) / 1e6;
}

namespace detail {

// utime + stime of /proc/PID/stat, in clock ticks (10 ms each as a rule).
inline std::optional<double> stat_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // The command name, field 2, is in parentheses and may hold spaces.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  unsigned long long utime = 0, stime = 0;
  // Fields 3 to 15 after the name: state, then 10 numbers, then utime, stime.
  if (std::sscanf(line.c_str() + close + 1,
                  " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return std::nullopt;
  return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

// The sum over the process's threads of the nanoseconds they spent on a CPU
// (the first field of /proc/PID/task/TID/schedstat): exact, unlike ticks.
inline std::optional<double> schedstat_cpu_seconds(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return std::nullopt;
  unsigned long long total = 0;
  bool any = false;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(dir + "/" + e->d_name + "/schedstat");
    unsigned long long ns = 0;
    if (in >> ns) {
      total += ns;
      any = true;
    }
  }
  ::closedir(d);
  if (!any) return std::nullopt;
  return double(total) / 1e9;
}

}  // namespace detail

// A server's CPU seconds so far, and where the figure came from.
struct process_cpu {
  double seconds = 0;
  const char* source = "none";  // "schedstat", "stat" or "none" (no such process)
};

// The CPU time of process `pid` so far, all threads together: from
// schedstat when the kernel has it, else from the tick counts of stat.
inline process_cpu process_cpu_seconds(int pid) {
  if (pid <= 0) return {};
  if (auto s = detail::schedstat_cpu_seconds(pid)) return {*s, "schedstat"};
  if (auto s = detail::stat_cpu_seconds(pid)) return {*s, "stat"};
  return {};
}

// The resident set size of process `pid` in KiB (VmRSS of /proc/PID/status),
// or std::nullopt when it can't be read.
inline std::optional<std::uint64_t> process_rss_kib(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 6, "VmRSS:") == 0) return std::stoull(line.substr(6));
  }
  return std::nullopt;
}

}  // namespace websockets::loadgen
