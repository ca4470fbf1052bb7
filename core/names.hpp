// names.hpp — which chat names a reader can trust. Pure code, no sockets.
//
// Every line in the room starts with a name, so a name must not pass for the server
// ("<server>", "ѕerver" with a Cyrillic ѕ, "ｓerver" in fullwidth), for a notice ("* x"),
// or for another member ("аlice" with a Cyrillic а beside "alice"). Unicode says how:
// TR39 "Unicode Security Mechanisms" gives each string a skeleton (ѕ, s and ｓ all become
// "s") and restriction levels for mixing scripts. ICU's spoof checker implements both;
// Debian ships it in libicu-dev. Names in one script stay welcome: 小明, Иван, José, 김민준.
// Read: https://unicode.org/reports/tr39/, uspoof.h, TR36 "Unicode Security Considerations".
#pragma once

#include <string>
#include <string_view>

namespace sockchat {

inline constexpr std::size_t max_name_chars = 32;

// Why `name` cannot be anyone's name ("mixes scripts (Cyrillic, Latin)", "looks like
// \"server\"", ...), or "" if it can. Whether it is free is the room's question.
std::string name_problem(std::string_view name);
inline bool valid_name(std::string_view name) {
  return name_problem(name).empty();
}

// Two names a reader could take for each other share a key. Two keys, because letter case
// and look-alikes cross: "Alice" and "ALICE" are one name, and "AIice" (capital I) reads as
// "Alice", but "ALICE" and "AIice" are not alike. name_key is the TR39 skeleton of the
// name's NFKC case folding ("Alice", "ALICE", "ａlice", "0live" and "olive" share one);
// name_shape_key the case folding of the skeleton of the name as typed ("AIice", "Alice").
// Each is applied until it changes nothing: the skeleton of "0" is "O", which folds to "o".
// ASCII names, most of them, need no ICU: a table gives the same keys (the unit tests
// compare it with ICU for every ASCII character and pair), so a room of them never loads
// Unicode's confusables data.
std::string name_key(std::string_view name);
std::string name_shape_key(std::string_view name);

// The NFKC case folding alone: equal for "Alice" and "alice", which are the same name
// typed differently, not a look-alike.
std::string name_fold(std::string_view name);

// The same answers from ICU alone, for any name: the unit tests hold the ASCII table to them.
namespace icu_only {
std::string name_problem(std::string_view name);
std::string name_key(std::string_view name, bool as_typed);
std::string name_fold(std::string_view name);
}  // namespace icu_only

}  // namespace sockchat
