// Who may connect to `amrepo serve` and what each may do with which document: the token file
// (--auth-token-file) and the access rules file (--access-rules). docs/security.md describes
// both formats with examples.
//
// Token file: one token per line, optionally after a principal name ("alice 3f9c..."); a line
// with only a token names its principal "token-N" (N = its line number). Blank lines and lines
// starting with '#' are skipped. Tokens are at least 16 characters without spaces; names are
// unique.
//
// Rules file: one rule per line, "PRINCIPAL ACCESS DOCUMENT...", where PRINCIPAL is a name from
// the token file or '*', ACCESS is none, read or write, and each DOCUMENT is a document id
// (bare or automerge: URL) or '*'. The first rule that matches (principal and document) decides;
// when none does, the answer is none. Peers the server dialed itself (--peer) are not subject to
// the rules.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "am/repo/ids.h"
#include "am/repo/share_policy.h"
#include "am/result.h"

namespace amrepo {

/// Whether two secrets are equal, in time that depends only on their lengths (not on where
/// the bytes differ): for bearer and admin tokens.
bool same_secret(std::string_view a, std::string_view b);

/// The tokens a server accepts and the principal each stands for. Value type.
class TokenTable {
 public:
  /// Parses the token file's text; kInvalidArgument naming the line for anything malformed.
  [[nodiscard]] static am::Result<TokenTable> parse(std::string_view text);
  /// Reads and parses `path`; kIOError when it cannot be read.
  [[nodiscard]] static am::Result<TokenTable> load(const std::string& path);

  /// The principal of `token`, or an error saying why it is refused (missing or unknown).
  /// Compares in time independent of where a wrong token differs.
  [[nodiscard]] am::Result<std::string> authenticate(std::string_view token) const;

  std::set<std::string> principals() const;
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;  // (token, principal)
};

/// The rules file. Value type.
class AccessRules {
 public:
  /// Parses the rules file's text; kInvalidArgument naming the line for anything malformed,
  /// including a principal that is not in `known_principals` (a typo would silently deny).
  [[nodiscard]] static am::Result<AccessRules> parse(std::string_view text,
                                                     const std::set<std::string>& known_principals);
  [[nodiscard]] static am::Result<AccessRules> load(const std::string& path,
                                                    const std::set<std::string>& known_principals);

  /// What `principal` may do with `document` (the first matching rule; kNone when none).
  am::repo::DocumentAccess decide(const std::string& principal, const am::repo::DocumentId& document) const;

 private:
  struct Rule {
    std::string principal;  // "*" matches every principal
    am::repo::DocumentAccess access = am::repo::DocumentAccess::kNone;
    bool all_documents = false;
    std::set<am::repo::DocumentId> documents;
  };
  std::vector<Rule> rules_;
};

/// The server's share policy: `base` decides announce() and access() as before; access_level()
/// follows `rules` for authenticated peers (nonempty principal) and gives everyone else what
/// `base` gives. Thread safety: immutable after construction; safe from any thread.
std::shared_ptr<const am::repo::SharePolicy> rules_policy(std::shared_ptr<const am::repo::SharePolicy> base,
                                                          AccessRules rules);

}  // namespace amrepo
