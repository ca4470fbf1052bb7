// outbox.hpp — what a server still owes one client, as a queue of shared lines.
//
// A group chat sends the same line to every member. Copying it into 1,000 outboxes costs
// 1,000 copies and 1,000 times the memory; instead each line is built once (prefix and
// framing included), never changed again, and every outbox holds a reference to it. The
// queue is sent with one sendmsg(2) of many pieces (a gather write: the kernel reads the
// pieces where they are, no copy into one buffer first). Read: writev(2), sendmsg(2).
//
// Memory is counted twice, because two questions are asked:
//   pending()  this client's unsent bytes — is THIS client keeping up? (--max-queue)
//   held       the bytes of every line some outbox still holds, each line once however
//              many hold it — how much memory does the server really keep? (--max-total-queue)
// `held` is the caller's counter (one per server), moved as lines come and go.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sockchat {

struct SharedLine {
  std::string bytes;        // on the wire: prefix, text and framing; never changed once made
  std::size_t holders = 0;  // outboxes holding it (moved under the server's lock)
  std::atomic<std::uint32_t> references{0};  // LineRefs to it: the last one deletes it
};

// A counted reference to a SharedLine. One pointer, 8 bytes, where a std::shared_ptr is
// two: a burst to 1,000 members holds a million of them at once. The count is atomic
// because with --io threads a writer thread keeps the lines it is sending (pieces()'
// `keep`) while the room may clear the outbox they came from.
class LineRef {
 public:
  LineRef() = default;
  LineRef(const LineRef& other) noexcept : line_(other.line_) { add(); }
  LineRef(LineRef&& other) noexcept : line_(std::exchange(other.line_, nullptr)) {}
  LineRef& operator=(LineRef other) noexcept {
    std::swap(line_, other.line_);
    return *this;
  }
  ~LineRef() { reset(); }

  SharedLine* operator->() const { return line_; }
  SharedLine& operator*() const { return *line_; }
  void reset();

 private:
  friend LineRef make_line(std::string bytes);
  void add() const;
  SharedLine* line_ = nullptr;
};

LineRef make_line(std::string bytes);  // a new line, with one reference: the one returned

class Outbox {
 public:
  void push(const LineRef& line, std::size_t& held);
  std::size_t pending() const { return pending_; }  // unsent bytes
  bool empty() const { return head_ == lines_.size(); }
  std::size_t lines() const { return lines_.size() - head_; }
  // The unsent bytes as at most `max` pieces, in order, for one sendmsg(). `keep` (if given)
  // gets the lines too, so they outlive a clear() while another thread sends them.
  void pieces(std::vector<std::string_view>& out, std::size_t max,
              std::vector<LineRef>* keep = nullptr) const;
  void consume(std::size_t sent, std::size_t& held);  // sendmsg() took `sent` bytes
  void clear(std::size_t& held);                      // the client is gone: owe it nothing

 private:
  void pop(std::size_t& held);
  // A vector read from head_, not a std::deque: a deque allocates 576 bytes even when
  // empty, and a room of 1,000 mostly-empty outboxes would pay that 1,000 times.
  std::vector<LineRef> lines_;
  std::size_t head_ = 0;    // lines_[head_] is the first line still owed
  std::size_t offset_ = 0;  // bytes of it already sent
  std::size_t pending_ = 0;
};

}  // namespace sockchat
