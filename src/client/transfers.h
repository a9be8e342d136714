// Transfers: put and get of files and trees, verified end to end, resumable, pipelined for many small files.
//
// Every file moves with a running checksum on both sides; the receiver compares them before the file appears
// under its name (servers rename a verified partial upload; here a download is written to ".NAME.ferry-part" beside
// the target and renamed). Modes and modification times travel with the data.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "client/client_session.h"
#include "client/progress_bar.h"
#include "common/status.h"
#include "protocol/operations.h"
#include "transfer/checksum.h"

namespace ferry::client {

struct TransferOptions {
  bool recursive = false;
  bool resume = false;  // continue a partial transfer after checking that its prefix still matches the source
  bool quiet = false;
  transfer::ChecksumAlgorithm algorithm = transfer::kDefaultChecksum;
  // Trees (-r) into a destination that exists are synchronised: a file the other side already has with the same size
  // and modification time (with `checksum`, the same size and checksum) is not sent again.
  bool checksum = false;
  bool delete_extra = false;  // --delete: remove what the source no longer has from the destination's folders
  bool dry_run = false;       // --dry-run: print what would be sent and removed, change nothing
  int max_retries = 3;  // reconnections after a dropped connection (single files)
  std::uint64_t limit_rate = 0;  // --limit-rate: at most this many bytes a second (0: no limit)
};

// Keeps a transfer at or under a rate (curl's --limit-rate, rsync's --bwlimit): each piece moved is counted, and when
// the count is ahead of the rate since Start, Took sleeps until it is not (a Ctrl-C ends the sleep).
class RatePace {
 public:
  void Start(std::uint64_t bytes_per_second);
  void Took(std::uint64_t bytes);

 private:
  std::uint64_t rate_ = 0;
  std::uint64_t bytes_ = 0;
  std::chrono::steady_clock::time_point start_;
};

class Transfers {
 public:
  // REQUIRES: `session` is open and outlives this object. `remote_cwd` gives the remote folder to return to after
  // a reconnection.
  Transfers(ClientSession& session, std::function<std::string()> remote_cwd)
      : session_(session), remote_cwd_(std::move(remote_cwd)) {}

  // put LOCAL [REMOTE]: REMOTE defaults to LOCAL's name in the remote folder; an existing remote folder (or a path
  // ending in '/') receives the file under its own name. An existing remote file is replaced, atomically.
  Status Put(const std::string& local, const std::string& remote, const TransferOptions& options);
  // get REMOTE [LOCAL]: the mirror image.
  Status Get(const std::string& remote, const std::string& local, const TransferOptions& options);
  // The last Put or Get was a tree that failed in part: some of its files or folders failed (each was reported), not
  // the tree as a whole.
  bool failed_in_part() const { return failed_in_part_; }

 private:
  struct LocalFile {
    std::string path;     // on this machine
    std::string remote;   // on the server
    std::uint64_t size = 0;
    std::uint32_t mode = 0644;
    std::int64_t mtime = 0;
    std::uint32_t mtime_nsec = 0;
    std::uint32_t folder = 0;  // in a LocalTree: the index of its folder in `folders`
    // In a LocalTree: the name in its folder. The scan sets this, not path and remote: PlaceFile gives them to the
    // files that are uploaded or compared by checksum, so an unchanged tree makes no paths.
    std::string name;
  };
  struct RemoteFile {
    std::string remote;
    std::string local;
    std::uint64_t size = 0;
    // The local target is a device or pipe (/dev/null, a FIFO): written in place, never replaced by a rename.
    bool direct = false;
    std::int64_t mtime = 0;  // the server's, when known (a tree's listing)
    std::uint32_t mtime_nsec = 0;
    // Its folder was made by this download, so nothing had the local name: it need not be looked for first.
    bool absent = false;
  };

