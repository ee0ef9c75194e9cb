// UTF-8 decoding is done by hand (it is small) so that the error can name the exact byte offset.
#include "core/data/text_dataset.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <new>
#include <set>

#include "core/base/files.h"
#include "core/config/memory_estimate.h"

namespace moewb {

namespace {

// Decodes the UTF-8 sequences of s[0, n), calling emit(code point) for each, and returns the bytes decoded. A
// sequence cut by the end of the piece is left undecoded unless the piece is the `last` one; an invalid one throws
// DatasetError naming its byte offset (`offset`: where the piece starts in the text).
template <typename Emit>
size_t decode_piece(const unsigned char* s, size_t n, bool last, uint64_t offset, Emit&& emit) {
  auto fail = [&](size_t at) {
    throw DatasetError("not valid UTF-8: invalid byte sequence at byte offset " + std::to_string(offset + at));
  };
  size_t i = 0;
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
      if (i + k >= n) {
        if (last) fail(i);
        return i;  // the rest of the sequence is in the next piece
      }
      if ((s[i + k] & 0xC0) != 0x80) fail(i);
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static const char32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail(i);
    emit(cp);
    i += extra + 1;
  }
  return n;
}

}  // namespace

std::u32string decode_utf8(const std::string& bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  decode_piece(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), /*last=*/true, 0,
               [&out](char32_t c) { out.push_back(c); });
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
namespace {

constexpr size_t kPiece = size_t{1} << 20;

// Up to `size` bytes of the text from `offset`; fewer only at its end.
using ReadAt = std::function<size_t(uint64_t offset, char* data, size_t size)>;

// Calls decode(piece, bytes, last, offset) for the text piece by piece, each piece starting with the bytes of a
// UTF-8 sequence the previous one cut (decode returns how many it decoded), and scan(new bytes, size) on the bytes
// as they are read. Returns the text's size in bytes.
template <typename Decode, typename Scan>
uint64_t read_pieces(const ReadAt& read_at, Decode&& decode, Scan&& scan) {
  std::vector<unsigned char> buffer(kPiece + 4);
  uint64_t offset = 0;  // of buffer[0] in the text
  size_t carried = 0;
  for (;;) {
    const size_t n = read_at(offset + carried, reinterpret_cast<char*>(buffer.data()) + carried, kPiece);
    scan(buffer.data() + carried, n);
    const size_t have = carried + n;
    const size_t done = decode(buffer.data(), have, /*last=*/n == 0, offset);
    if (n == 0) return offset + have;
    carried = have - done;  // at most 3 bytes of a cut sequence
    std::copy(buffer.begin() + static_cast<long>(done), buffer.begin() + static_cast<long>(have), buffer.begin());
    offset += done;
  }
}

// What the first reading learns: the checks' findings and the characters used.
struct TextScan {
  uint64_t bytes = 0, characters = 0, controls = 0;
  std::string utf8_error;   // the first invalid sequence; the byte checks still cover the whole text
  std::vector<bool> used;   // by code point
};

TextScan scan_text(const ReadAt& read_at) {
  TextScan t;
  t.used.assign(0x80, false);
  t.bytes = read_pieces(
      read_at,
      [&t](const unsigned char* s, size_t n, bool last, uint64_t offset) -> size_t {
        if (!t.utf8_error.empty()) return n;
        try {
          return decode_piece(s, n, last, offset, [&t](char32_t c) {
            if (c >= t.used.size()) t.used.resize(static_cast<size_t>(c) + 1, false);
            t.used[c] = true;
            ++t.characters;
          });
        } catch (const DatasetError& e) {
          t.utf8_error = e.what();
          return n;
        }
      },
      [&t](const unsigned char* s, size_t n) {
        // Text files have no NUL bytes and few control characters; anything else is a binary file.
        for (size_t i = 0; i < n; ++i) {
          if (s[i] == 0) throw DatasetError("this is a binary file (it contains NUL bytes), not text");
          if (s[i] < 0x20 && s[i] != '\n' && s[i] != '\r' && s[i] != '\t' && s[i] != '\f') ++t.controls;
        }
      });
  if (t.bytes == 0) throw DatasetError("the file is empty");
  if (t.controls * 100 > t.bytes) throw DatasetError("this looks like a binary file: too many control bytes");
  if (!t.utf8_error.empty()) throw DatasetError(t.utf8_error);
  if (t.characters < static_cast<uint64_t>(TextDataset::kMinCharacters))
    throw DatasetError("too short: " + std::to_string(t.characters) + " characters, at least " +
                       std::to_string(TextDataset::kMinCharacters) + " are needed");
  return t;
}

std::string memory_shortage(const std::string& what, uint64_t text_bytes, uint64_t characters) {
  return "not enough memory to load " + what + " (" + format_bytes(static_cast<double>(text_bytes)) + " of text → " +
         format_bytes(static_cast<double>(characters) * sizeof(int32_t)) + " of tokens)";
}

// The token array at its final size. mimalloc as Debian builds it (in C) aborts the process when operator new finds
// no memory (an address-space limit, a cgroup), whatever the new_handler: a nothrow allocation of the same size asks
// first, so that a shortage is said.
void reserve_tokens(TextDataset& d, uint64_t characters) {
  const size_t bytes = static_cast<size_t>(characters) * sizeof(int32_t);
  void* probe = ::operator new(bytes, std::nothrow);
  if (!probe) throw std::bad_alloc();
  ::operator delete(probe);
  d.tokens.reserve(static_cast<size_t>(characters));
}

// The second reading: every character's id, into an array allocated once at its final size.
void number_text(const ReadAt& read_at, const TextScan& scan, TextDataset& d) {
  std::vector<int32_t> id_of(scan.used.size(), -1);
  std::u32string chars;
  for (size_t c = 0; c < scan.used.size(); ++c)
    if (scan.used[c]) id_of[c] = static_cast<int32_t>(chars.size()), chars.push_back(static_cast<char32_t>(c));
  d.vocab = Vocabulary(chars);
  d.tokens.resize(scan.characters);  // reserved: no allocation
  size_t at = 0;
  auto changed = [] { return DatasetError("the file changed while it was read"); };
  read_pieces(
      read_at,
      [&](const unsigned char* s, size_t n, bool last, uint64_t offset) {
        return decode_piece(s, n, last, offset, [&](char32_t c) {
          if (c >= id_of.size() || id_of[c] < 0 || at == d.tokens.size()) throw changed();
          d.tokens[at++] = id_of[c];
        });
      },
      [](const unsigned char*, size_t) {});
  if (at != d.tokens.size()) throw changed();
}

// A dataset from a text read twice (`what` names it in errors): first to check it and find its characters, then,
// once the token array is known to fit this machine's memory, to fill it.
TextDataset load(const ReadAt& read_at, const std::string& what, const std::string& name) {
  TextScan scan;
  try {
    scan = scan_text(read_at);
  } catch (const DatasetError& e) {
    throw DatasetError(what + ": " + e.what());
  }
  const double available = available_host_memory();
  if (available > 0 && static_cast<double>(scan.characters) * sizeof(int32_t) > available)
    throw DatasetError(memory_shortage(what, scan.bytes, scan.characters) + " but this machine has " +
                       format_bytes(available) + " available");
  TextDataset d;
  d.name = name;
  try {
    reserve_tokens(d, scan.characters);
    number_text(read_at, scan, d);
  } catch (const std::bad_alloc&) {
    throw DatasetError(memory_shortage(what, scan.bytes, scan.characters));
  } catch (const DatasetError& e) {
    throw DatasetError(what + ": " + e.what());
  }
  d.n_train = static_cast<int64_t>(TextDataset::kTrainFraction * static_cast<double>(scan.characters));
  return d;
}

}  // namespace

