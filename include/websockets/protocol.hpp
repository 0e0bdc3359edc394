// The connection state machine of RFC 6455 sections 5 to 7, without I/O.
//
// A `protocol` object sits between a byte stream and the application once
// the opening handshake is done. Bytes received from the peer go in with
// prepare()/commit() or receive_data(); next_event() then parses them into
// events (a whole message, a ping, a pong, a close frame). Frames to send go
// in with send_data(), send_ping(), send_close()...; take_output() hands the
// bytes to write, and should_close_transport() says when the TCP connection
// must be closed. Everything the RFC asks of an endpoint that doesn't need a
// clock happens here: reassembling fragments, checking every frame, answering
// pings and close frames, enforcing max_size before buffering a payload,
// failing the connection with the right close code, and never sending
// anything after a close frame. Timers (keepalive, close timeout) belong to
// the I/O layer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "websockets/close_code.hpp"
#include "websockets/detail/mask.hpp"
#include "websockets/detail/random.hpp"
#include "websockets/detail/string_pool.hpp"
#include "websockets/exceptions.hpp"
#include "websockets/extensions/extension.hpp"
#include "websockets/frame.hpp"
#include "websockets/utf8.hpp"

namespace websockets {

// Which end of the connection this is: clients mask what they send and
// expect unmasked frames; servers the reverse.
enum class role : std::uint8_t { client, server };

// The state of the connection after the opening handshake (RFC 6455 4 and 7).
enum class connection_state : std::uint8_t {
  open,     // messages flow both ways
  closing,  // a close frame was sent or received; waiting for the rest
  closed,   // the TCP connection is gone
};

// How far the closing handshake got (protocol::closing_progress()): the I/O
// layer bounds each step with its close timeout.
enum class closing_step : std::uint8_t {
  none,       // no close frame yet
  failing,    // the peer broke the protocol; the close frame waits (defer_failure())
  handshake,  // one close frame sent or received, waiting for the other
  transport,  // both exchanged, or the connection failed: waiting for TCP to close
};

// What next_event() reports.
struct event {
  enum class kind : std::uint8_t {
    message,  // a whole data message: `op` is text or binary, `data` the payload
    ping,     // a ping; the protocol already queued the pong that answers it
    pong,     // a pong
    close,    // the peer's close frame; see protocol::close_rcvd()
  };
  kind type = kind::message;
  opcode op = opcode::text;
  std::string data;
};

// A close frame's contents.
struct close_frame {
  std::uint16_t code = code_of(close_code::no_status_received);
  std::string reason;
};

// Bytes ready to be written, as a list of contiguous pieces. Most pieces
// point into `bytes`; a large payload sent with send_data(..., borrow = true)
// is referenced where it lies, so it isn't copied.
class output_batch {
 public:
  // The pieces to write, in order, for a gather write.
  const std::vector<std::span<const std::byte>>& pieces() const noexcept { return pieces_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Drops the pieces; keeps the capacity for the next batch.
  void clear() noexcept {
    bytes_.clear();
    borrowed_.clear();
    pieces_.clear();
    size_ = 0;
  }

  // Drops the pieces and hands a large buffer back to the per-thread pool,
  // so that an idle connection holds none.
  void release_storage() noexcept {
    clear();
    if (bytes_.capacity() > detail::string_pool::worth_pooling)
      detail::string_pool::give(std::move(bytes_));
  }

 private:
  friend class protocol;

  struct borrowed_piece {
    std::size_t at;  // offset in bytes_ where the piece goes
    std::span<const std::byte> data;
  };

  void build_pieces() {
    pieces_.clear();
    const auto* base = reinterpret_cast<const std::byte*>(bytes_.data());
    std::size_t from = 0;
    for (const auto& b : borrowed_) {
      if (b.at > from) pieces_.emplace_back(base + from, b.at - from);
      if (!b.data.empty()) pieces_.push_back(b.data);
      from = b.at;
    }
    if (bytes_.size() > from) pieces_.emplace_back(base + from, bytes_.size() - from);
    size_ = 0;
    for (const auto& p : pieces_) size_ += p.size();
  }

  std::string bytes_;
  std::vector<borrowed_piece> borrowed_;
  std::vector<std::span<const std::byte>> pieces_;
  std::size_t size_ = 0;
};

class protocol {
 public:
  // `max_size` bounds the size of a received message (std::nullopt: no
  // limit); `extensions` are those negotiated in the opening handshake, in
  // the order the handshake listed them.
  explicit protocol(role r, std::optional<std::size_t> max_size = std::size_t{1} << 20,
                    std::vector<std::unique_ptr<extension>> extensions = {})
      : role_(r), max_size_(max_size), extensions_(std::move(extensions)) {
    for (const auto& e : extensions_) {
      const auto bits = e->rsv_bits();
      allowed_rsv1_ |= bits.rsv1;
      allowed_rsv2_ |= bits.rsv2;
      allowed_rsv3_ |= bits.rsv3;
    }
  }

