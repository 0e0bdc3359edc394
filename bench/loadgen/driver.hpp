// One run of the load generator: the epoll loop over all its connections
// and the run's phases (open the connections, warm up, measure, close), for
// the three modes: echo, handshake and hold.
#pragma once

#include <netdb.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "connection.hpp"
#include "latency_histogram.hpp"
#include "options.hpp"
#include "payload.hpp"
#include "process_stats.hpp"
#include "websockets/detail/random.hpp"
#include "websockets/extensions/permessage_deflate.hpp"

namespace websockets::loadgen {

// What a run measured.
struct run_result {
  double seconds = 0;         // the measured interval
  std::uint64_t count = 0;    // echoes, or handshake cycles, in it
  std::uint64_t bytes = 0;    // payload bytes echoed in it
  latency_histogram latency;  // per echo, or per handshake cycle (connect to close)
  double loadgen_cpu = 0;     // CPU seconds in the interval
  std::optional<double> server_cpu;
  const char* server_cpu_source = "none";
  std::string compression = "none";  // what the server agreed to
  // Hold mode: the server's resident memory, in KiB.
  std::optional<std::uint64_t> rss_before, rss_open, rss_echo;
};

class load_driver final : public connection_events {
 public:
  explicit load_driver(const options& o)
      : opts_(o), payload_(o.size, random_key()), ctx_{.opts = o, .payload = payload_} {
    resolve();
    if (o.deflate) ctx_.deflate = &deflate_factory_;
    ctx_.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (ctx_.epoll_fd < 0)
      throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    connections_.reserve(o.connections);
    for (std::size_t i = 0; i < o.connections; ++i)
      connections_.push_back(
          std::make_unique<connection>(ctx_, *this, static_cast<std::uint32_t>(i)));
  }

  ~load_driver() override {
    connections_.clear();
    if (ctx_.epoll_fd >= 0) ::close(ctx_.epoll_fd);
  }

  load_driver(const load_driver&) = delete;
  load_driver& operator=(const load_driver&) = delete;

  // Runs to the end; throws connection_error or std::runtime_error on the
  // first failure, and when the run exceeds its timeout.
  run_result& run() {
    const std::uint64_t start = now_ns();
    hard_deadline_ = start + seconds_ns(opts_.timeout);
    result_.rss_before = process_rss_kib(opts_.server_pid);
    if (opts_.mode == run_mode::handshake) begin_warmup(start);
    open_more();
    std::array<epoll_event, 1024> events;
    while (phase_ != phase::done) {
      const std::uint64_t now = now_ns();
      const std::uint64_t deadline = std::min({next_deadline_, hard_deadline_, next_stall_check_});
      const int timeout_ms =
          deadline <= now ? 0 : static_cast<int>((deadline - now + 999999) / 1000000);
      const int n =
          ::epoll_wait(ctx_.epoll_fd, events.data(), static_cast<int>(events.size()), timeout_ms);
      if (n < 0 && errno != EINTR)
        throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
      for (int i = 0; i < n; ++i)
        static_cast<connection*>(events[i].data.ptr)->on_ready(events[i].events);
      for (connection* c : reopen_) open_one(*c);
      reopen_.clear();
      open_more();
      advance(now_ns());
    }
    return result_;
  }

 private:
  enum class phase {
    opening,
    settle_open,
    echoing,
    settle_echo,
    warmup,
    measuring,
    holding,
    draining,
    done
  };

  static std::uint64_t seconds_ns(double s) { return static_cast<std::uint64_t>(s * 1e9); }

  static websockets::detail::mask_key random_key() {
    websockets::detail::mask_key key;
    websockets::detail::fill_random(key);
    return key;
  }

  void resolve() {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc =
        ::getaddrinfo(opts_.host.c_str(), std::to_string(opts_.port).c_str(), &hints, &found);
    if (rc != 0 || !found)
      throw std::runtime_error("can't resolve " + opts_.host + ": " + ::gai_strerror(rc));
    std::memcpy(&ctx_.address, found->ai_addr, found->ai_addrlen);
    ctx_.address_size = found->ai_addrlen;
    ::freeaddrinfo(found);
  }

  // Starts opening connections, at most connect_concurrency at a time.
  void open_more() {
    if (phase_ != phase::opening && phase_ != phase::warmup && phase_ != phase::measuring) return;
    if (opts_.mode == run_mode::handshake && phase_ == phase::opening) return;
    while (next_open_ < connections_.size() && opening_ < opts_.connect_concurrency)
      open_one(*connections_[next_open_++]);
  }

  void open_one(connection& c) {
    c.open();
    ++opening_;
    ++active_;
  }