  Connection& connection() { return session_.connection(); }
  // True when the server holds file.remote with the same size and checksum as the local file open as `fd`.
  Result<bool> AlreadyOnServer(int fd, const LocalFile& file, transfer::ChecksumAlgorithm algorithm);
  // True when the local folder `local` holds something, and only names of the remote folder `remote` (or partial
  // downloads of them): a copy of it that a `get -r` began.
  Result<bool> IsInterruptedCopyOf(const std::string& remote, const std::string& local);
  // Runs `attempt` and, when the connection dropped, reconnects and runs it again with resume on.
  Status WithRetries(const TransferOptions& options, const std::function<Status(bool resume)>& attempt);
  Status UploadFile(const LocalFile& file, bool resume, const TransferOptions& options, ProgressBar& bar);
  Status UploadTree(const std::string& local_root, const std::string& remote_root, const TransferOptions& options);
  // A local folder to upload: its folders (local, remote; the root first) and files.
  struct LocalTree {
    std::vector<std::pair<std::string, std::string>> folders;
    std::vector<LocalFile> files;
    std::uint64_t total = 0;  // bytes
    Status unreadable = Status::Ok();  // the first entry that could not be looked at (each is warned of)
  };
  // Sets the path and remote path of a file of `tree` from its folder's and its name.
  static void PlaceFile(const LocalTree& tree, LocalFile& file);
  // Finds the folders and regular files below `local_root` (links are skipped, with a warning), calling `on_folder`
  // with the remote path of each folder as it is found, the root first, and `after_folder` when one has been read.
  Status ScanLocalTree(const std::string& local_root, const std::string& remote_root, LocalTree& tree,
                       const std::function<void(const std::string& remote)>& on_folder = {},
                       const std::function<void()>& after_folder = {});
  // The steps of UploadTree; each keeps the first failure in `first_failure` and warns of every one.
  void MakeRemoteFolders(const LocalTree& tree, Status& first_failure);
  void UploadFiles(const LocalTree& tree, const TransferOptions& options, ProgressBar& bar, Status& first_failure);
  Status DownloadFile(const RemoteFile& file, bool resume, const TransferOptions& options, ProgressBar& bar);
  // Reads the frames of one get (already sent as request `id`) into `partial`, starting at `offset`, with
  // `checksum` holding the hash of the prefix; verifies and renames to file.local.
  Status ReceiveDownload(std::uint64_t id, const RemoteFile& file, const std::string& partial, std::uint64_t offset,
                         transfer::Checksum checksum, ProgressBar& bar);
  Status DownloadTree(const std::string& remote_root, const std::string& local_root, const TransferOptions& options);
  // A remote folder's entries, sorted by name, no two alike (one vector per folder: a listing of 10,000 files makes
  // no node and no key of its own per entry).
  using RemoteListing = std::vector<protocol::DirectoryEntry>;
  // The entries of remote folders, by folder: what a synchronising put -r compares with.
  using RemoteFolders = std::map<std::string, RemoteListing>;
  // The entry of `listing` named `name`; nullptr when there is none.
  static const protocol::DirectoryEntry* FindEntry(const RemoteListing& listing, std::string_view name);
  // Lists remote folders into `listed` (those that exist), pipelined: up to kWindow listings in flight, their
  // answers read in order. Add queues one; Add and Pump send what the window has room for and read the answers that
  // have arrived, never waiting for one, so the caller goes on with its own work (the local scan) while the server
  // lists; Finish sends and reads the rest. After a failure (other than a folder that does not exist) nothing more
  // is sent, and Finish reads what is still on its way and returns that failure.
  class FolderLister {
   public:
    FolderLister(Connection& connection, RemoteFolders& listed);
    void Add(const std::string& remote);
    void Pump();
    Status Finish();

   private:
    void SendWhatFits();
    void ReceiveOldest();
    Connection& connection_;
    RemoteFolders& listed_;
    std::deque<std::string> waiting_;  // not sent yet
    std::deque<std::pair<std::uint64_t, std::string>> in_flight_;
    Status failed_ = Status::Ok();
  };
  // Whether the server's `remote` and the local `path` have the same checksum.
  Result<bool> SameChecksum(const std::string& remote, const std::string& path, transfer::ChecksumAlgorithm algorithm);
  // True if `remote` is an existing folder on the server, false if it is something else or nothing; EPROTO for a
  // reply without the fields it needs.
  Result<bool> RemoteIsDirectory(const std::string& remote);
  static protocol::PutRequest PutRequestFor(const LocalFile& file, transfer::ChecksumAlgorithm algorithm, bool resume);
  // Reads and drops the frames of stream `id` up to its last, so the connection stays in step with the server.
  void DrainStream(std::uint64_t id);

  ClientSession& session_;
  std::function<std::string()> remote_cwd_;
  std::size_t already_complete_ = 0;  // files a resumed upload found complete on the server and did not send
  RatePace pace_;  // --limit-rate, for the transfer under way
  bool failed_in_part_ = false;  // the last Put or Get was a tree in which some entries failed
};

// Where a download to a local path is written.
struct LocalTarget {
  // "-" for this process's stdout, the path itself for what is written in place, else the file a chain of links
  // leads to (which may not exist yet).
  std::string path;
  // Written in place (stdout, a device, a FIFO, the terminal, any path of /dev or /proc), never replaced by a rename.
  bool direct = false;
};
// As cp, curl -o and sftp treat a target: "-" is stdout; a device or FIFO (/dev/null, /dev/stdout, a pipe) is
// written straight into; a symlink is written through to its target (existing or not), so the partial goes beside
// the target and the link stays. An error for a loop of links.
Result<LocalTarget> ResolveLocalTarget(const std::string& path);

// The hidden partial file a download of `local` is written to: ".NAME.ferry-part" in the same folder.
std::string PartialPathFor(const std::string& local);

}  // namespace ferry::client