  protocol(protocol&&) noexcept = default;
  protocol& operator=(protocol&&) noexcept = default;

  // ---- Observers --------------------------------------------------------

  websockets::role side() const noexcept { return role_; }
  connection_state state() const noexcept { return state_; }
  std::optional<std::size_t> max_size() const noexcept { return max_size_; }
  const std::vector<std::unique_ptr<extension>>& extensions() const noexcept { return extensions_; }

  // The close frame received from the peer, if one was.
  const std::optional<close_frame>& close_rcvd() const noexcept { return close_rcvd_; }
  // The close frame this side sent, if one was.
  const std::optional<close_frame>& close_sent() const noexcept { return close_sent_; }
  // Whether the close frame was received before this side sent its own.
  bool close_rcvd_then_sent() const noexcept { return close_rcvd_then_sent_; }

  closing_step closing_progress() const noexcept {
    if ((close_sent_ && close_rcvd_) || !failure_.empty()) return closing_step::transport;
    if (pending_failure_) return closing_step::failing;
    if (close_sent_ || close_rcvd_) return closing_step::handshake;
    return closing_step::none;
  }

  // Why this side failed the connection (a protocol error by the peer, a
  // message too big...), empty if it didn't.
  const std::string& failure() const noexcept { return failure_; }

  // The close code an application sees: that of the peer's close frame, or
  // 1006 when the connection ended without one (RFC 6455 7.1.5).
  std::uint16_t close_code() const noexcept {
    return close_rcvd_ ? close_rcvd_->code : code_of(close_code::abnormal_closure);
  }
  std::string_view close_reason() const noexcept {
    return close_rcvd_ ? std::string_view(close_rcvd_->reason) : std::string_view();
  }

  // Whether the connection closed normally: both close frames exchanged,
  // the peer's with 1000 or 1001, and no failure.
  bool closed_ok() const noexcept {
    return close_rcvd_ && close_sent_ && failure_.empty() &&
           (close_rcvd_->code == code_of(close_code::normal_closure) ||
            close_rcvd_->code == code_of(close_code::going_away));
  }

  // The exception that describes how the connection closed, for an
  // operation attempted after that: connection_closed_ok when the peer
  // closed with 1000 or 1001 (or both sides agreed), connection_closed_error
  // otherwise.
  std::exception_ptr closed_exception() const {
    std::optional<std::uint16_t> rc;
    std::string rr;
    if (close_rcvd_) rc = close_rcvd_->code, rr = close_rcvd_->reason;
    std::optional<std::uint16_t> sc;
    std::string sr;
    if (close_sent_) sc = close_sent_->code, sr = close_sent_->reason;
    if (closed_ok()) return std::make_exception_ptr(connection_closed_ok(rc, rr, sc, sr));
    return std::make_exception_ptr(connection_closed_error(rc, rr, sc, sr));
  }

  // ---- Receiving --------------------------------------------------------

  // A writable area of at least `min_size` bytes at the end of the receive
  // buffer, for the I/O layer to read into; then call commit().
  std::span<std::byte> prepare(std::size_t min_size) {
    if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
    if (in_.size() - in_end_ < min_size) {
      if (in_begin_ > 0) {
        std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
        in_end_ -= in_begin_;
        in_begin_ = 0;
      }
      if (in_.size() - in_end_ < min_size) in_.resize(in_end_ + min_size);
    }
    return {in_.data() + in_end_, in_.size() - in_end_};
  }

