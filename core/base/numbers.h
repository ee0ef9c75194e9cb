// Numbers in files and on the command line, the same in every locale: parsing and printing never consult
// LC_NUMERIC (the app's QApplication sets it from the environment, and under de_DE strtod reads "1.92" as 1).
// Parsing is strict (the whole text, no trailing garbage) and 64-bit where a count can be large.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moewb {

// "1.5", "-2e-3", "inf", "nan"; nothing for "", "1.5abc", "1,5" or " 1".
std::optional<double> parse_double(std::string_view text);
// "42", "-7"; nothing for "4.0", "1e3", "12abc" or a value outside int64.
std::optional<int64_t> parse_int64(std::string_view text);
// The shortest text that reads back as the same double at `precision` significant digits ("1.9202", "6e-04").
std::string format_double(double value, int precision);
// A remaining time: "4m05s", "2h13m".
std::string format_duration(double seconds);

}  // namespace moewb
