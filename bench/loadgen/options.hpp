// The load generator's command line: what to run against which server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace websockets::loadgen {

// What the run does with its connections.
enum class run_mode {
  echo,       // keep `window` messages in flight on each connection, count echoes
  handshake,  // connect, open, close, repeat, on `connections` concurrent loops
  hold,       // open `connections`, echo `hold_messages` each, hold them idle
};

struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string path = "/";
  run_mode mode = run_mode::echo;
  bool raw = false;  // plain TCP, no handshake or framing: for the raw echo server
  std::size_t connections = 1;
  std::size_t size = 16;          // payload bytes per message
  bool text = false;              // text messages instead of binary
  std::size_t window = 1;         // messages in flight per connection
  bool deflate = false;           // offer permessage-deflate
  double duration = 5;            // seconds measured
  double warmup = 1;              // seconds run before measuring
  std::uint64_t messages = 0;     // > 0: measure exactly this many echoes instead of a duration
  std::size_t hold_messages = 1;  // hold mode: echoes per connection before idling
  int server_pid = 0;             // > 0: report this process's CPU time and memory
  double timeout = 0;             // hard bound on the whole run; 0: derived from the others
  std::size_t connect_concurrency = 256;  // connections being opened at once
  std::string label;                      // copied into the report, e.g. the server's name
};

inline constexpr const char* usage_text = R"(usage: bench_loadgen --port PORT [options]

  --host HOST            server address (127.0.0.1)
  --path PATH            resource name of the handshake (/)
  --mode echo|handshake|hold
                         echo: keep WINDOW messages in flight per connection (default)
                         handshake: connect, open, close, repeat on CONNECTIONS loops
                         hold: open CONNECTIONS, echo HOLD-MESSAGES each, hold them idle
  --raw                  plain TCP echo: no handshake, no framing
  --connections N        connections (1)
  --size BYTES           payload per message, with an optional K or M suffix (16)
  --text | --binary      message type (binary)
  --window K             messages in flight per connection (1)
  --deflate              offer permessage-deflate; client_max_window_bits
  --duration SECONDS     measured interval (5); in hold mode, how long to hold
  --warmup SECONDS       run this long before measuring (1)
  --messages M           measure exactly M echoes instead of a duration
  --hold-messages N      hold mode: echoes per connection before idling (1)
  --server-pid PID       report the server's CPU time and resident memory
  --timeout SECONDS      bound on the whole run (default: warmup + duration + 30)
  --connect-concurrency N  connections opened at once (256)
  --label TEXT           name for the report, e.g. the server's
)";

namespace detail {

[[noreturn]] inline void bad_option(std::string_view name, std::string_view why) {
  throw std::invalid_argument("option " + std::string(name) + ": " + std::string(why));
}

inline std::uint64_t parse_count(std::string_view name, std::string_view text) {
  if (text.empty()) bad_option(name, "missing value");
  std::uint64_t multiplier = 1;
  const char last = text.back();
  if (last == 'K' || last == 'k') multiplier = 1024;
  if (last == 'M' || last == 'm') multiplier = 1024 * 1024;
  if (multiplier != 1) text.remove_suffix(1);
  std::uint64_t value = 0;
  if (text.empty()) bad_option(name, "not a number");
  for (char c : text) {
    if (c < '0' || c > '9') bad_option(name, "not a number: " + std::string(text));
    if (value > (UINT64_MAX - 9) / 10) bad_option(name, "too large");
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value > UINT64_MAX / multiplier) bad_option(name, "too large");
  return value * multiplier;
}

inline double parse_seconds(std::string_view name, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(value >= 0)) bad_option(name, "not a duration: " + text);
  return value;
}

}  // namespace detail

// Parses argv; throws std::invalid_argument naming the option at fault.
// Returns false when --help was asked for.
inline bool parse_options(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) detail::bad_option(name, "missing value");
      return argv[++i];
    };
    if (name == "--help" || name == "-h") return false;
    if (name == "--host") {
      o.host = value();
    } else if (name == "--port") {
      const auto port = detail::parse_count(name, value());
      if (port == 0 || port > 65535) detail::bad_option(name, "out of range");
      o.port = static_cast<std::uint16_t>(port);
    } else if (name == "--path") {
      o.path = value();
    } else if (name == "--mode") {
      const std::string mode = value();
      if (mode == "echo") {
        o.mode = run_mode::echo;
      } else if (mode == "handshake") {
        o.mode = run_mode::handshake;
      } else if (mode == "hold") {
        o.mode = run_mode::hold;
      } else {
        detail::bad_option(name, "unknown mode " + mode);
      }
    } else if (name == "--raw") {
      o.raw = true;
    } else if (name == "--connections") {
      o.connections = detail::parse_count(name, value());
    } else if (name == "--size") {
      o.size = detail::parse_count(name, value());
    } else if (name == "--text") {
      o.text = true;
    } else if (name == "--binary") {
      o.text = false;
    } else if (name == "--window") {
      o.window = detail::parse_count(name, value());
    } else if (name == "--deflate") {
      o.deflate = true;
    } else if (name == "--duration") {
      o.duration = detail::parse_seconds(name, value());
    } else if (name == "--warmup") {
      o.warmup = detail::parse_seconds(name, value());
    } else if (name == "--messages") {
      o.messages = detail::parse_count(name, value());
    } else if (name == "--hold-messages") {
      o.hold_messages = detail::parse_count(name, value());
    } else if (name == "--server-pid") {
      o.server_pid = static_cast<int>(detail::parse_count(name, value()));
    } else if (name == "--timeout") {
      o.timeout = detail::parse_seconds(name, value());
    } else if (name == "--connect-concurrency") {
      o.connect_concurrency = detail::parse_count(name, value());
    } else if (name == "--label") {
      o.label = value();
    } else {
      detail::bad_option(name, "unknown option (see --help)");
    }
  }
  if (o.port == 0) detail::bad_option("--port", "required");
  if (o.connections == 0) detail::bad_option("--connections", "must be at least 1");
  if (o.window == 0) detail::bad_option("--window", "must be at least 1");
  if (o.window > 4096) detail::bad_option("--window", "at most 4096");
  if (o.size == 0) detail::bad_option("--size", "must be at least 1 byte");
  if (o.size > (std::size_t{1} << 30)) detail::bad_option("--size", "at most 1 GiB");
  if (o.connect_concurrency == 0) detail::bad_option("--connect-concurrency", "at least 1");
  if (o.raw && o.mode == run_mode::handshake) detail::bad_option("--raw", "not in handshake mode");
  if (o.raw && o.deflate) detail::bad_option("--raw", "can't be combined with --deflate");
  if (o.timeout == 0) o.timeout = o.warmup + o.duration + 30;
  return true;
}

}  // namespace websockets::loadgen