  // Whether a peer's protocol violation waits to fail the connection.
  //
  // By default next_event() fails the connection as soon as it finds a
  // violation, so the close frame goes out ahead of whatever the application
  // would answer to the messages that came before it in the same read. With
  // deferral on (while the connection is open and no close frame was sent),
  // those messages are reported as usual, then the violation is only
  // recorded: failure_pending() is true, closing_progress() says failing,
  // next_event() reports nothing more and discards every byte received, and
  // the application may still send. commit_failure() then queues the close
  // frame, after the answers; the I/O layer calls it once the application
  // has taken every message before the violation, or after a timeout.
  // send_close() and fail() commit it too (the violation's code wins), and
  // so does the end of the transport (without a close frame).
  void defer_failure(bool on) noexcept { defer_failure_ = on; }
  bool failure_pending() const noexcept { return pending_failure_.has_value(); }

  // Fails the connection for the violation recorded with defer_failure(),
  // if one is pending: as fail() with its code and reason.
  void commit_failure() {
    if (!pending_failure_) return;
    const close_frame f = std::move(*pending_failure_);
    pending_failure_.reset();
    fail(f.code, f.reason);
  }

  // Records that `n` bytes were written into the area prepare() gave.
  void commit(std::size_t n) noexcept { in_end_ += n; }

  // Copies received bytes into the receive buffer.
  void receive_data(std::span<const std::byte> data) {
    if (data.empty()) return;
    auto area = prepare(data.size());
    std::memcpy(area.data(), data.data(), data.size());
    commit(data.size());
  }
  void receive_data(std::string_view data) {
    receive_data(std::as_bytes(std::span(data.data(), data.size())));
  }

  // Records that the peer closed its end of the TCP connection.
  void receive_eof() {
    eof_rcvd_ = true;
    // Bytes still buffered are parsed first; next_event() finishes the job.
  }

  // Bytes received but not parsed yet (next_event() wasn't called, or they
  // are an incomplete frame). The I/O layer stops reading when this passes
  // its read limit.
  std::size_t buffered() const noexcept { return in_end_ - in_begin_; }

  // Hands large buffers that hold nothing (the last message's, the output's)
  // back to the per-thread pool, so that an idle connection holds none; they
  // are taken again when needed.
  void release_idle_buffers() noexcept {
    auto release = [](std::string& s) {
      if (s.empty() && s.capacity() > detail::string_pool::worth_pooling)
        detail::string_pool::give(std::move(s));
    };
    if (!have_header_ && !receiving_fragmented_) {
      msg_.clear();
      release(msg_);
    }
    if (whole_frame_.empty()) release(whole_frame_);
    if (scratch_.data.empty()) release(scratch_.data);
    release(out_);
  }

  // Hands over the receive buffer's storage when it holds no bytes, so an
  // idle connection keeps no buffer and another can reuse it. Returns false
  // (and leaves `out` alone) when bytes are buffered or there is no storage.
  bool release_receive_buffer(std::vector<std::byte>& out) noexcept {
    if (in_begin_ != in_end_ || in_.capacity() == 0) return false;
    out.swap(in_);
    in_.clear();
    in_begin_ = in_end_ = 0;
    return true;
  }

  // Gives storage for the receive buffer, used when it has none.
  void provide_receive_buffer(std::vector<std::byte>&& storage) noexcept {
    if (in_.capacity() == 0 && in_begin_ == in_end_) {
      in_.swap(storage);
      in_.resize(in_.capacity());
      in_begin_ = in_end_ = 0;
    }
  }

  // Parses buffered bytes into the next event. Returns false when no event
  // is complete yet (more bytes are needed), or when the connection is
  // closed. A peer that breaks the protocol makes the connection fail:
  // a close frame with the right code is queued, failure() says why, and no
  // further event is reported. With defer_failure(true), the close frame
  // waits for commit_failure().
  bool next_event(event& ev) {
    // Once the transport is closed, nothing more happened on the wire.
    if (state_ == connection_state::closed && transport_closed_) return false;
    while (true) {
      if (discarding_) {
        in_begin_ = in_end_;
        return finish_eof_if_due();
      }
      try {
        if (parse_one(ev)) return true;
      } catch (const payload_too_big& e) {
        fail_or_defer(code_of(close_code::message_too_big), e.what());
        continue;
      } catch (const protocol_error& e) {
        fail_or_defer(e.close_code(), e.what());
        continue;
      }
      return finish_eof_if_due();
    }
  }

