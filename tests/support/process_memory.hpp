// What the test process holds: resident memory (now and at its peak, with
// a way to restart the peak) and its file descriptor limit. Hardening tests
// use these to check that hostile input can't make a server hoard memory.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

namespace websockets::testing {

namespace detail {

// A "Name:   123 kB" field of /proc/self/status, in bytes; 0 when absent.
inline std::size_t status_field_bytes(std::string_view name) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ':')
      return static_cast<std::size_t>(std::stoull(line.substr(name.size() + 1))) * 1024;
  }
  return 0;
}

}  // namespace detail

// The process's resident set size now, in bytes.
inline std::size_t resident_bytes() {
  return detail::status_field_bytes("VmRSS");
}

// The largest resident set size since the process started or since the last
// reset_peak_resident(), in bytes.
inline std::size_t peak_resident_bytes() {
  return detail::status_field_bytes("VmHWM");
}

// Makes the peak start again from the current resident size (Linux 4.0 and
// later: writing 5 to /proc/self/clear_refs). Returns false when the kernel
// refuses, in which case the peak keeps counting from the process's start.
inline bool reset_peak_resident() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// Measures how much the peak resident size grows over a scope: construct it
// before the work, read growth() after.
class peak_growth {
 public:
  peak_growth() : resettable_(reset_peak_resident()), base_(resident_bytes()) {
    if (!resettable_) base_ = peak_resident_bytes();
  }

  // Bytes by which the peak rose above the resident size at construction.
  std::size_t growth() const {
    const std::size_t peak = peak_resident_bytes();
    return peak > base_ ? peak - base_ : 0;
  }

 private:
  bool resettable_;
  std::size_t base_;
};

// Raises the soft limit on open files to at least `wanted` (up to the hard
// limit); returns the soft limit in force afterwards.
inline std::uint64_t raise_open_file_limit(std::uint64_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    rlimit raised = limit;
    raised.rlim_cur =
        limit.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, limit.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(limit.rlim_cur);
}

}  // namespace websockets::testing
