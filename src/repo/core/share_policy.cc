#include "am/repo/share_policy.h"

namespace am::repo {
namespace {

class FixedPolicy final : public SharePolicy {
 public:
  FixedPolicy(bool announce, bool access) : announce_(announce), access_(access) {}
  bool announce(const PeerId&, const DocumentId&) const override { return announce_; }
  bool access(const PeerId&, const DocumentId&) const override { return access_; }

 private:
  bool announce_;
  bool access_;
};

}  // namespace

std::shared_ptr<const SharePolicy> share_everything() {
  static const auto policy = std::make_shared<const FixedPolicy>(true, true);
  return policy;
}

std::shared_ptr<const SharePolicy> answer_requests_only() {
  static const auto policy = std::make_shared<const FixedPolicy>(false, true);
  return policy;
}

}  // namespace am::repo
