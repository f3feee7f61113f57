#include "access_rules.h"

#include <fstream>
#include <sstream>
#include <utility>

namespace amrepo {
namespace {

constexpr std::size_t kMinTokenLength = 16;

// The whitespace-separated words of each meaningful line, with its 1-based line number.
std::vector<std::pair<std::size_t, std::vector<std::string>>> meaningful_lines(std::string_view text) {
  std::vector<std::pair<std::size_t, std::vector<std::string>>> out;
  std::istringstream in{std::string(text)};
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    std::istringstream words(line);
    std::vector<std::string> parts;
    for (std::string w; words >> w;) parts.push_back(w);
    if (parts.empty() || parts.front().front() == '#') continue;
    out.emplace_back(number, std::move(parts));
  }
  return out;
}

am::Error bad_line(std::string_view file, std::size_t line, const std::string& why) {
  return am::Error::invalid_argument(std::string(file) + " line " + std::to_string(line), why);
}

am::Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return am::fail(am::Error::io_error(path, "cannot be read"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}


class RulesPolicy final : public am::repo::SharePolicy {
 public:
  RulesPolicy(std::shared_ptr<const am::repo::SharePolicy> base, AccessRules rules)
      : base_(std::move(base)), rules_(std::move(rules)) {}
  bool announce(const am::repo::PeerId& peer, const am::repo::DocumentId& document) const override {
    return base_->announce(peer, document);
  }
  bool access(const am::repo::PeerId& peer, const am::repo::DocumentId& document) const override {
    return base_->access(peer, document);
  }
  am::repo::DocumentAccess access_level(const am::repo::PeerId& peer, const std::string& principal,
                                        const am::repo::DocumentId& document) const override {
    if (principal.empty()) return base_->access_level(peer, principal, document);
    return rules_.decide(principal, document);
  }

 private:
  std::shared_ptr<const am::repo::SharePolicy> base_;
  AccessRules rules_;
};

}  // namespace

bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

am::Result<TokenTable> TokenTable::parse(std::string_view text) {
  constexpr std::string_view kFile = "token file";
  TokenTable table;
  std::set<std::string> names;
  for (auto& [line, words] : meaningful_lines(text)) {
    if (words.size() > 2) return am::fail(bad_line(kFile, line, "expected 'TOKEN' or 'NAME TOKEN'"));
    std::string name = words.size() == 2 ? words[0] : "token-" + std::to_string(line);
    const std::string& token = words.back();
    if (token.size() < kMinTokenLength) {
      return am::fail(bad_line(kFile, line, "a token must be at least " + std::to_string(kMinTokenLength) +
                                                " characters (try: openssl rand -hex 32)"));
    }
    if (name == "*") return am::fail(bad_line(kFile, line, "'*' is reserved for rules matching everyone"));
    if (!names.insert(name).second) return am::fail(bad_line(kFile, line, "the name " + name + " appears twice"));
    for (const auto& [known, who] : table.entries_) {
      if (known == token) return am::fail(bad_line(kFile, line, "the same token as " + who));
    }
    table.entries_.emplace_back(token, std::move(name));
  }
  if (table.entries_.empty()) return am::fail(am::Error::invalid_argument(std::string(kFile), "no tokens"));
  return table;
}

am::Result<TokenTable> TokenTable::load(const std::string& path) {
  AM_TRY_ASSIGN(std::string text, read_file(path));
  auto table = parse(text);
  if (!table) return am::fail(am::Error::invalid_argument(path, table.error().message));
  return table;
}

am::Result<std::string> TokenTable::authenticate(std::string_view token) const {
  if (token.empty()) return am::fail(am::Error::invalid_argument("a bearer token is required"));
  const std::string* found = nullptr;
  for (const auto& [known, principal] : entries_) {
    if (same_secret(known, token) && found == nullptr) found = &principal;  // no early exit
  }
  if (found == nullptr) return am::fail(am::Error::invalid_argument("the token is not valid"));
  return *found;
}

std::set<std::string> TokenTable::principals() const {
  std::set<std::string> out;
  for (const auto& entry : entries_) out.insert(entry.second);
  return out;
}

am::Result<AccessRules> AccessRules::parse(std::string_view text, const std::set<std::string>& known_principals) {
  constexpr std::string_view kFile = "access rules";
  AccessRules rules;
  for (auto& [line, words] : meaningful_lines(text)) {
    if (words.size() < 3) return am::fail(bad_line(kFile, line, "expected 'PRINCIPAL none|read|write DOCUMENT...'"));
    Rule rule;
    rule.principal = words[0];
    if (rule.principal != "*" && known_principals.count(rule.principal) == 0) {
      return am::fail(bad_line(kFile, line, "no token is named " + rule.principal));
    }
    if (words[1] == "none") {
      rule.access = am::repo::DocumentAccess::kNone;
    } else if (words[1] == "read") {
      rule.access = am::repo::DocumentAccess::kRead;
    } else if (words[1] == "write") {
      rule.access = am::repo::DocumentAccess::kWrite;
    } else {
      return am::fail(bad_line(kFile, line, "access must be none, read or write, not " + words[1]));
    }
    for (std::size_t i = 2; i < words.size(); ++i) {
      if (words[i] == "*") {
        rule.all_documents = true;
        continue;
      }
      auto id = am::repo::parse_document_id_loose(words[i]);
      if (!id) return am::fail(bad_line(kFile, line, "not a document id: " + words[i]));
      rule.documents.insert(*id);
    }
    rules.rules_.push_back(std::move(rule));
  }
  return rules;
}

am::Result<AccessRules> AccessRules::load(const std::string& path, const std::set<std::string>& known_principals) {
  AM_TRY_ASSIGN(std::string text, read_file(path));
  auto rules = parse(text, known_principals);
  if (!rules) return am::fail(am::Error::invalid_argument(path, rules.error().message));
  return rules;
}

am::repo::DocumentAccess AccessRules::decide(const std::string& principal,
                                             const am::repo::DocumentId& document) const {
  for (const Rule& rule : rules_) {
    if (rule.principal != "*" && rule.principal != principal) continue;
    if (rule.all_documents || rule.documents.count(document) != 0) return rule.access;
  }
  return am::repo::DocumentAccess::kNone;
}

std::shared_ptr<const am::repo::SharePolicy> rules_policy(std::shared_ptr<const am::repo::SharePolicy> base,
                                                          AccessRules rules) {
  return std::make_shared<const RulesPolicy>(std::move(base), std::move(rules));
}

}  // namespace amrepo
