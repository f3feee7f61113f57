// Pieces every Connection implementation shares, free of Boost: the handler and its close-once
// bookkeeping. (Fault injection for tests is a Connection decorator: tests/support/faulty_connection.h.)
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <utility>

#include "repo/net/transport.h"

namespace am::repo::net {

/// Holds a connection's Handler and enforces its contract: frames only between start and close,
/// on_close exactly once, the handler released right after on_close. A close that happens before
/// start() is remembered and reported by start().
/// Thread safety: none; each connection uses it only from its own strand.
class HandlerSlot {
 public:
  bool started() const { return started_; }
  bool closed() const { return closed_; }

  /// Stores the handler, delivers `early_frames` (received before start) in order, then a close
  /// that already happened. A second call is ignored.
  void start(Connection::Handler handler, std::deque<Bytes> early_frames = {}) {
    if (started_) return;
    started_ = true;
    handler_ = std::move(handler);
    for (auto& frame : early_frames) {
      if (handler_.on_frame) handler_.on_frame(std::move(frame));
    }
    if (closed_) report_close();
  }

  /// Delivers one frame if started and not closed; otherwise drops it.
  void frame(Bytes frame) {
    if (started_ && !closed_ && handler_.on_frame) handler_.on_frame(std::move(frame));
  }

  /// Records the close (the first one wins) and reports it now if started. Returns whether this
  /// call was the first.
  bool close(CloseReason reason, std::string detail) {
    if (closed_) return false;
    closed_ = true;
    info_ = CloseInfo{reason, std::move(detail)};
    if (started_) report_close();
    return true;
  }

 private:
  void report_close() {
    // Moved out first: on_close may drop the last reference to whatever the handler captured.
    Connection::Handler handler = std::move(handler_);
    handler_ = {};
    if (handler.on_close) handler.on_close(info_);
  }

  bool started_ = false;
  bool closed_ = false;
  CloseInfo info_;
  Connection::Handler handler_;
};

}  // namespace am::repo::net
