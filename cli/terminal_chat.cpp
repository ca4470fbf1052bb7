// terminal_chat.cpp — see terminal_chat.hpp.
#include "cli/terminal_chat.hpp"

#include <unistd.h>

#include <utility>

#include <fmt/format.h>

#include "cli/common.hpp"
#include "cli/stdio.hpp"
#include "core/screen.hpp"
#include "core/text.hpp"

namespace sockchat::cli {

namespace {

constexpr std::string_view kPrompt = "> ";
constexpr std::size_t kDefaultWidth = 80;  // when the terminal does not say (a bare pty: 0)

}  // namespace

TerminalChat::TerminalChat(bool keys) : keys_(keys) {
  if (keys_) terminal_.emplace(STDIN_FILENO);
}

void TerminalChat::start() {
  redraw();
}

bool TerminalChat::read_keys(const std::function<void(std::string)>& send) {
  char keys[4096];
  const auto n = read_stdin(keys, sizeof keys);
  if (!n) return true;
  if (*n == 0) return false;
  // Drawn once per read, not once per key: a pasted paragraph is not redrawn per letter.
  bool changed = false;
  for (std::size_t i = 0; i < *n; ++i) {
    switch (editor_.feed(keys[i])) {
      case LineEditor::Key::submit:
        if (std::exchange(changed, false)) redraw();
        send(editor_.take());
        // Your line stays on screen; the new prompt starts on the row below it.
        write_all(STDOUT_FILENO, fmt::format("\n{}", kPrompt));
        shown_ = kPrompt;
        break;
      case LineEditor::Key::eof:
        if (changed) redraw();
        return false;
      case LineEditor::Key::changed:
        changed = true;
        break;
      case LineEditor::Key::none:
        break;
    }
  }
  if (changed) redraw();
  return true;
}

// Notices and errors of the group chat (serve-group's "* " and "! " lines) in colour.
void TerminalChat::show(std::string_view line) {
  const bool color = use_color(STDOUT_FILENO);
  std::string text = visible(line);
  if (line.starts_with("* ")) text = paint(color, "36", text);
  if (line.starts_with("! ")) text = paint(color, "31", text);
  if (!keys_) return write_all(STDOUT_FILENO, text + '\n');
  const std::string area = input_area(kPrompt, editor_.line());
  write_all(STDOUT_FILENO, fmt::format("{}{}\n{}", erase_input(), text, area));
  shown_ = area;
}

void TerminalChat::interject(const std::function<void()>& print) {
  if (keys_) {  // it goes where the input area was, which is drawn again below it
    write_all(STDOUT_FILENO, erase_input());
    shown_.clear();
  }
  print();
  redraw();
}

void TerminalChat::leave() {
  if (keys_) write_all(STDOUT_FILENO, erase_input());
}

// What erases the input area on screen, every row of it: a line longer than the terminal
// is wide wraps, and "\r\x1b[K" alone would erase only its last row (core/screen.hpp).
// The cursor ends at the start of the area's first row. An area taller than the window
// is erased from the top row down: the cursor cannot go higher, so the rows that scrolled
// off stay in the terminal's scrollback (readline has the same limit).
std::string TerminalChat::erase_input() const {
  return erase_rows(rows_taken(shown_, terminal_width(STDOUT_FILENO, kDefaultWidth)));
}

void TerminalChat::redraw() {
  if (!keys_) return;
  const std::string area = input_area(kPrompt, editor_.line());
  write_all(STDOUT_FILENO, erase_input() + area);
  shown_ = area;
}

}  // namespace sockchat::cli