  void on_open(connection& c) override {
    --opening_;
    ++open_count_;
    if (result_.compression == "none" && c.compression())
      result_.compression = describe(*c.compression());
    switch (opts_.mode) {
      case run_mode::handshake:
        c.close();
        return;
      case run_mode::echo:
        if (open_count_ == connections_.size()) {
          ctx_.now = now_ns();  // the send time of the first messages
          if (opts_.warmup > 0) {
            begin_warmup(now_ns());
          } else {
            begin_measuring(now_ns());
          }
          for (auto& each : connections_) {
            fill_window(*each);
            each->flush();
          }
        }
        return;
      case run_mode::hold:
        if (open_count_ == connections_.size()) set_phase(phase::settle_open, now_ns() + settle_ns);
        return;
    }
  }

  void on_echo(connection& c, std::uint64_t latency_ns) override {
    --in_flight_;
    if (phase_ == phase::measuring) {
      ++result_.count;
      result_.bytes += opts_.size;
      result_.latency.record(latency_ns);
      if (opts_.messages > 0 && result_.count == opts_.messages) {
        end_measuring(ctx_.now);
        return;
      }
    }
    if (opts_.mode == run_mode::hold) {
      if (c.echoes() < opts_.hold_messages) {
        send(c);
      } else if (++echoed_ == connections_.size()) {
        set_phase(phase::settle_echo, ctx_.now + settle_ns);
      }
      return;
    }
    fill_window(c);
  }

  void on_closed(connection& c) override {
    --active_;
    if (opts_.mode != run_mode::handshake) return;
    if (phase_ != phase::warmup && phase_ != phase::measuring) return;
    // One cycle done: connect, opening handshake, closing handshake.
    const std::uint64_t now = now_ns();
    if (phase_ == phase::measuring) {
      ++result_.count;
      result_.latency.record(now - c.opened_at());
      if (opts_.messages > 0 && result_.count >= opts_.messages) {
        end_measuring(now);
        return;
      }
    }
    if (opts_.messages == 0 || phase_ == phase::warmup ||
        result_.count + (active_ - opening_) < opts_.messages)
      reopen_.push_back(&c);
  }

  // Keeps `window` messages in flight on `c`, while the run sends.
  void fill_window(connection& c) {
    if (phase_ != phase::warmup && phase_ != phase::measuring) return;
    while (c.can_send()) {
      if (opts_.messages > 0 && phase_ == phase::measuring &&
          result_.count + in_flight_ >= opts_.messages)
        return;
      send(c);
    }
  }

  void send(connection& c) {
    c.send_message();
    ++in_flight_;
  }

  void set_phase(phase p, std::uint64_t deadline) {
    phase_ = p;
    next_deadline_ = deadline;
  }

  void begin_warmup(std::uint64_t now) { set_phase(phase::warmup, now + seconds_ns(opts_.warmup)); }

  void begin_measuring(std::uint64_t now) {
    const std::uint64_t end = opts_.messages > 0 ? UINT64_MAX : now + seconds_ns(opts_.duration);
    set_phase(phase::measuring, end);
    measure_start_ = now;
    cpu_start_ = self_cpu_seconds();
    server_start_ = process_cpu_seconds(opts_.server_pid);
  }

  void end_measuring(std::uint64_t now) {
    result_.seconds = double(now - measure_start_) / 1e9;
    result_.loadgen_cpu = self_cpu_seconds() - cpu_start_;
    const process_cpu server_end = process_cpu_seconds(opts_.server_pid);
    if (server_start_.source != std::string_view("none") &&
        server_end.source == std::string_view(server_start_.source)) {
      result_.server_cpu = server_end.seconds - server_start_.seconds;
      result_.server_cpu_source = server_end.source;
    }
    // A lost echo stalls its connection, which the others would hide: no
    // message may have waited much longer than the slowest echo measured.
    if (opts_.mode == run_mode::echo) {
      const std::uint64_t limit = std::max<std::uint64_t>(500'000'000, 4 * result_.latency.max());
      for (auto& c : connections_) {
        if (c->in_flight() > 0 && now - c->oldest_sent_at() > limit)
          throw connection_error(
              "connection " + std::to_string(c->id()) + ": message " + std::to_string(c->echoes()) +
              " has awaited its echo for " + std::to_string((now - c->oldest_sent_at()) / 1000000) +
              " ms, over 4 times the slowest echo measured: lost by the server?");
      }
    }
    begin_draining(now);
  }

