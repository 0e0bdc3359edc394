// The load generator's report: one line for people and one JSON object on
// a line of its own for bench/run.sh.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "driver.hpp"
#include "options.hpp"

namespace websockets::loadgen {

namespace detail {

// A JSON object written one field at a time.
class json_line {
 public:
  json_line() { out_ = "{"; }

  void field(std::string_view name, std::string_view value) {
    key(name);
    out_ += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') out_ += '\\';
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out_ += buf;
        continue;
      }
      out_ += c;
    }
    out_ += '"';
  }
  void field(std::string_view name, const char* value) { field(name, std::string_view(value)); }
  void field(std::string_view name, bool value) {
    key(name);
    out_ += value ? "true" : "false";
  }
  void field(std::string_view name, std::uint64_t value) {
    key(name);
    out_ += std::to_string(value);
  }
  void field(std::string_view name, double value) {
    key(name);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    out_ += buf;
  }
  void null_field(std::string_view name) {
    key(name);
    out_ += "null";
  }
  template <class T>
  void optional_field(std::string_view name, const std::optional<T>& value) {
    if (value) {
      field(name, *value);
    } else {
      null_field(name);
    }
  }

  std::string finish() { return out_ + "}"; }

 private:
  void key(std::string_view name) {
    if (out_.size() > 1) out_ += ',';
    out_ += '"';
    out_ += name;
    out_ += "\":";
  }
  std::string out_;
};

inline const char* mode_name(run_mode m) {
  switch (m) {
    case run_mode::echo:
      return "echo";
    case run_mode::handshake:
      return "handshake";
    case run_mode::hold:
      return "hold";
  }
  return "?";
}

inline std::string size_text(std::uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

}  // namespace detail

// Prints the human line, then the JSON line, to stdout.
inline void print_report(const options& o, run_result& r) {
  const double secs = r.seconds > 0 ? r.seconds : 1e-9;
  const double per_s = double(r.count) / secs;
  const double count = r.count ? double(r.count) : 1.0;
  const double us = 1e6;
  const char* label = o.label.empty() ? "server" : o.label.c_str();
  const auto pct = [&](double p) { return r.latency.percentile(p) / 1e3; };

  detail::json_line j;
  j.field("mode", detail::mode_name(o.mode));
  j.field("label", o.label);
  j.field("raw", o.raw);
  j.field("connections", std::uint64_t{o.connections});
  j.field("compression", r.compression);

  if (o.mode == run_mode::hold) {
    const double n = double(o.connections);
    const auto per_conn = [&](const std::optional<std::uint64_t>& after) -> std::optional<double> {
      if (!after || !r.rss_before) return std::nullopt;
      return (double(*after) - double(*r.rss_before)) * 1024.0 / n;
    };
    std::printf("hold %s: %zu connections%s", label, o.connections,
                o.deflate ? (" offering " + std::string("permessage-deflate")).c_str() : "");
    if (r.rss_before && r.rss_open) {
      std::printf(": server RSS %llu KiB before, %llu KiB open (%.0f B/connection)",
                  static_cast<unsigned long long>(*r.rss_before),
                  static_cast<unsigned long long>(*r.rss_open), *per_conn(r.rss_open));
      if (r.rss_echo)
        std::printf(", %llu KiB after %zu echo%s each (%.0f B/connection)",
                    static_cast<unsigned long long>(*r.rss_echo), o.hold_messages,
                    o.hold_messages == 1 ? "" : "es", *per_conn(r.rss_echo));
    } else {
      std::printf(" (no --server-pid: no memory figures)");
    }
    std::printf("; compression: %s\n", r.compression.c_str());
    j.field("size", std::uint64_t{o.size});
    j.field("hold_messages", std::uint64_t{o.hold_messages});
    j.optional_field("rss_before_kib", r.rss_before);
    j.optional_field("rss_open_kib", r.rss_open);
    j.optional_field("rss_echo_kib", r.rss_echo);
    j.optional_field("open_bytes_per_conn", per_conn(r.rss_open));
    j.optional_field("echo_bytes_per_conn", per_conn(r.rss_echo));
    std::printf("%s\n", j.finish().c_str());
    std::fflush(stdout);
    return;
  }

  std::optional<double> server_us, server_pct;
  if (r.server_cpu) {
    server_us = *r.server_cpu * us / count;
    server_pct = *r.server_cpu * 100.0 / secs;
  }
  const double loadgen_pct = r.loadgen_cpu * 100.0 / secs;
  const double loadgen_us = r.loadgen_cpu * us / count;

  if (o.mode == run_mode::echo) {
    std::printf(
        "echo %s: %zu conn x %s %s, window %zu%s: %.0f msg/s, %.2f MB/s; rtt us p50 %.1f p99 %.1f "
        "p99.9 %.1f max %.1f",
        label, o.connections, detail::size_text(o.size).c_str(),
        o.raw ? "raw" : (o.text ? "text" : "binary"), o.window,
        o.deflate ? (", " + r.compression).c_str() : "", per_s, double(r.bytes) / secs / 1e6,
        pct(50), pct(99), pct(99.9), double(r.latency.max()) / 1e3);
  } else {
    std::printf("handshake %s: %zu loops%s: %.0f handshakes/s; cycle us p50 %.1f p99 %.1f max %.1f",
                label, o.connections, o.deflate ? (", " + r.compression).c_str() : "", per_s,
                pct(50), pct(99), double(r.latency.max()) / 1e3);
  }
  std::printf("; loadgen CPU %.0f%% (%.2f us/%s)", loadgen_pct, loadgen_us,
              o.mode == run_mode::echo ? "msg" : "handshake");
  if (server_us) {
    std::printf("; server CPU %.0f%% (%.2f us/%s)\n", *server_pct, *server_us,
                o.mode == run_mode::echo ? "msg" : "handshake");
  } else {
    std::printf("\n");
  }

  if (o.mode == run_mode::echo) {
    j.field("size", std::uint64_t{o.size});
    j.field("type", o.raw ? "raw" : (o.text ? "text" : "binary"));
    j.field("window", std::uint64_t{o.window});
  }
  j.field("deflate", o.deflate);
  j.field("seconds", r.seconds);
  j.field("count", r.count);
  j.field("per_s", per_s);
  if (o.mode == run_mode::echo) j.field("mb_per_s", double(r.bytes) / secs / 1e6);
  j.field("p50_us", pct(50));
  j.field("p90_us", pct(90));
  j.field("p99_us", pct(99));
  j.field("p999_us", pct(99.9));
  j.field("max_us", double(r.latency.max()) / 1e3);
  j.field("mean_us", r.latency.mean() / 1e3);
  j.field("loadgen_cpu_s", r.loadgen_cpu);
  j.field("loadgen_cpu_pct", loadgen_pct);
  j.field("loadgen_us_per_op", loadgen_us);
  j.optional_field("server_cpu_s", r.server_cpu);
  j.optional_field("server_cpu_pct", server_pct);
  j.optional_field("server_us_per_op", server_us);
  j.field("server_cpu_source", r.server_cpu_source);
  std::printf("%s\n", j.finish().c_str());
  std::fflush(stdout);
}

}  // namespace websockets::loadgen