  // ---- Sending ----------------------------------------------------------

  // Queues one frame of a data message: `op` is text or binary for the
  // first frame of a message and cont for the others; `fin` ends the
  // message. With `compress` false the message skips extensions (it goes
  // out uncompressed). With `borrow` true a large payload may be referenced
  // instead of copied; the function then returns true and the caller must
  // keep `data` alive until bytes_sent() reaches bytes_queued() as it is on
  // return. Throws invalid_state once a close frame was sent or the
  // connection is closed, and protocol_error for a frame out of sequence.
  bool send_data(opcode op, std::span<const std::byte> data, bool fin = true, bool compress = true,
                 bool borrow = false) {
    check_can_send();
    if (op == opcode::cont) {
      if (!sending_fragmented_)
        throw protocol_error("continuation frame without a message to continue");
    } else if (op == opcode::text || op == opcode::binary) {
      if (sending_fragmented_) throw protocol_error("a fragmented message is still being sent");
      sending_compressed_ = compress && !extensions_.empty();
    } else {
      throw std::invalid_argument("send_data takes text, binary or continuation frames");
    }
    sending_fragmented_ = !fin;
    if (sending_compressed_) {
      scratch_.fin = fin;
      scratch_.rsv1 = scratch_.rsv2 = scratch_.rsv3 = false;
      scratch_.op = op;
      scratch_.data.assign(reinterpret_cast<const char*>(data.data()), data.size());
      for (auto& e : extensions_) e->encode(scratch_);
      queue_frame(scratch_.fin, scratch_.rsv1, scratch_.rsv2, scratch_.rsv3, scratch_.op,
                  std::as_bytes(std::span(scratch_.data)), false);
      return false;
    }
    return queue_frame(fin, false, false, false, op, data, borrow);
  }
  bool send_data(opcode op, std::string_view data, bool fin = true, bool compress = true,
                 bool borrow = false) {
    return send_data(op, std::as_bytes(std::span(data.data(), data.size())), fin, compress, borrow);
  }

  // Queues a ping or a pong (payload ≤ 125 bytes, else std::invalid_argument).
  void send_ping(std::span<const std::byte> data) { send_control(opcode::ping, data); }
  void send_pong(std::span<const std::byte> data) { send_control(opcode::pong, data); }
  void send_ping(std::string_view data) { send_ping(as_byte_span(data)); }
  void send_pong(std::string_view data) { send_pong(as_byte_span(data)); }

  // Starts the closing handshake: queues a close frame (code 1005 sends an
  // empty payload). Throws invalid_state if a close frame was already sent.
  // serialize_close() checks the code and the reason. While a failure is
  // pending (defer_failure()), commits it instead.
  void send_close(std::uint16_t code = code_of(close_code::normal_closure),
                  std::string_view reason = {}) {
    if (pending_failure_) return commit_failure();
    check_can_send();
    std::string payload = code == code_of(close_code::no_status_received)
                              ? std::string()
                              : serialize_close(code, reason);
    queue_close(code, reason, payload);
    if (close_rcvd_ && role_ == role::server) eof_due_ = true;
  }

  // Fails the connection (RFC 6455 7.1.7): sends a close frame with `code`
  // unless one was sent already (or the code is 1006, which is never sent),
  // stops processing what the peer sends, and, on a server, asks for the
  // TCP connection to be closed at once. A failure pending (defer_failure())
  // is committed instead: the peer's violation came first.
  void fail(std::uint16_t code, std::string_view reason) {
    if (pending_failure_) return commit_failure();
    if (failure_.empty())
      failure_ = reason.empty() ? std::string("connection failed") : std::string(reason);
    if (state_ == connection_state::open && !close_sent_ &&
        code != code_of(close_code::abnormal_closure)) {
      std::string r(truncate_utf8(reason, max_close_reason));
      queue_close(code, r, serialize_close(code, r));
    }
    if (state_ != connection_state::closed) state_ = connection_state::closing;
    if (role_ == role::server) eof_due_ = true;
    discarding_ = true;
    in_begin_ = in_end_ = 0;
    reset_message();
  }

