#include "core/names.hpp"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>

#include <algorithm>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "core/text.hpp"

namespace sockchat {

namespace {

// Characters a name must not have because a reader cannot see them for what they are:
// controls (C0, DEL, C1), every kind of space (U+00A0, U+3000...), zero-width and bidi
// formatting characters (U+200B-U+200F, U+202A-U+202E, U+2066-U+2069: "x\u202Ey" displays
// reversed), blank fillers and tag characters. See Unicode's Default_Ignorable_Code_Point
// and White_Space properties, and Unicode TR #36 "Security Considerations".
bool invisible_or_space(UChar32 cp) {
  if (cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0)) return true;  // C0, space, DEL, C1, NBSP
  if (cp == 0xAD || cp == 0x034F || cp == 0x061C || cp == 0x115F || cp == 0x1160) return true;
  if (cp == 0x1680 || cp == 0x180E || cp == 0x3000 || cp == 0x3164 || cp == 0xFEFF) return true;
  if (cp >= 0x2000 && cp <= 0x200F) return true;  // spaces, zero-width, LRM/RLM
  if (cp >= 0x2028 && cp <= 0x202F) return true;  // line/paragraph separators, bidi, NNBSP
  if (cp >= 0x205F && cp <= 0x206F) return true;  // math space, word joiner, bidi isolates
  if (cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFFB)) return true;  // fillers, annotations
  return cp >= 0xE0000 && cp <= 0xE0FFF;  // tags and variation selectors supplement
}

// One ICU spoof checker for the process: opening one loads Unicode's confusables data.
// After setup it is only read, which ICU allows from several threads at once
// (serve-group --io threads).
const USpoofChecker* spoof_checker() {
  static const std::unique_ptr<USpoofChecker, void (*)(USpoofChecker*)> checker = [] {
    UErrorCode status = U_ZERO_ERROR;
    USpoofChecker* sc = uspoof_open(&status);
    // TR39's "highly restrictive" level: one script, or the mixes a language writes in
    // (Han with kana for Japanese, Han with Hangul for Korean, Latin with either).
    uspoof_setChecks(sc, USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_NUMBERS | USPOOF_INVISIBLE,
                     &status);
    uspoof_setRestrictionLevel(sc, USPOOF_HIGHLY_RESTRICTIVE);
    if (U_FAILURE(status))
      throw std::runtime_error(fmt::format("uspoof_open: {}", u_errorName(status)));
    return std::unique_ptr<USpoofChecker, void (*)(USpoofChecker*)>(sc, uspoof_close);
  }();
  return checker.get();
}

icu::UnicodeString fold(const icu::UnicodeString& name) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
  return U_SUCCESS(status) ? nfkc_cf->normalize(name, status) : name;
}

// TR39's skeleton: each character replaced by the one Unicode's confusables data says it
// reads as ("ѕ", "ｓ" → "s"; "rn" and "m" both → "rn").
icu::UnicodeString skeleton(const icu::UnicodeString& name) {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString out;
  uspoof_getSkeletonUnicodeString(spoof_checker(), 0, name, out, &status);
  return U_SUCCESS(status) ? out : name;
}

std::string utf8(const icu::UnicodeString& text) {
  std::string out;
  return text.toUTF8String(out);
}