  // Fails the run when a message has awaited its echo for stall_ns.
  void check_stalls(std::uint64_t now) {
    next_stall_check_ = now + stall_check_ns;
    if (opts_.mode != run_mode::echo && opts_.mode != run_mode::hold) return;
    if (phase_ == phase::draining || phase_ == phase::done) return;
    for (auto& c : connections_) {
      if (c->in_flight() > 0 && now - c->oldest_sent_at() > stall_ns)
        throw connection_error("connection " + std::to_string(c->id()) + ": no echo of message " +
                               std::to_string(c->echoes()) + " after " +
                               std::to_string(stall_ns / 1000000000) + " s");
    }
  }

  // Closes every connection: a closing handshake where nothing is left to
  // write, a reset elsewhere; those that haven't closed in time are reset.
  void begin_draining(std::uint64_t now) {
    set_phase(phase::draining, now + drain_ns);
    reopen_.clear();
    for (auto& c : connections_) c->close();
    if (active_ == 0) phase_ = phase::done;
  }

  // Moves on when the time has come, or the connections are all closed.
  void advance(std::uint64_t now) {
    if (now >= next_stall_check_) check_stalls(now);
    if (phase_ == phase::draining && active_ == 0) {
      phase_ = phase::done;
      return;
    }
    if (now >= hard_deadline_) {
      if (phase_ == phase::draining) {
        for (auto& c : connections_) c->abort();
        phase_ = phase::done;
        return;
      }
      throw std::runtime_error("the run didn't finish within its timeout of " +
                               std::to_string(opts_.timeout) + " s (" +
                               std::to_string(open_count_) + " connections opened, " +
                               std::to_string(result_.count) + " measured)");
    }
    if (now < next_deadline_) return;
    switch (phase_) {
      case phase::warmup:
        begin_measuring(now);
        return;
      case phase::measuring:
        end_measuring(now);
        return;
      case phase::settle_open:
        result_.rss_open = process_rss_kib(opts_.server_pid);
        if (opts_.hold_messages == 0) {
          begin_holding(now);
          return;
        }
        set_phase(phase::echoing, UINT64_MAX);
        ctx_.now = now;
        for (auto& c : connections_) {
          send(*c);
          c->flush();
        }
        return;
      case phase::settle_echo:
        result_.rss_echo = process_rss_kib(opts_.server_pid);
        begin_holding(now);
        return;
      case phase::holding:
        result_.seconds = double(now - measure_start_) / 1e9;
        begin_draining(now);
        return;
      case phase::draining:
        for (auto& c : connections_) c->abort();
        phase_ = phase::done;
        return;
      default:
        return;
    }
  }

  void begin_holding(std::uint64_t now) {
    measure_start_ = now;
    set_phase(phase::holding, now + seconds_ns(opts_.duration));
  }

  static std::string describe(const extension& e) {
    std::string out(e.name());
    if (const auto* pmd = dynamic_cast<const permessage_deflate*>(&e)) {
      const deflate_settings& s = pmd->settings();
      out += " (server window " + std::to_string(s.remote_max_window_bits) + " bits" +
             (s.remote_no_context_takeover ? ", no context takeover" : "") + ", client window " +
             std::to_string(s.local_max_window_bits) + " bits" +
             (s.local_no_context_takeover ? ", no context takeover" : "") + ")";
    }
    return out;
  }

  static constexpr std::uint64_t settle_ns = 300'000'000;  // for the server to finish its work
  static constexpr std::uint64_t drain_ns = 3'000'000'000;
  static constexpr std::uint64_t stall_ns = 20'000'000'000;  // far above any round trip here
  static constexpr std::uint64_t stall_check_ns = 1'000'000'000;

  const options& opts_;
  payload_source payload_;
  // The client compresses at zlib's fastest level, so that the load
  // generator's DEFLATE costs less than the server's; what the server
  // decompresses is no less real for it.
  client_permessage_deflate deflate_factory_{{.compression_level = 1, .mem_level = 8}};
  run_context ctx_;
  std::vector<std::unique_ptr<connection>> connections_;
  std::vector<connection*> reopen_;
  run_result result_;

  phase phase_ = phase::opening;
  std::uint64_t next_deadline_ = UINT64_MAX;
  std::uint64_t hard_deadline_ = UINT64_MAX;
  std::uint64_t measure_start_ = 0;
  double cpu_start_ = 0;
  process_cpu server_start_;
  std::size_t next_open_ = 0;  // connections_[next_open_] is the next to open
  std::size_t opening_ = 0;    // opened, handshake not done
  std::size_t active_ = 0;     // opened, not closed
  std::size_t open_count_ = 0;
  std::size_t echoed_ = 0;       // hold mode: connections done echoing
  std::uint64_t in_flight_ = 0;  // messages sent, echo not received
  std::uint64_t next_stall_check_ = 0;
};

}  // namespace websockets::loadgen
