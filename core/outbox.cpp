#include "core/outbox.hpp"

#include <algorithm>

namespace sockchat {

LineRef make_line(std::string bytes) {
  LineRef ref;
  ref.line_ = new SharedLine{std::move(bytes)};
  ref.add();
  return ref;
}

void LineRef::add() const {
  // Relaxed, as in std::shared_ptr: a new reference is made from one that exists.
  if (line_ != nullptr) line_->references.fetch_add(1, std::memory_order_relaxed);
}

void LineRef::reset() {
  // The last reference deletes: acq_rel, so every thread's use of the line is done first.
  if (line_ != nullptr && line_->references.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete line_;
  }
  line_ = nullptr;
}

void Outbox::push(const LineRef& line, std::size_t& held) {
  if (line->bytes.empty()) return;
  if (line->holders++ == 0) held += line->bytes.size();  // the first holder counts it
  lines_.push_back(line);
  pending_ += line->bytes.size();
}

void Outbox::pieces(std::vector<std::string_view>& out, std::size_t max,
                    std::vector<LineRef>* keep) const {
  out.clear();
  if (keep != nullptr) keep->clear();
  std::size_t skip = offset_;
  for (std::size_t i = head_; i < lines_.size(); ++i) {
    const LineRef& line = lines_[i];
    if (out.size() == max) break;
    out.push_back(std::string_view(line->bytes).substr(skip));
    if (keep != nullptr) keep->push_back(line);
    skip = 0;
  }
}

void Outbox::pop(std::size_t& held) {
  SharedLine& line = *lines_[head_];
  if (--line.holders == 0) held -= line.bytes.size();  // the last holder uncounts it
  lines_[head_++].reset();
  if (head_ == lines_.size()) {  // all sent: start again at the front, small
    head_ = 0;
    if (lines_.capacity() > 16) {
      std::vector<LineRef>().swap(lines_);
    } else {
      lines_.clear();
    }
  } else if (head_ >= 64 && head_ * 2 >= lines_.size()) {  // mostly sent: drop the front
    lines_.erase(lines_.begin(), lines_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void Outbox::consume(std::size_t sent, std::size_t& held) {
  pending_ -= std::min(sent, pending_);
  while (sent > 0 && !empty()) {
    const std::size_t left = lines_[head_]->bytes.size() - offset_;
    if (sent < left) {
      offset_ += sent;
      return;
    }
    sent -= left;
    offset_ = 0;
    pop(held);
  }
}

void Outbox::clear(std::size_t& held) {
  while (!empty()) pop(held);
  offset_ = 0;
  pending_ = 0;
}

}  // namespace sockchat
