// POSIX extended regular expressions (regcomp/regexec) for tests. Not
// std::regex: under ASan GCC 12 warns inside <regex> (maybe-uninitialized),
// which -Werror turns into a failed sanitizer build.
#pragma once

#include <regex.h>
#include <stdexcept>
#include <string>

namespace shmq::test {

// True if `text` contains a match of the ERE `pattern` (anchor it with ^...$
// for a whole match). Throws on a malformed pattern.
inline bool ere_search(const std::string& pattern, const std::string& text) {
    regex_t re;
    if (::regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB) != 0)
        throw std::invalid_argument("bad regular expression: " + pattern);
    const bool found = ::regexec(&re, text.c_str(), 0, nullptr, 0) == 0;
    ::regfree(&re);
    return found;
}

}  // namespace shmq::test
