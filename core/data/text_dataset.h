// Character-level datasets: strict UTF-8 decoding, the vocabulary (the text's character set, sorted by
// code point as nanoGPT's prepare.py does) and the 90/10 train/validation split. No torch, no Qt.
// A file is read twice in pieces (checks and characters, then token ids), never whole: loading a text takes its
// token array, 4 bytes a character, and little more.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace moewb {

struct DatasetError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Decodes UTF-8; throws DatasetError naming the byte offset of the first invalid sequence.
std::u32string decode_utf8(const std::string& bytes);
std::string encode_utf8(const std::u32string& text);
std::string encode_utf8(char32_t c);

class Vocabulary {
 public:
  Vocabulary() = default;
  explicit Vocabulary(std::u32string chars);  // sorted and de-duplicated here
  static Vocabulary of_text(const std::u32string& text);

  int size() const { return static_cast<int>(chars_.size()); }
  char32_t at(int id) const { return chars_.at(id); }
  // Token id of c, or -1 when c is not in the vocabulary.
  int id_of(char32_t c) const;
  // Throws DatasetError listing characters the vocabulary lacks.
  std::vector<int64_t> encode(const std::string& utf8) const;
  std::string decode(const std::vector<int64_t>& ids) const;
  // The characters as one UTF-8 string: how checkpoints store the vocabulary.
  std::string to_utf8() const { return encode_utf8(chars_); }
  bool operator==(const Vocabulary& o) const { return chars_ == o.chars_; }

 private:
  std::u32string chars_;
};

struct TextDataset {
  static constexpr double kTrainFraction = 0.9;  // nanoGPT's split
  static constexpr int kMinCharacters = 100;

  std::string name;  // file name or a label for text given directly
  Vocabulary vocab;
  std::vector<int32_t> tokens;  // ids, 4 bytes each (a vocabulary has at most 0x110000 characters)
  int64_t n_train = 0;  // tokens [0, n_train) train, the rest validation

  // Throws DatasetError: missing, not a regular file (a folder, a FIFO: refused at once), empty, binary,
  // non-UTF-8, too short, or larger than the memory available (naming the text's and the tokens' sizes).
  static TextDataset from_file(const std::string& path);
  static TextDataset from_text(const std::string& utf8, const std::string& name);

  int64_t train_size() const { return n_train; }
  int64_t val_size() const { return static_cast<int64_t>(tokens.size()) - n_train; }
  // The first `length` characters of the validation split: the fixed probe text of routing snapshots.
  std::string probe_text(int length) const;
  // FNV-1a over the token sequence as 16 hex digits: a run notices an edited corpus that kept its characters.
  std::string fingerprint() const;
};

}  // namespace moewb