  // Moves every byte ready to send into `batch`, which must be empty (the
  // caller clears it once written; its capacity is reused).
  void take_output(output_batch& batch) {
    batch.bytes_.swap(out_);
    batch.borrowed_.swap(out_borrowed_);
    out_.clear();
    out_borrowed_.clear();
    batch.build_pieces();
  }

  // Whether bytes wait to be taken by take_output().
  bool has_output() const noexcept { return !out_.empty() || !out_borrowed_.empty(); }

  // Bytes queued for sending since the start, and bytes reported sent by
  // the I/O layer. Their difference is what waits in buffers; the I/O layer
  // compares it with its write limit.
  std::uint64_t bytes_queued() const noexcept { return bytes_queued_; }
  std::uint64_t bytes_sent() const noexcept { return bytes_sent_; }
  void record_sent(std::size_t n) {
    bytes_sent_ += n;
    if (pong_deferred_ && bytes_queued_ - bytes_sent_ <= auto_reply_limit_ / 4) {
      pong_deferred_ = false;
      if (state_ == connection_state::open && !close_sent_)
        queue_frame(true, false, false, false, opcode::pong, as_byte_span(deferred_pong_), false);
      std::string().swap(deferred_pong_);
    }
  }

  // Past this many bytes waiting to be written, pings are no longer
  // answered one by one: only the newest gets its pong, once the output
  // drains to a quarter of it. The I/O layer sets it to its write limit.
  void limit_auto_replies(std::size_t bytes) noexcept { auto_reply_limit_ = bytes; }

  // Whether the I/O layer must now close the TCP connection, once it has
  // written all output: a server does so after the closing handshake or
  // after failing the connection (RFC 6455 7.1.1); a client waits for the
  // server to do it, and the I/O layer closes it itself after a timeout.
  bool should_close_transport() const noexcept { return eof_due_ && !has_output(); }

  // Records that the TCP connection is closed.
  void transport_closed() noexcept {
    state_ = connection_state::closed;
    transport_closed_ = true;
    reset_message();
    in_begin_ = in_end_;  // bytes left over belong to no frame any more
    if (pending_failure_) {
      // Too late for a close frame; failure() still says why.
      if (failure_.empty()) failure_ = std::move(pending_failure_->reason);
      pending_failure_.reset();
    }
  }

 private:
  static std::span<const std::byte> as_byte_span(std::string_view s) noexcept {
    return std::as_bytes(std::span(s.data(), s.size()));
  }

  // Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
  static std::string_view truncate_utf8(std::string_view s, std::size_t max) noexcept {
    if (s.size() <= max) return s;
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
  }

  void check_can_send() const {
    if (state_ == connection_state::closed) throw invalid_state("the connection is closed");
    if (close_sent_) throw invalid_state("a close frame was sent; nothing may follow it");
  }

  void send_control(opcode op, std::span<const std::byte> data) {
    check_can_send();
    if (data.size() > max_control_payload)
      throw std::invalid_argument("a control frame's payload is at most 125 bytes");
    queue_frame(true, false, false, false, op, data, false);
  }

  void queue_close(std::uint16_t code, std::string_view reason, const std::string& payload) {
    close_sent_ = close_frame{code, std::string(reason)};
    if (close_rcvd_) close_rcvd_then_sent_ = true;
    state_ = connection_state::closing;
    queue_frame(true, false, false, false, opcode::close, as_byte_span(payload), false);
  }

