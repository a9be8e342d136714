// PartialStore: one user's unfinished uploads, the one owner of them.
//
// They live in DATA/partials/USER, outside the home, so no session ever sees half a file. Each is named after the
// canonical target path, so a resumed upload finds its partial again, and is locked (flock) while an upload holds it,
// so two uploads of one target cannot interleave and the stale-partial sweep never removes one in use.
// Thread-compatible: one store per logged-in session; the sweep is a static function over the whole folder.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ferry::service {

class PartialStore {
 public:
  // Opens (creating if needed, mode 0700) the folder of `user`'s partials under `partials_root`, which keeps at most
  // `max_kept` unfinished uploads that no upload holds.
  static Result<PartialStore> Open(const std::string& partials_root, std::string_view user,
                                   std::size_t max_kept = kDefaultMaxKept);
  static constexpr std::size_t kDefaultMaxKept = 32;

  // Opens the partial of the upload to `canonical_target` (a virtual path), creating it empty if there is none, and
  // locks it. EBUSY when another upload holds it. A new partial that makes more than max_kept deletes the partials
  // written to least recently (never one an upload holds): `evicted_bytes` says how many bytes they held.
  struct Locked {
    UniqueFd file;
    std::string name;  // in this store
    bool created = false;  // made empty now, rather than found
    bool mode_set = false;  // made now with the mode asked for: nothing needs to set it again
    std::uint64_t evicted_bytes = 0;
  };
  // A partial made now gets `mode` when that keeps the owner's read and write (so a resume can open it again) and
  // nothing narrows it (the umask leaves it whole, and the folder has no default ACL); otherwise 0600, and the caller
  // sets the mode when it publishes the file.
  Result<Locked> Lock(std::string_view canonical_target, mode_t mode = 0600) const;
  // The size of the partial of `canonical_target`, or ENOENT when there is none (it is not locked: a size only).
  Result<std::uint64_t> Size(std::string_view canonical_target) const;
  // Deletes a partial by its name in this store.
  void Remove(const std::string& name) const;

  // The store's folder, for renaming a finished partial into the home and for measuring usage.
  int fd() const { return fd_.get(); }

  // Deletes partials under `partials_root` (every user's) not written to for `max_age_seconds`, skipping any an
  // upload holds (locked), and calls `removed` (if given) with the user and size of each. Returns how many went.
  static int RemoveStale(const std::string& partials_root, std::int64_t max_age_seconds,
                         const std::function<void(const std::string& user, std::uint64_t bytes)>& removed = {});

 private:
  PartialStore(UniqueFd fd, std::size_t max_kept, mode_t narrowing)
      : fd_(std::move(fd)), max_kept_(max_kept), narrowing_(narrowing) {}
  // Deletes the oldest partials other than `keep` that no upload holds until at most max_kept remain; their bytes.
  std::uint64_t Evict(const std::string& keep) const;

  UniqueFd fd_;
  std::size_t max_kept_;
  // The mode bits a file made in the folder may lose: the umask, or all of them when a default ACL decides instead.
  mode_t narrowing_;
  // The partials the folder held at the last look, plus those this store made since (none are subtracted), and
  // when that look was: a new partial looks again only when this count could pass the bound, or after a second
  // (other sessions of the user may have added some). A tree of small files then costs one look, not one each.
  mutable std::size_t counted_ = 0;
  mutable std::chrono::steady_clock::time_point looked_{};
};

}  // namespace ferry::service
