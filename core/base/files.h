// Crash-safe file writes: write to a temporary file beside the target, fsync, rename over the target.
#pragma once

#include <cstdint>
#include <string>

namespace moewb {

// Throws std::runtime_error naming the path when any step fails; the target is then left untouched.
void atomic_write(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);  // throws std::runtime_error
bool file_exists(const std::string& path);

// Where new runs go unless the user names a folder, the same for the app and the CLI: $MOEWB_RUNS_DIR, else
// $XDG_DATA_HOME/moewb/runs, else ~/.local/share/moewb/runs (the XDG base directory spec's default).
std::string default_runs_directory();

// atomic_write for files written in pieces (a checkpoint as its archive streams out), so that a file of several
// GiB never has to be held in memory whole. The pieces go to PATH.tmp; commit() syncs it and renames it over
// PATH. A writer destroyed without commit() (an exception on the way) removes PATH.tmp and leaves PATH as it was.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);
  // Overwrites bytes already written (a header whose length is known only at the end).
  void write_at(uint64_t offset, const void* data, size_t size);
  void commit();

 private:
  [[noreturn]] void fail(const char* what);
  std::string path_, tmp_;
  int fd_ = -1;
  uint64_t end_ = 0;  // where write() appends
};

// Reads a regular file in pieces at any offset, for archives read record by record instead of whole.
class FileReader {
 public:
  // Throws std::runtime_error when it cannot be opened or is not a regular file (a folder, a device, a FIFO,
  // whose open would wait for a writer).
  explicit FileReader(const std::string& path);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  uint64_t size() const { return size_; }
  // Up to `size` bytes from `offset` (fewer at the end of the file); throws std::runtime_error on a read error.
  size_t read_at(uint64_t offset, void* data, size_t size) const;
  // Whether the file was written since it was opened (its size or modification time differ): a file replaced by
  // a rename stays the one opened, one rewritten in place does not.
  bool changed_since_open() const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  int64_t mtime_ns_ = 0;
};

}  // namespace moewb