  // Appends a frame to the output; returns true if `data` was borrowed.
  bool queue_frame(bool fin, bool rsv1, bool rsv2, bool rsv3, opcode op,
                   std::span<const std::byte> data, bool borrow) {
    frame_header h;
    h.fin = fin;
    h.rsv1 = rsv1;
    h.rsv2 = rsv2;
    h.rsv3 = rsv3;
    h.opcode = static_cast<std::uint8_t>(op);
    h.length = data.size();
    h.masked = role_ == role::client;
    if (h.masked) {
      if (!random_) random_ = std::make_unique<detail::random_pool>();
      random_->draw(h.mask);
    }
    std::byte header[max_frame_header_size];
    const std::size_t hsize = serialize_frame_header(h, header);
    if (out_.capacity() == 0) out_ = detail::string_pool::take();
    const std::size_t at = out_.size();
    const bool borrowed = borrow && !h.masked && data.size() >= borrow_threshold;
    out_.resize(at + hsize + (borrowed ? 0 : data.size()));
    auto* dst = reinterpret_cast<std::byte*>(out_.data()) + at;
    std::memcpy(dst, header, hsize);
    if (borrowed) {
      out_borrowed_.push_back({out_.size(), data});
    } else if (h.masked) {
      detail::mask_copy(dst + hsize, data.data(), data.size(), h.mask);
    } else if (!data.empty()) {
      std::memcpy(dst + hsize, data.data(), data.size());
    }
    bytes_queued_ += hsize + data.size();
    return borrowed;
  }

  void reset_message() noexcept {
    have_header_ = false;
    receiving_fragmented_ = false;
    msg_.clear();
    validator_.reset();
  }

  // A violation found by next_event(): fails the connection, or, with
  // deferral on and the connection open, records it for commit_failure()
  // and stops parsing.
  void fail_or_defer(std::uint16_t code, std::string_view reason) {
    if (!defer_failure_ || state_ != connection_state::open || close_sent_)
      return fail(code, reason);
    pending_failure_ = close_frame{code, std::string(reason)};
    discarding_ = true;
    in_begin_ = in_end_ = 0;
    reset_message();
  }

  // Called when no event is left in the buffer: once the peer's EOF was
  // received and everything before it parsed, the connection is closed.
  bool finish_eof_if_due() {
    if (eof_rcvd_ && state_ != connection_state::closed) {
      // An EOF in the middle of a frame or message is an abnormal end; the
      // close code reported is 1006 unless a close frame came first.
      transport_closed();
    }
    return false;
  }

  // Tries to parse one frame (or the next piece of a large one). Returns true
  // when it completed an event.
  bool parse_one(event& ev) {
    while (in_begin_ < in_end_ || (have_header_ && header_.length == 0)) {
      if (!have_header_) {
        if (close_rcvd_) {  // nothing may follow a close frame
          in_begin_ = in_end_;
          return false;
        }
        const std::size_t n =
            parse_frame_header(std::span(in_.data() + in_begin_, in_end_ - in_begin_), header_);
        if (n == 0) return false;
        in_begin_ += n;
        check_header();
        have_header_ = true;
        payload_done_ = 0;
        mask_phase_ = 0;
      }
      const opcode op = static_cast<opcode>(header_.opcode);
      if (is_control(op) || transforming_) {
        // Control frames and frames for extensions are processed whole.
        const std::size_t need = static_cast<std::size_t>(header_.length) - payload_done_;
        const std::size_t avail = in_end_ - in_begin_;
        const std::size_t take = std::min(need, avail);
        std::byte* p = in_.data() + in_begin_;
        if (header_.masked) mask_phase_ = detail::apply_mask(p, take, header_.mask, mask_phase_);
        whole_frame_.append(reinterpret_cast<const char*>(p), take);
        in_begin_ += take;
        payload_done_ += take;
        if (payload_done_ < header_.length) return false;
        have_header_ = false;
        if (is_control(op)) {
          if (handle_control(op, ev)) return true;
          continue;
        }
        if (finish_transformed_frame(ev)) return true;
        continue;
      }
      // Data frame without extensions: stream the payload into the message,
      // validating text as it arrives so invalid UTF-8 fails fast.
      const std::size_t need = static_cast<std::size_t>(header_.length) - payload_done_;
      const std::size_t take = std::min(need, in_end_ - in_begin_);
      std::byte* p = in_.data() + in_begin_;
      if (header_.masked) mask_phase_ = detail::apply_mask(p, take, header_.mask, mask_phase_);
      if (receiving_text_ && !validator_.feed(p, take))
        throw protocol_error("invalid UTF-8 in a text message",
                             code_of(close_code::invalid_payload));
      msg_.append(reinterpret_cast<const char*>(p), take);
      in_begin_ += take;
      payload_done_ += take;
      if (payload_done_ < header_.length) return false;
      have_header_ = false;
      if (header_.fin) return finish_message(ev);
    }
    return false;
  }

