#include "core/base/files.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <sys/stat.h>

namespace moewb {

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd_ < 0) fail("write");
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(tmp_.c_str());
}

void AtomicFileWriter::fail(const char* what) {
  const std::string reason = std::strerror(errno);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  throw std::runtime_error(std::string("cannot ") + what + " '" + path_ + "': " + reason);
}

void AtomicFileWriter::write(const void* data, size_t size) {
  write_at(end_, data, size);
  end_ += size;
}

void AtomicFileWriter::write_at(uint64_t offset, const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  for (size_t written = 0; written < size;) {
    const ssize_t n = ::pwrite(fd_, bytes + written, size - written, static_cast<off_t>(offset + written));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    written += static_cast<size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  if (::fsync(fd_) != 0) fail("sync");
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail("write");
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("replace");
}

void atomic_write(const std::string& path, const std::string& bytes) {
  AtomicFileWriter out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

namespace {
int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + static_cast<int64_t>(st.st_mtim.tv_nsec);
}
}  // namespace

FileReader::FileReader(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);  // a FIFO's open must not wait for a writer
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) {
    const std::string reason = std::strerror(errno);
    if (fd_ >= 0) ::close(fd_);
    throw std::runtime_error("cannot open '" + path + "': " + reason);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw std::runtime_error("cannot read '" + path + "': " +
                             (S_ISDIR(st.st_mode) ? "it is a folder" : "it is not a regular file"));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  mtime_ns_ = mtime_ns(st);
}

bool FileReader::changed_since_open() const {
  struct stat st {};
  return ::fstat(fd_, &st) != 0 || static_cast<uint64_t>(st.st_size) != size_ || mtime_ns(st) != mtime_ns_;
}

FileReader::~FileReader() { ::close(fd_); }

size_t FileReader::read_at(uint64_t offset, void* data, size_t size) const {
  char* bytes = static_cast<char*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd_, bytes + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot read '" + path_ + "': " + std::strerror(errno));
    if (n == 0) break;  // end of file
    done += static_cast<size_t>(n);
  }
  return done;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

namespace {
std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// $HOME, else the password database's home (a service started without HOME).
std::string home_directory() {
  std::string home = environment("HOME");
  if (home.empty())
    if (const passwd* entry = ::getpwuid(::getuid()); entry && entry->pw_dir) home = entry->pw_dir;
  return home;
}
}  // namespace

std::string default_runs_directory() {
  if (std::string dir = environment("MOEWB_RUNS_DIR"); !dir.empty()) return dir;
  // the spec says to ignore a relative XDG_DATA_HOME
  std::string data = environment("XDG_DATA_HOME");
  if (data.empty() || data.front() != '/') data = home_directory() + "/.local/share";
  return data + "/moewb/runs";
}

}  // namespace moewb
