// test_line_editor.cpp — the chat's line editor, key by key. Pure code: no terminal.
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "core/line_editor.hpp"

using namespace sockchat;
using Key = LineEditor::Key;

namespace {

std::vector<Key> type(LineEditor& editor, std::string_view keys) {
  std::vector<Key> out;
  for (const char c : keys) out.push_back(editor.feed(c));
  return out;
}

}  // namespace

TEST_CASE("text is typed and Enter submits it", "[line_editor]") {
  LineEditor editor;
  type(editor, "hello");
  CHECK(editor.line() == "hello");
  CHECK(editor.feed('\r') == Key::submit);
  CHECK(editor.take() == "hello");
  CHECK(editor.line().empty());
}

TEST_CASE("Backspace removes one UTF-8 character, not one byte", "[line_editor]") {
  LineEditor editor;
  type(editor, "a你好");
  CHECK(editor.feed(0x7f) == Key::changed);
  CHECK(editor.line() == "a你");
  type(editor, "\x08\x08\x7f");  // past the start: nothing left to remove
  CHECK(editor.line().empty());
}

TEST_CASE("Ctrl-U clears the line and Ctrl-W removes the last word", "[line_editor]") {
  LineEditor editor;
  type(editor, "one two  ");
  CHECK(editor.feed(0x17) == Key::changed);
  CHECK(editor.line() == "one ");
  CHECK(editor.feed(0x15) == Key::changed);
  CHECK(editor.line().empty());
}

TEST_CASE("Ctrl-D is end of input only on an empty line", "[line_editor]") {
  LineEditor editor;
  type(editor, "x");
  CHECK(editor.feed(0x04) == Key::none);
  type(editor, "\x7f");
  CHECK(editor.feed(0x04) == Key::eof);
}

TEST_CASE("escape sequences and control characters are swallowed", "[line_editor]") {
  LineEditor editor;
  const auto keys = type(editor, "a\x1b[1;5Cb\x1bOAc\x1bxd\x07\x01\te");
  CHECK(editor.line() == "abcd\te");
  CHECK(keys[1] == Key::none);
}