  // Applies the rules on a frame header that depend on the connection: the
  // masking direction, RSV bits, opcodes, control frames, fragmentation and
  // max_size.
  void check_header() {
    const auto& h = header_;
    if (role_ == role::server && !h.masked)
      throw protocol_error("incorrect masking: a client frame isn't masked");
    if (role_ == role::client && h.masked)
      throw protocol_error("incorrect masking: a server frame is masked");
    if ((h.rsv1 && !allowed_rsv1_) || (h.rsv2 && !allowed_rsv2_) || (h.rsv3 && !allowed_rsv3_))
      throw protocol_error("reserved bits must be 0 without an extension that uses them");
    if (!is_known_opcode(h.opcode))
      throw protocol_error("invalid opcode " + std::to_string(h.opcode));
    const auto op = static_cast<opcode>(h.opcode);
    switch (op) {
      case opcode::cont:
        if (!receiving_fragmented_) throw protocol_error("unexpected continuation frame");
        break;
      case opcode::text:
      case opcode::binary:
        if (receiving_fragmented_)
          throw protocol_error("expected a continuation frame, got opcode " +
                               std::to_string(h.opcode));
        break;
      case opcode::close:
      case opcode::ping:
      case opcode::pong:
        if (!h.fin) throw protocol_error("fragmented control frame");
        if (h.length > max_control_payload)
          throw protocol_error("control frame too long: " + std::to_string(h.length) + " bytes");
        if (h.rsv1 || h.rsv2 || h.rsv3)
          throw protocol_error("reserved bits set on a control frame");
        whole_frame_.clear();
        return;
    }
    // A data frame.
    if (op != opcode::cont) {
      receiving_text_ = op == opcode::text;
      receiving_op_ = op;
      validator_.reset();
      msg_.clear();
    }
    receiving_fragmented_ = !h.fin;
    if (max_size_ && h.length > *max_size_ - std::min(*max_size_, msg_.size()))
      throw payload_too_big("message too big: " + std::to_string(msg_.size() + h.length) +
                            " bytes, max_size is " + std::to_string(*max_size_));
    transforming_ = !extensions_.empty();
    if (transforming_) {
      whole_frame_.clear();
      whole_frame_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(h.length, 1 << 20)));
    } else if (h.length > msg_.capacity() - msg_.size()) {
      // Room for what is already here, up to the frame's end, without
      // trusting a declared length the peer hasn't backed with bytes yet.
      const std::size_t avail = in_end_ - in_begin_;
      msg_.reserve(msg_.size() + static_cast<std::size_t>(std::min<std::uint64_t>(
                                     h.length, std::max<std::size_t>(avail, 64 * 1024))));
    }
  }

  bool handle_control(opcode op, event& ev) {
    switch (op) {
      case opcode::ping:
        if (state_ == connection_state::open && !close_sent_) {
          if (bytes_queued_ - bytes_sent_ > auto_reply_limit_) {
            // A peer that pings and doesn't read: keep only the newest pong
            // (RFC 6455 5.5.3 allows answering just the last ping), so the
            // output can't grow without bound.
            deferred_pong_.assign(whole_frame_);
            pong_deferred_ = true;
          } else {
            queue_frame(true, false, false, false, opcode::pong, as_byte_span(whole_frame_), false);
          }
        }
        ev.type = event::kind::ping;
        ev.op = op;
        ev.data.swap(whole_frame_);
        whole_frame_.clear();
        return true;
      case opcode::pong:
        ev.type = event::kind::pong;
        ev.op = op;
        ev.data.swap(whole_frame_);
        whole_frame_.clear();
        return true;
      case opcode::close: {
        auto [code, reason] = parse_close(whole_frame_);
        close_rcvd_ = close_frame{code, reason};
        if (!close_sent_) {
          // Echo the close frame (RFC 6455 5.5.1), code and reason alike.
          queue_close(code, reason, whole_frame_);
          close_rcvd_then_sent_ = true;
        }
        state_ = connection_state::closing;
        if (role_ == role::server) eof_due_ = true;
        ev.type = event::kind::close;
        ev.op = op;
        ev.data = std::move(reason);
        whole_frame_.clear();
        in_begin_ = in_end_;  // nothing may follow a close frame
        return true;
      }
      default:
        return false;
    }
  }

