// One client connection of the load generator, driven by epoll readiness:
// a non-blocking connect, the opening handshake, a window of messages in
// flight whose echoes are checked as they stream in, and the closing
// handshake. Plain TCP (raw mode) skips the handshakes and the framing.
//
// Frames are built and parsed with the library's sans-I/O codec (frame.hpp,
// detail/mask.hpp, handshake.hpp, http.hpp, permessage_deflate.hpp). Without
// compression nothing is copied on either side but by the kernel: a message
// goes out as a header plus a pointer into the premasked payload text, and
// an echo is compared with the text straight from the read buffer, which
// every connection shares, so an idle connection holds a few hundred bytes.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "client_handshake.hpp"
#include "options.hpp"
#include "payload.hpp"
#include "websockets/detail/mask.hpp"
#include "websockets/extensions/extension.hpp"
#include "websockets/frame.hpp"
#include "websockets/http.hpp"

namespace websockets::loadgen {

// Nanoseconds on the monotonic clock.
inline std::uint64_t now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1000000000u + std::uint64_t(ts.tv_nsec);
}

// A failure of one connection; the run stops on the first.
class connection_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What every connection of a run shares.
struct run_context {
  const options& opts;
  const payload_source& payload;
  const client_extension_factory* deflate = nullptr;  // offered when not null
  sockaddr_storage address{};
  socklen_t address_size = 0;
  int epoll_fd = -1;
  std::vector<std::byte> read_buffer = std::vector<std::byte>(256 * 1024);
  std::uint64_t now = 0;  // when the bytes being processed were read
};

class connection;

// What a connection tells the run about.
class connection_events {
 public:
  virtual ~connection_events() = default;
  // The handshake completed (in raw mode: the TCP connection did).
  virtual void on_open(connection& c) = 0;
  // The echo of the oldest message in flight arrived whole and correct.
  virtual void on_echo(connection& c, std::uint64_t latency_ns) = 0;
  // The socket was closed, after the closing handshake or by abort().
  virtual void on_closed(connection& c) = 0;
};

class connection {
 public:
  enum class state { idle, connecting, handshaking, open, closing, awaiting_eof, closed };

  connection(run_context& ctx, connection_events& events, std::uint32_t id)
      : ctx_(ctx), events_(events), id_(id) {}
  ~connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  std::uint32_t id() const noexcept { return id_; }
  state current_state() const noexcept { return state_; }
  // When open() was last called, to time handshakes.
  std::uint64_t opened_at() const noexcept { return opened_at_; }
  // Messages sent whose echo hasn't arrived yet.
  std::size_t in_flight() const noexcept { return static_cast<std::size_t>(send_seq_ - recv_seq_); }
  // Echoes received on this connection.
  std::uint64_t echoes() const noexcept { return recv_seq_; }
  // When the oldest message in flight was sent; meaningful when in_flight().
  std::uint64_t oldest_sent_at() const noexcept {
    return ring_.empty() ? 0 : ring_[recv_seq_ % ring_.size()].sent_at;
  }
  // Whether another message fits in the window.
  bool can_send() const noexcept { return state_ == state::open && in_flight() < ring_.size(); }
  // The negotiated permessage-deflate codec, or null.
  const extension* compression() const noexcept { return deflate_.get(); }

