// What a case works with: the connection, its verdict, and the checks every
// case shares, written once for both ends the driver plays. A case sends
// what it likes, then says what it expects back (expect()), and ends with
// the closing handshake (close_normally()) or by expecting the peer to fail
// the connection (expect_failure()); who closes TCP, and when, is checked
// there, as RFC 6455 7.1.1 asks of each role.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conformance/endpoint.hpp"
#include "conformance/results.hpp"

namespace websockets::conformance {

// Sanitizer builds run the bulk cases lighter and wait longer.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool sanitized_build = true;
#else
inline constexpr bool sanitized_build = false;
#endif
inline constexpr int slowdown = sanitized_build ? 4 : 1;

// How long the driver waits for each thing it expects. None is a timing
// assertion: each bounds a wait for something that must happen, and only a
// peer that never does it runs into one.
struct waits {
  // For an answer the peer owes (an echo, a pong, a close frame).
  static constexpr milliseconds answer{10'000 * slowdown};
  // For the close that must come before the rest of a bad message is sent
  // (fail fast); past it the driver sends the rest and grades NON-STRICT.
  static constexpr milliseconds fail_fast{3'000 * slowdown};
  // For a server to close TCP after the closing handshake.
  static constexpr milliseconds tcp_close{5'000 * slowdown};
  // How long the driver, as a server, watches for a client that closes TCP
  // before the server does (RFC 6455 7.1.1 asks the client to wait).
  static constexpr milliseconds client_patience{20};
};

// One event a case expects.
struct expected {
  event::kind type;
  bool binary = false;
  std::string data;
};
inline expected text(std::string s) {
  return {event::kind::message, false, std::move(s)};
}
inline expected binary(std::string s) {
  return {event::kind::message, true, std::move(s)};
}
inline expected pong(std::string s) {
  return {event::kind::pong, false, std::move(s)};
}

inline std::string describe(const expected& e) {
  event as_event = event::of(e.type, e.data);
  as_event.binary = e.binary;
  return describe(as_event);
}

// Where two payloads first differ, for failure details.
inline std::string difference(std::string_view got, std::string_view want) {
  if (got.size() != want.size())
    return std::to_string(got.size()) + " bytes instead of " + std::to_string(want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i]) return "bytes differ from offset " + std::to_string(i);
  return {};
}

class case_context {
 public:
  case_context(endpoint& peer, verdict& v, clock::time_point deadline)
      : peer_(peer), v_(v), deadline_(deadline) {}

  endpoint& peer() noexcept { return peer_; }
  // The code of the peer's close frame, once one came.
  std::optional<std::uint16_t> close_code() const noexcept { return close_code_; }
  verdict& result() noexcept { return v_; }
  role self() const noexcept { return peer_.self(); }
  bool failed() const noexcept { return v_.failed(); }

  // A deadline `d` from now, but no later than the case's own.
  clock::time_point within(milliseconds d) const { return std::min(clock::now() + d, deadline_); }

  // ---- Sending (a broken connection ends the sending; the reads that
  // follow show why) -------------------------------------------------------

  // Once the driver sent a close frame, valid or not, it sends no other.
  bool send(const frame_spec& f, std::size_t chop = 0) {
    closing_ = closing_ || f.opcode == op::close;
    return peer_.send(f, within(waits::answer), chop);
  }
  bool send(std::initializer_list<frame_spec> frames, bool per_frame = false,
            std::size_t chop = 0) {
    return send_frames(std::span<const frame_spec>(frames.begin(), frames.size()), per_frame, chop);
  }
  bool send_frames(std::span<const frame_spec> frames, bool per_frame = false,
                   std::size_t chop = 0) {
    for (const auto& f : frames) closing_ = closing_ || f.opcode == op::close;
    return peer_.send(frames, within(waits::answer), per_frame, chop);
  }
  bool send_raw(std::string_view bytes, std::size_t chop = 0) {
    return peer_.send_raw(bytes, within(waits::answer), chop);
  }
  bool send_message(std::uint8_t opcode, std::string_view payload, std::size_t fragment = 0,
                    std::size_t chop = 0) {
    return peer_.send_message(opcode, payload, within(waits::answer), fragment, chop);
  }

  // ---- Receiving --------------------------------------------------------

  // The next event, waiting at most `wait`.
  event next(milliseconds wait = waits::answer) { return peer_.next_event(within(wait)); }

  // Reads as many events as `want` holds and checks each in order. Returns
  // false (the case failed) at the first one that differs.
  bool expect(std::span<const expected> want, milliseconds wait = waits::answer) {
    for (std::size_t i = 0; i < want.size(); ++i)
      if (!expect_one(next(wait), want[i], i, want.size())) return false;
    return true;
  }

  // Checks that `e`, the `i`th of `n` events, is `w`.
  bool expect_one(const event& e, const expected& w, std::size_t i, std::size_t n) {
    const bool same_kind =
        e.type == w.type && (e.type != event::kind::message || e.binary == w.binary);
    if (!same_kind) {
      v_.fail("expected " + describe(w) + " (event " + std::to_string(i + 1) + " of " +
              std::to_string(n) + "), got " + describe(e));
      return false;
    }
    if (e.data != w.data) {
      v_.fail(describe(w) + ": got " + difference(e.data, w.data));
      return false;
    }
    return true;
  }
  bool expect(std::initializer_list<expected> want, milliseconds wait = waits::answer) {
    return expect(std::span<const expected>(want.begin(), want.size()), wait);
  }

  // Ends a case in which the connection should still be open: sends a close
  // frame with `code` and `reason`, expects the peer's close frame with one
  // of `answers` (empty: `code` itself) and nothing before it, then checks
  // who closes TCP.
  void close_normally(std::uint16_t code = 1000, std::string_view reason = {},
                      std::vector<std::optional<std::uint16_t>> answers = {}) {
    if (failed()) return;
    if (answers.empty()) answers.push_back(code);
    send_close(close_payload(code, reason));
    expect_close_reply(answers, "our close " + std::to_string(code));
  }

  // Sends a close frame with `payload` as it is: the driver starts the
  // closing handshake.
  bool send_close(std::string_view payload) {
    closing_ = true;
    return send({op::close, payload});
  }

  // After send_close(): expects the peer's close frame, with a code among
  // `answers`, and nothing before it; then checks who closes TCP.
  // `first` is the next event when the case already read it.
  void expect_close_reply(const std::vector<std::optional<std::uint16_t>>& answers,
                          const std::string& what = "our close frame",
                          std::optional<event> first = std::nullopt) {
    if (failed()) return;
    const event e = first ? std::move(*first) : next();
    if (e.type != event::kind::close) {
      v_.fail("expected the close frame answering " + what + ", got " + describe(e));
      return;
    }
    close_code_ = e.code;
    bool known = false;
    for (const auto& a : answers) known = known || a == e.code;
    if (!known) {
      v_.fail("answered " + what + " with " + describe(e));
      return;
    }
    finish_tcp(e);
  }

  // Expects the peer to fail the connection with one of `codes`: first the
  // events of `before` (answers to what came before the fault), then a
  // close frame with that code, and nothing else. A peer that fails before
  // answering everything in `before` gets NON-STRICT, as in Autobahn. A
  // close with another code gets `other_code` (FAILED unless the RFC leaves
  // it open). `wait` bounds the wait for the close; returns false if none
  // came and `timeout_fails` is false (a fail-fast case then sends the
  // rest).
  bool expect_failure(std::initializer_list<std::uint16_t> codes,
                      std::span<const expected> before = {}, milliseconds wait = waits::answer,
                      bool timeout_fails = true, outcome other_code = outcome::failed) {
    if (failed()) return true;
    std::optional<event> early;  // the end, if it came before all of `before`
    for (std::size_t i = 0; i < before.size(); ++i) {
      event e = next();
      const bool end = e.type == event::kind::close || e.type == event::kind::eof ||
                       e.type == event::kind::reset;
      if (end) {
        v_.note(outcome::non_strict,
                "failed the connection before answering " + describe(before[i]));
        early = std::move(e);
        break;
      }
      if (!expect_one(e, before[i], i, before.size())) return true;
    }
    const event e = early ? std::move(*early) : next(wait);
    if (e.type == event::kind::timeout && !timeout_fails) return false;
    std::string want;
    for (auto c : codes) want += (want.empty() ? "" : " or ") + std::to_string(c);
    switch (e.type) {
      case event::kind::close: {
        close_code_ = e.code;
        bool ok = false;
        for (auto c : codes) ok = ok || e.code == c;
        if (!ok) v_.note(other_code, "expected close " + want + ", got " + describe(e));
        if (!failed()) finish_tcp(e);
        return true;
      }
      case event::kind::eof:
      case event::kind::reset:
        v_.note(outcome::non_strict, "dropped TCP without a close frame (" + describe(e) + ")");
        return true;
      default:
        v_.fail("expected close " + want + ", got " + describe(e));
        return true;
    }
  }

 private:
  // After the peer's close frame `e`: as a client, expect the server to
  // close TCP without waiting for us when it started the close, or after
  // our close frame; as a server, answer a close the client started, check
  // that it doesn't drop TCP first, and close TCP.
  void finish_tcp(const event& e) {
    peer_.wait_for_close(clock::now());  // takes what already came
    check_quiet_after_close();
    if (self() == role::client) {
      // Our close already went out when we started the handshake; when the
      // server failed the connection it must close TCP at once (RFC 6455
      // 7.1.7), without waiting for ours.
      const io_status s = peer_.wait_for_close(within(waits::tcp_close));
      check_quiet_after_close();
      if (s == io_status::eof) return;
      if (s == io_status::reset) {
        v_.note(outcome::non_strict, "the server reset TCP after its close frame");
        return;
      }
      if (!closing_) {
        closing_ = true;
        send({op::close, e.data});
        const io_status s2 = peer_.wait_for_close(within(waits::tcp_close));
        check_quiet_after_close();
        if (s2 != io_status::timeout) {
          v_.note(outcome::non_strict, "the server closed TCP only after our close frame");
          return;
        }
      }
      v_.fail("the server didn't close TCP after the closing handshake");
      return;
    }
    // As a server.
    const io_status s = peer_.wait_for_close(within(waits::client_patience));
    if (s != io_status::timeout)
      v_.note(outcome::non_strict,
              "the client closed TCP before the server did (" + std::string(to_string(s)) + ")");
    if (!closing_) send({op::close, e.data});
    closing_ = true;
    peer_.shutdown_write();
    // The client closes its end once it has read ours.
    const io_status end = peer_.wait_for_close(within(waits::tcp_close));
    check_quiet_after_close();
    if (end == io_status::timeout) v_.fail("the client didn't close TCP after the server did");
  }

  // Nothing may follow a close frame (RFC 6455 5.5.1).
  void check_quiet_after_close() {
    if (peer_.discarded() != 0 && !reported_after_close_) {
      reported_after_close_ = true;
      v_.fail("the peer sent " + std::to_string(peer_.discarded()) +
              " bytes after its close frame");
    }
  }

  endpoint& peer_;
  verdict& v_;
  clock::time_point deadline_;
  bool closing_ = false;
  bool reported_after_close_ = false;
  std::optional<std::uint16_t> close_code_;
};

// The permessage-deflate side of a compression case.
struct deflate_setup {
  // As a client: the Sec-WebSocket-Extensions header the driver offers,
  // and echo_server's answer, exactly (empty: it must decline).
  std::string offer;
  std::string expected_answer;
  // As a server: the driver's answer to the client's offer.
  std::string answer;
};

// One case of the catalogue, run the same way against both ends.
struct case_def {
  std::string id;
  std::string description;
  std::string expectation;
  std::function<void(case_context&)> run;
  // The best grade the case can get: informational for behaviour the RFC
  // leaves open.
  outcome floor = outcome::ok;
  // Set for the compression cases; the others negotiate no extension.
  std::optional<deflate_setup> deflate = std::nullopt;
  // The client under test must refuse the driver's handshake response.
  bool client_refuses = false;
};

}  // namespace websockets::conformance