  // Runs a whole data frame through the extensions (in reverse order, as
  // they wrapped it on the way out) and appends it to the message.
  bool finish_transformed_frame(event& ev) {
    scratch_.fin = header_.fin;
    scratch_.rsv1 = header_.rsv1;
    scratch_.rsv2 = header_.rsv2;
    scratch_.rsv3 = header_.rsv3;
    scratch_.op = static_cast<opcode>(header_.opcode);
    scratch_.data.swap(whole_frame_);
    const std::optional<std::size_t> room =
        max_size_ ? std::optional<std::size_t>(*max_size_ - std::min(*max_size_, msg_.size()))
                  : std::nullopt;
    for (auto it = extensions_.rbegin(); it != extensions_.rend(); ++it)
      (*it)->decode(scratch_, room);
    scratch_.check();
    if (room && scratch_.data.size() > *room)
      throw payload_too_big("message too big: over " + std::to_string(*max_size_) +
                            " bytes after decompression");
    const auto* p = reinterpret_cast<const std::byte*>(scratch_.data.data());
    if (receiving_text_ && !validator_.feed(p, scratch_.data.size()))
      throw protocol_error("invalid UTF-8 in a text message", code_of(close_code::invalid_payload));
    msg_.append(scratch_.data);
    whole_frame_.swap(scratch_.data);
    whole_frame_.clear();
    if (header_.fin) return finish_message(ev);
    return false;
  }

  bool finish_message(event& ev) {
    if (receiving_text_ && !validator_.complete())
      throw protocol_error("invalid UTF-8: a text message ends inside a code point",
                           code_of(close_code::invalid_payload));
    ev.type = event::kind::message;
    ev.op = receiving_op_;
    ev.data.swap(msg_);
    msg_.clear();
    receiving_fragmented_ = false;
    return true;
  }

  // Large payloads sent by a server are referenced, not copied, above this.
  static constexpr std::size_t borrow_threshold = 16 * 1024;

  websockets::role role_;
  connection_state state_ = connection_state::open;
  std::optional<std::size_t> max_size_;
  std::vector<std::unique_ptr<extension>> extensions_;
  bool allowed_rsv1_ = false, allowed_rsv2_ = false, allowed_rsv3_ = false;

  // Receive side.
  std::vector<std::byte> in_;
  std::size_t in_begin_ = 0, in_end_ = 0;
  frame_header header_;
  bool have_header_ = false;
  std::size_t payload_done_ = 0;
  std::size_t mask_phase_ = 0;
  bool transforming_ = false;
  bool receiving_fragmented_ = false;
  bool receiving_text_ = false;
  opcode receiving_op_ = opcode::text;
  utf8_validator validator_;
  std::string msg_;          // the message being assembled
  std::string whole_frame_;  // a control frame or a frame for extensions
  frame scratch_;            // a frame going through extensions
  bool eof_rcvd_ = false;
  bool transport_closed_ = false;  // transport_closed() was called
  bool discarding_ = false;

  // Send side.
  std::string out_;
  std::vector<output_batch::borrowed_piece> out_borrowed_;
  std::uint64_t bytes_queued_ = 0, bytes_sent_ = 0;
  bool sending_fragmented_ = false;
  std::size_t auto_reply_limit_ = 64 * 1024;
  bool pong_deferred_ = false;
  std::string deferred_pong_;
  bool sending_compressed_ = false;
  std::unique_ptr<detail::random_pool> random_;

  // Closing.
  std::optional<close_frame> close_rcvd_;
  std::optional<close_frame> close_sent_;
  bool close_rcvd_then_sent_ = false;
  bool eof_due_ = false;
  std::string failure_;
  bool defer_failure_ = false;
  std::optional<close_frame> pending_failure_;  // the violation's close frame, not sent yet
};

}  // namespace websockets