TextDataset TextDataset::from_file(const std::string& path) {
  try {
    const FileReader file(path);  // refuses a folder or a FIFO at once (a FIFO's open would wait for a writer)
    TextDataset d = load([&file](uint64_t offset, char* data, size_t size) { return file.read_at(offset, data, size); },
                         "'" + path + "'", path.substr(path.find_last_of('/') + 1));
    if (file.changed_since_open()) throw DatasetError("'" + path + "': the file changed while it was read");
    return d;
  } catch (const DatasetError&) {
    throw;
  } catch (const std::bad_alloc&) {  // a piece buffer or the vocabulary: the text's size is not known yet
    throw DatasetError("not enough memory to start loading '" + path + "'");
  } catch (const std::runtime_error& e) {  // it cannot be opened or read; the message names it
    throw DatasetError(e.what());
  }
}

TextDataset TextDataset::from_text(const std::string& utf8, const std::string& name) {
  const ReadAt read_at = [&utf8](uint64_t offset, char* data, size_t size) -> size_t {
    if (offset >= utf8.size()) return 0;
    const size_t n = std::min<size_t>(size, utf8.size() - static_cast<size_t>(offset));
    std::memcpy(data, utf8.data() + offset, n);
    return n;
  };
  return load(read_at, "'" + name + "'", name);
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
