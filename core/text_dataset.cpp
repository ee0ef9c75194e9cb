// UTF-8 decoding is done by hand (it is small) so that the error can name the exact byte offset.
#include "text_dataset.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

namespace moewb {

std::u32string decode_utf8(const std::string& bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  auto fail = [&](size_t at) {
    throw DatasetError("not valid UTF-8: invalid byte sequence at byte offset " + std::to_string(at));
  };
  while (i < n) {
    const unsigned char b = s[i];
    int extra = 0;
    char32_t cp = 0;
    if (b < 0x80) {
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3, cp = b & 0x07;
    } else {
      fail(i);
    }
    for (int k = 1; k <= extra; ++k) {
      if (i + k >= n || (s[i + k] & 0xC0) != 0x80) fail(i);
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static const char32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail(i);
    out.push_back(cp);
    i += extra + 1;
  }
  return out;
}

std::string encode_utf8(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

std::string encode_utf8(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) out += encode_utf8(c);
  return out;
}

// ---------------------------------------------------------------------------------------------------
Vocabulary::Vocabulary(std::u32string chars) : chars_(std::move(chars)) {
  std::sort(chars_.begin(), chars_.end());
  chars_.erase(std::unique(chars_.begin(), chars_.end()), chars_.end());
}

Vocabulary Vocabulary::of_text(const std::u32string& text) {
  std::set<char32_t> seen(text.begin(), text.end());
  return Vocabulary(std::u32string(seen.begin(), seen.end()));
}

int Vocabulary::id_of(char32_t c) const {
  auto it = std::lower_bound(chars_.begin(), chars_.end(), c);
  return (it != chars_.end() && *it == c) ? static_cast<int>(it - chars_.begin()) : -1;
}

std::vector<int64_t> Vocabulary::encode(const std::string& utf8) const {
  const std::u32string text = decode_utf8(utf8);
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  std::u32string missing;
  for (char32_t c : text) {
    const int id = id_of(c);
    if (id < 0 && missing.find(c) == std::u32string::npos) missing.push_back(c);
    ids.push_back(id);
  }
  if (!missing.empty())
    throw DatasetError("the text contains characters the model's vocabulary does not have: '" +
                       encode_utf8(missing) + "'");
  return ids;
}

std::string Vocabulary::decode(const std::vector<int64_t>& ids) const {
  std::u32string text;
  text.reserve(ids.size());
  for (int64_t id : ids) text.push_back(chars_.at(static_cast<size_t>(id)));
  return encode_utf8(text);
}

// ---------------------------------------------------------------------------------------------------
TextDataset TextDataset::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DatasetError("cannot open dataset file '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto slash = path.find_last_of('/');
  try {
    return from_text(bytes, slash == std::string::npos ? path : path.substr(slash + 1));
  } catch (const DatasetError& e) {
    throw DatasetError("'" + path + "': " + e.what());
  }
}

TextDataset TextDataset::from_text(const std::string& utf8, const std::string& name) {
  if (utf8.empty()) throw DatasetError("the file is empty");
  // Text files have no NUL bytes and few control characters; anything else is a binary file.
  size_t controls = 0;
  for (unsigned char b : utf8) {
    if (b == 0) throw DatasetError("this is a binary file (it contains NUL bytes), not text");
    if (b < 0x20 && b != '\n' && b != '\r' && b != '\t' && b != '\f') ++controls;
  }
  if (controls * 100 > utf8.size()) throw DatasetError("this looks like a binary file: too many control bytes");
  const std::u32string text = decode_utf8(utf8);
  if (text.size() < static_cast<size_t>(kMinCharacters))
    throw DatasetError("too short: " + std::to_string(text.size()) + " characters, at least " +
                       std::to_string(kMinCharacters) + " are needed");
  TextDataset d;
  d.name = name;
  d.vocab = Vocabulary::of_text(text);
  d.tokens.reserve(text.size());
  for (char32_t c : text) d.tokens.push_back(d.vocab.id_of(c));
  d.n_train = static_cast<int64_t>(kTrainFraction * static_cast<double>(text.size()));
  return d;
}

std::string TextDataset::fingerprint() const {
  uint64_t h = 1469598103934665603ull;
  for (int64_t t : tokens)
    for (int i = 0; i < 4; ++i) h = (h ^ static_cast<uint64_t>((t >> (8 * i)) & 0xFF)) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

std::string TextDataset::probe_text(int length) const {
  const int64_t start = n_train;
  const int64_t end = std::min<int64_t>(static_cast<int64_t>(tokens.size()), start + length);
  return vocab.decode(std::vector<int64_t>(tokens.begin() + start, tokens.begin() + end));
}

}  // namespace moewb