// "Cyrillic, Latin": the scripts of the name's letters (digits and punctuation belong to
// every script and are left out).
std::string scripts_of(const icu::UnicodeString& name) {
  std::set<std::string> names;
  for (std::int32_t i = 0; i < name.length(); i = name.moveIndex32(i, 1)) {
    UErrorCode status = U_ZERO_ERROR;
    const UScriptCode script = uscript_getScript(name.char32At(i), &status);
    if (script != USCRIPT_COMMON && script != USCRIPT_INHERITED) {
      names.insert(uscript_getName(script));
    }
  }
  std::string out;
  for (const auto& s : names) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// What ICU's checks say about a name, in words; "" if it passes.
std::string spoof_problem(const icu::UnicodeString& name) {
  UErrorCode status = U_ZERO_ERROR;
  const std::int32_t failed = uspoof_checkUnicodeString(spoof_checker(), name, nullptr, &status);
  if (U_FAILURE(status)) return "not a name Unicode can check";
  if (failed & USPOOF_RESTRICTION_LEVEL) {
    return fmt::format("mixes scripts ({}): use one", scripts_of(name));
  }
  if (failed & USPOOF_MIXED_NUMBERS) return "mixes digits of different number systems";
  if (failed & USPOOF_INVISIBLE) return "repeats an invisible combining mark";
  return "";
}

// What a name's characters say about it; "" if nothing is wrong with them.
std::string character_problem(const icu::UnicodeString& name) {
  bool letter_or_digit = false;
  for (std::int32_t i = 0; i < name.length(); i = name.moveIndex32(i, 1)) {
    const UChar32 cp = name.char32At(i);
    if (invisible_or_space(cp)) return "no spaces, control or invisible characters";
    if (cp == '<' || cp == '>' || cp == ':') {
      return "no '<', '>' or ':' (they would make it look like a line's sender)";
    }
    letter_or_digit = letter_or_digit || u_hasBinaryProperty(cp, UCHAR_ALPHABETIC) || u_isdigit(cp);
  }
  if (name.startsWith(icu::UnicodeString(u"*")) || name.startsWith(icu::UnicodeString(u"!"))) {
    return "it may not start with '*' or '!' (they would make it look like a notice or an error)";
  }
  return letter_or_digit ? "" : "it needs a letter or a digit";
}

// Folding and the skeleton can each give what the other changes again ("0" has the
// skeleton "O", which folds to "o"): both until neither changes anything. Every character
// settles in three passes; eight is a bound, not a count.
icu::UnicodeString settled_key(icu::UnicodeString name, bool as_typed) {
  for (int pass = 0; pass < 8; ++pass) {
    icu::UnicodeString next = as_typed ? fold(skeleton(name)) : skeleton(fold(name));
    if (next == name) break;
    name = std::move(next);
  }
  return name;
}

bool is_ascii(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) { return (c & 0x80) == 0; });
}

// What settled_key() gives for one ASCII character; every other one is its lower case.
// (As typed, capital I reads as small l; folded first, it is i.)
std::string_view ascii_look(char c, bool as_typed) {
  switch (c) {
    case '"':
      return "''";
    case '`':
      return "'";
    case '%':
      return "o/o";
    case '0':
      return "o";
    case '1':
    case '|':
      return "l";
    case 'I':
      return as_typed ? "l" : "i";
    case 'M':
    case 'm':
      return "rn";
    default:
      return {};
  }
}

std::string ascii_key(std::string_view name, bool as_typed) {
  std::string key;
  for (const char c : name) {
    const std::string_view look = ascii_look(c, as_typed);
    if (look.empty()) {
      key += ascii_lower(c);
    } else {
      key.append(look);
    }
  }
  return key;
}

std::string name_key_of(std::string_view name, bool as_typed) {
  return is_ascii(name) ? ascii_key(name, as_typed) : icu_only::name_key(name, as_typed);
}

std::string problem_of(std::string_view name, bool ascii_table) {
  if (name.empty()) return "it is empty";
  if (!valid_utf8(name)) return "not valid UTF-8";
  const icu::UnicodeString text = icu::UnicodeString::fromUTF8(name);
  if (static_cast<std::size_t>(text.countChar32()) > max_name_chars) {
    return fmt::format("at most {} characters", max_name_chars);
  }
  if (std::string problem = character_problem(text); !problem.empty()) return problem;
  // ASCII is Latin and Common only, with one set of digits and no marks: nothing for the
  // spoof checker to find (the unit tests ask ICU about every ASCII character to be sure).
  if (!ascii_table || !is_ascii(name)) {
    if (std::string problem = spoof_problem(text); !problem.empty()) return problem;
  }
  const auto key = [&](std::string_view n, bool as_typed) {
    return ascii_table ? name_key_of(n, as_typed) : icu_only::name_key(n, as_typed);
  };
  if (key(name, false) == key("server", false) || key(name, true) == key("server", true)) {
    return "it looks like \"server\", the console's name";
  }
  return "";
}

}  // namespace

namespace icu_only {

std::string name_problem(std::string_view name) {
  return problem_of(name, false);
}

std::string name_key(std::string_view name, bool as_typed) {
  return utf8(settled_key(icu::UnicodeString::fromUTF8(name), as_typed));
}

std::string name_fold(std::string_view name) {
  return utf8(fold(icu::UnicodeString::fromUTF8(name)));
}

}  // namespace icu_only

std::string name_problem(std::string_view name) {
  return problem_of(name, true);
}

std::string name_key(std::string_view name) {
  return name_key_of(name, false);
}

std::string name_shape_key(std::string_view name) {
  return name_key_of(name, true);
}

std::string name_fold(std::string_view name) {
  return is_ascii(name) ? ascii_lower(name) : icu_only::name_fold(name);
}

}  // namespace sockchat