  // Starts connecting a new socket, the connection being idle or closed.
  void open() {
    reset();
    opened_at_ = now_ns();
    fd_ = ::socket(ctx_.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) fail_errno("socket");
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&ctx_.address), ctx_.address_size) < 0 &&
        errno != EINPROGRESS)
      fail_errno("connect");
    state_ = state::connecting;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = this;
    if (::epoll_ctl(ctx_.epoll_fd, EPOLL_CTL_ADD, fd_, &ev) < 0) fail_errno("epoll_ctl");
    want_out_ = true;
  }

  // Queues the next message; the caller checks can_send(). It goes out on
  // the next flush(), which on_ready() does after handling what it read.
  void send_message() {
    outgoing& m = ring_[send_seq_ % ring_.size()];
    const payload_source& p = ctx_.payload;
    const std::size_t size = p.message_size();
    m.sent_at = ctx_.now;
    m.offset = p.offset_of(id_, send_seq_);
    m.body = nullptr;
    m.body_size = 0;
    std::size_t h = 0;
    if (ctx_.opts.raw) {
      p.write_sequence(send_seq_, m.head.data());
      h = p.digits();
      set_body(m, h, p.plain_at(m.offset + p.digits()), size - p.digits());
    } else if (deflate_) {
      m.owned.resize(size);
      p.write_payload(send_seq_, m.offset, reinterpret_cast<std::byte*>(m.owned.data()));
      frame f{.fin = true, .op = message_opcode(), .data = std::move(m.owned)};
      deflate_->encode(f);
      m.owned = std::move(f.data);
      auto* bytes = reinterpret_cast<std::byte*>(m.owned.data());
      websockets::detail::apply_mask(bytes, m.owned.size(), p.key());
      h = write_header(m.head.data(), f.rsv1, m.owned.size());
      set_body(m, h, bytes, m.owned.size());
    } else {
      h = write_header(m.head.data(), false, size);
      p.write_sequence(send_seq_, m.head.data() + h);
      websockets::detail::apply_mask(m.head.data() + h, p.digits(), p.key());
      h += p.digits();
      set_body(m, h, p.masked_at(m.offset + p.digits()), size - p.digits());
    }
    ++send_seq_;
  }

  // Writes what is queued, as far as the socket takes it.
  void flush() {
    while (fd_ >= 0 && (write_seq_ < send_seq_ || raw_out_pos_ < raw_out_.size())) {
      iovec iov[max_iov];
      std::uint64_t owner[max_iov];  // the message an iovec belongs to; raw_owner for raw_out_
      int count = 0;
      std::size_t total = 0;
      const auto add = [&](const void* data, std::size_t size, std::uint64_t who) {
        if (size == 0) return;
        iov[count] = {const_cast<void*>(data), size};
        owner[count++] = who;
        total += size;
      };
      std::uint64_t seq = write_seq_;
      // A message partly written goes first; control frames go between messages.
      if (written_ > 0) {
        add_message(add, seq, written_);
        ++seq;
      }
      if (raw_out_pos_ < raw_out_.size())
        add(raw_out_.data() + raw_out_pos_, raw_out_.size() - raw_out_pos_, raw_owner);
      for (; seq < send_seq_ && count + 2 <= max_iov; ++seq) add_message(add, seq, 0);

      const ssize_t n = ::writev(fd_, iov, count);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        fail_errno("write");
      }
      consume(static_cast<std::size_t>(n), iov, owner, count);
      if (static_cast<std::size_t>(n) < total) break;  // the socket's buffer is full
    }
    set_want_out(fd_ >= 0 && (write_seq_ < send_seq_ || raw_out_pos_ < raw_out_.size()));
  }

  // Starts the closing handshake: sends a close frame after the messages
  // already queued, then waits for the server's close frame and for it to
  // close the TCP connection. A connection that still has bytes to write,
  // and a raw one, is closed at once instead.
  void close() {
    if (state_ == state::connecting || state_ == state::handshaking || ctx_.opts.raw ||
        write_seq_ < send_seq_) {
      abort();
      return;
    }
    if (state_ != state::open) return;
    raw_out_ =
        serialize_frame(frame{.fin = true, .op = opcode::close, .data = serialize_close(1000, {})},
                        ctx_.payload.key());
    raw_out_pos_ = 0;
    state_ = state::closing;
    flush();
  }

  // Closes the socket at once, with a reset rather than a FIN.
  void abort() {
    if (fd_ < 0) return;
    const linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    finish();
  }

  // Handles epoll's readiness events for this connection's socket.
  void on_ready(std::uint32_t events) {
    if (fd_ < 0) return;
    if (state_ == state::connecting) {
      if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      finish_connect();
      return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_some();
    if (fd_ >= 0 && (events & EPOLLOUT)) flush();
  }

 private:
  static constexpr std::size_t small_message = 64;  // copied whole into the head
  static constexpr int max_iov = 64;
  static constexpr std::uint64_t raw_owner = UINT64_MAX;

  // One message in flight: its header (and, for a small message, all of
  // it), and where the rest of its bytes are.
  struct outgoing {
    std::uint64_t sent_at = 0;
    std::size_t offset = 0;  // of its payload in the payload text
    std::array<std::byte, max_frame_header_size + small_message> head;
    std::size_t head_size = 0;
    const std::byte* body = nullptr;
    std::size_t body_size = 0;
    std::string owned;  // the compressed payload, when compression is on
  };

  static void set_body(outgoing& m, std::size_t head_size, const std::byte* body,
                       std::size_t body_size) noexcept {
    if (body_size <= small_message) {
      std::memcpy(m.head.data() + head_size, body, body_size);
      m.head_size = head_size + body_size;
    } else {
      m.head_size = head_size;
      m.body = body;
      m.body_size = body_size;
    }
  }

  opcode message_opcode() const noexcept { return ctx_.opts.text ? opcode::text : opcode::binary; }

  // Writes a masked data frame header for a payload of `length` bytes.
  std::size_t write_header(std::byte* out, bool rsv1, std::size_t length) const noexcept {
    frame_header h;
    h.fin = true;
    h.rsv1 = rsv1;
    h.opcode = static_cast<std::uint8_t>(message_opcode());
    h.masked = true;
    h.length = length;
    h.mask = ctx_.payload.key();
    return serialize_frame_header(h, out);
  }

  template <class Add>
  void add_message(Add& add, std::uint64_t seq, std::size_t skip) const {
    const outgoing& m = ring_[seq % ring_.size()];
    if (skip < m.head_size) {
      add(m.head.data() + skip, m.head_size - skip, seq);
      skip = 0;
    } else {
      skip -= m.head_size;
    }
    add(m.body + skip, m.body_size - skip, seq);
  }

  // Advances past `n` bytes written from the iovecs.
  void consume(std::size_t n, const iovec* iov, const std::uint64_t* owner, int count) {
    for (int i = 0; i < count && n > 0; ++i) {
      const std::size_t take = n < iov[i].iov_len ? n : iov[i].iov_len;
      n -= take;
      if (owner[i] == raw_owner) {
        raw_out_pos_ += take;
        if (raw_out_pos_ == raw_out_.size()) {
          raw_out_.clear();
          raw_out_pos_ = 0;
        }
        continue;
      }
      written_ += take;
      const outgoing& m = ring_[write_seq_ % ring_.size()];
      if (written_ == m.head_size + m.body_size) {
        ++write_seq_;
        written_ = 0;
      }
    }
  }

  void set_want_out(bool want) {
    if (want == want_out_ || fd_ < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.ptr = this;
    if (::epoll_ctl(ctx_.epoll_fd, EPOLL_CTL_MOD, fd_, &ev) < 0) fail_errno("epoll_ctl");
    want_out_ = want;
  }

  void finish_connect() {
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      errno = error;
      fail_errno("connect to " + ctx_.opts.host + ":" + std::to_string(ctx_.opts.port));
    }
    ring_.resize(ctx_.opts.mode == run_mode::echo ? ctx_.opts.window : 1);
    if (ctx_.opts.raw) {
      state_ = state::open;
      set_want_out(false);
      events_.on_open(*this);
      flush();
      return;
    }
    auto request =
        make_handshake_request(ctx_.opts.host, ctx_.opts.port, ctx_.opts.path, ctx_.deflate);
    raw_out_ = std::move(request.bytes);
    raw_out_pos_ = 0;
    key_ = std::move(request.key);
    parser_ = std::make_unique<http_response_parser>();
    state_ = state::handshaking;
    flush();
  }

  void read_some() {
    std::byte* buffer = ctx_.read_buffer.data();
    const ssize_t n = ::read(fd_, buffer, ctx_.read_buffer.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      fail_errno("read");
    }
    if (n == 0) {
      on_eof();
      return;
    }
    ctx_.now = now_ns();
    const std::byte* data = buffer;
    std::size_t size = static_cast<std::size_t>(n);
    if (state_ == state::handshaking) {
      const std::size_t used =
          parser_->feed(std::string_view(reinterpret_cast<const char*>(data), size));
      if (!parser_->head_complete()) return;
      on_handshake_response();
      data += used;
      size -= used;
    }
    if (ctx_.opts.raw) {
      receive_raw(data, size);
    } else {
      receive_frames(data, size);
    }
    if (fd_ >= 0) flush();
  }

  void on_handshake_response() {
    try {
      deflate_ = check_handshake_response(parser_->message(), key_, ctx_.deflate);
    } catch (const std::exception& e) {
      fail(std::string("handshake failed: ") + e.what());
    }
    parser_.reset();
    key_.clear();
    state_ = state::open;
    events_.on_open(*this);
  }

  void on_eof() {
    if (state_ == state::awaiting_eof) {
      finish();
      return;
    }
    fail(state_ == state::handshaking ? "the server closed the connection during the handshake"
                                      : "the server closed the connection without a closing "
                                        "handshake");
  }

  // Closes the socket and tells the run.
  void finish() {
    ::close(fd_);
    fd_ = -1;
    state_ = state::closed;
    events_.on_closed(*this);
  }

  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    state_ = state::idle;
    send_seq_ = write_seq_ = recv_seq_ = 0;
    written_ = 0;
    raw_out_.clear();
    raw_out_pos_ = 0;
    stash_size_ = 0;
    in_frame_ = false;
    in_message_ = false;
    received_ = 0;
    frame_data_.clear();
    control_data_.clear();
    deflate_.reset();
    parser_.reset();
    want_out_ = false;
  }

  // Raw mode: the echo is a byte stream; messages are cut by size.
  void receive_raw(const std::byte* data, std::size_t size) {
    const std::size_t message_size = ctx_.payload.message_size();
    while (size > 0 && fd_ >= 0) {
      if (recv_seq_ == send_seq_) fail("the server sent bytes that weren't sent to it");
      const std::size_t take = size < message_size - received_ ? size : message_size - received_;
      check_payload(data, take);
      data += take;
      size -= take;
      if (received_ == message_size) finish_message();
    }
  }

  void receive_frames(const std::byte* data, std::size_t size) {
    while (size > 0 && fd_ >= 0) {
      if (!in_frame_) {
        std::size_t used = 0;
        if (!read_header(data, size, used)) return;
        data += used;
        size -= used;
        start_frame();
        if (frame_left_ == 0) end_frame();
        continue;
      }
      const std::size_t take = size < frame_left_ ? size : static_cast<std::size_t>(frame_left_);
      on_payload(data, take);
      data += take;
      size -= take;
      frame_left_ -= take;
      if (frame_left_ == 0) end_frame();
    }
  }

  // Parses the next frame header, across reads if need be: returns false
  // when more bytes are needed (the ones there are kept), else sets `used`
  // to the bytes of `data` it took.
  bool read_header(const std::byte* data, std::size_t size, std::size_t& used) {
    try {
      if (stash_size_ == 0) {
        used = parse_frame_header(std::span(data, size), header_);
        if (used != 0) return true;
        std::memcpy(stash_.data(), data, size);  // a header is at most 14 bytes
        stash_size_ = size;
        return false;
      }
      const std::size_t old = stash_size_;
      const std::size_t add = size < stash_.size() - old ? size : stash_.size() - old;
      std::memcpy(stash_.data() + old, data, add);
      stash_size_ = old + add;
      const std::size_t header_size =
          parse_frame_header(std::span(stash_.data(), stash_size_), header_);
      if (header_size == 0) return false;
      used = header_size - old;
      stash_size_ = 0;
      return true;
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }

  void start_frame() {
    const frame_header& h = header_;
    if (h.masked) fail("the server sent a masked frame");
    if (h.rsv2 || h.rsv3) fail("the server set RSV2 or RSV3");
    if (!is_known_opcode(h.opcode))
      fail("the server sent reserved opcode " + std::to_string(h.opcode));
    const auto op = static_cast<opcode>(h.opcode);
    if (h.rsv1 && (!deflate_ || (op != opcode::text && op != opcode::binary)))
      fail(std::string("RSV1 set on a ") + std::string(opcode_name(op)) + " frame");
    in_frame_ = true;
    frame_left_ = h.length;
    if (is_control(op)) {
      if (!h.fin || h.length > max_control_payload) fail("invalid control frame");
      control_data_.clear();
      return;
    }
    const std::size_t message_size = ctx_.payload.message_size();
    if (op == opcode::cont) {
      if (!in_message_) fail("continuation frame outside a message");
    } else {
      if (in_message_) fail("new message before the end of the previous one");
      if (recv_seq_ == send_seq_) fail("the server sent a message that wasn't sent to it");
      if (op != message_opcode())
        fail("the echo of message " + std::to_string(recv_seq_) + " is " +
             std::string(opcode_name(op)) + ", the message was " +
             std::string(opcode_name(message_opcode())));
      in_message_ = true;
      received_ = 0;
    }
    // Bounds what is buffered: no echo is longer than what was sent, and
    // DEFLATE expands nothing by more than a few bytes per block.
    const std::uint64_t limit =
        deflate_ ? message_size + message_size / 8 + 1024 : message_size - received_;
    if (h.length > limit)
      fail("a frame of " + std::to_string(h.length) + " bytes for the echo of message " +
           std::to_string(recv_seq_) + ", which had " + std::to_string(message_size));
  }

  void on_payload(const std::byte* data, std::size_t size) {
    const auto op = static_cast<opcode>(header_.opcode);
    if (is_control(op)) {
      control_data_.append(reinterpret_cast<const char*>(data), size);
    } else if (deflate_) {
      frame_data_.append(reinterpret_cast<const char*>(data), size);
    } else {
      check_payload(data, size);
    }
  }

  void end_frame() {
    in_frame_ = false;
    const auto op = static_cast<opcode>(header_.opcode);
    if (is_control(op)) {
      on_control(op);
      return;
    }
    if (deflate_) {
      frame f{.fin = header_.fin, .rsv1 = header_.rsv1, .op = op, .data = std::move(frame_data_)};
      try {
        deflate_->decode(f, ctx_.payload.message_size() - received_);
      } catch (const std::exception& e) {
        fail("the echo of message " + std::to_string(recv_seq_) +
             " doesn't decompress: " + e.what());
      }
      check_payload(reinterpret_cast<const std::byte*>(f.data.data()), f.data.size());
      frame_data_ = std::move(f.data);
      frame_data_.clear();
    }
    if (header_.fin) finish_message();
  }

  void on_control(opcode op) {
    if (op == opcode::ping) {
      // Answered after the message being written, if any.
      raw_out_.erase(0, raw_out_pos_);
      raw_out_pos_ = 0;
      raw_out_ += serialize_frame(frame{.fin = true, .op = opcode::pong, .data = control_data_},
                                  ctx_.payload.key());
    } else if (op == opcode::close) {
      if (state_ != state::closing) {
        std::string why = "the server closed the connection";
        try {
          auto [code, reason] = parse_close(control_data_);
          why += " with code " + std::to_string(code) + (reason.empty() ? "" : " (" + reason + ")");
        } catch (const std::exception&) {
        }
        fail(why);
      }
      try {
        parse_close(control_data_);
      } catch (const std::exception& e) {
        fail(std::string("invalid close frame: ") + e.what());
      }
      state_ = state::awaiting_eof;
    }
  }

  // Checks the next bytes of the echo of the oldest message in flight.
  void check_payload(const std::byte* data, std::size_t size) {
    const std::size_t message_size = ctx_.payload.message_size();
    if (size > message_size - received_)
      fail("the echo of message " + std::to_string(recv_seq_) + " is longer than the " +
           std::to_string(message_size) + " bytes sent");
    const outgoing& m = ring_[recv_seq_ % ring_.size()];
    const std::size_t at = ctx_.payload.compare(recv_seq_, m.offset, received_, data, size);
    if (at != size)
      fail("the echo of message " + std::to_string(recv_seq_) + " differs from it at byte " +
           std::to_string(received_ + at));
    received_ += size;
  }

  void finish_message() {
    const std::size_t message_size = ctx_.payload.message_size();
    if (received_ != message_size)
      fail("the echo of message " + std::to_string(recv_seq_) + " has " +
           std::to_string(received_) + " bytes, the message had " + std::to_string(message_size));
    const std::uint64_t latency = ctx_.now - ring_[recv_seq_ % ring_.size()].sent_at;
    in_message_ = false;
    received_ = 0;
    ++recv_seq_;
    events_.on_echo(*this, latency);
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw connection_error("connection " + std::to_string(id_) + ": " + what);
  }

  [[noreturn]] void fail_errno(const std::string& what) const {
    fail(what + ": " + std::strerror(errno));
  }

  run_context& ctx_;
  connection_events& events_;
  std::uint32_t id_;
  int fd_ = -1;
  state state_ = state::idle;
  bool want_out_ = false;
  std::uint64_t opened_at_ = 0;

  // Handshake.
  std::string key_;
  std::unique_ptr<http_response_parser> parser_;
  std::unique_ptr<extension> deflate_;

  // Sending: messages [recv_seq_, send_seq_) are in flight, and
  // [write_seq_, send_seq_) not wholly written yet, the first of them up to
  // written_ bytes. raw_out_ holds the handshake request and control frames.
  std::vector<outgoing> ring_;
  std::uint64_t send_seq_ = 0;
  std::uint64_t write_seq_ = 0;
  std::uint64_t recv_seq_ = 0;
  std::size_t written_ = 0;
  std::string raw_out_;
  std::size_t raw_out_pos_ = 0;

  // Receiving.
  std::array<std::byte, max_frame_header_size> stash_{};  // a header cut by a read
  std::size_t stash_size_ = 0;
  frame_header header_{};
  bool in_frame_ = false;
  std::uint64_t frame_left_ = 0;
  bool in_message_ = false;
  std::size_t received_ = 0;  // payload bytes of the echo being received, decoded
  std::string frame_data_;    // a compressed data frame being received
  std::string control_data_;  // a control frame being received
};

}  // namespace websockets::loadgen
