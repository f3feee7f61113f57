#include "core/util/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <new>

namespace am::util {
namespace {

// Fetched once per process: the implicit fetch inside EVP_Digest costs ~50% extra per call.
const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) std::abort();  // libcrypto without SHA-256 is a broken installation
    return m;
  }();
  return md;
}

struct CtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_MD_CTX, CtxDeleter>;

CtxPtr new_ctx() {
  CtxPtr c(EVP_MD_CTX_new());
  if (!c) throw std::bad_alloc();
  return c;
}

void check(int ok) {
  // These calls fail only on allocation failure or a broken libcrypto.
  if (ok != 1) throw std::bad_alloc();
}

}  // namespace

Sha256Digest sha256(std::initializer_list<ByteView> parts) {
  thread_local CtxPtr ctx = new_ctx();
  check(EVP_DigestInit_ex2(ctx.get(), sha256_md(), nullptr));
  for (ByteView p : parts) check(EVP_DigestUpdate(ctx.get(), p.data(), p.size()));
  Sha256Digest out;
  unsigned int len = 0;
  check(EVP_DigestFinal_ex(ctx.get(), out.data(), &len));
  return out;
}

struct Sha256::Ctx {
  CtxPtr ctx = new_ctx();
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  check(EVP_DigestInit_ex2(ctx_->ctx.get(), sha256_md(), nullptr));
}
Sha256::~Sha256() = default;

void Sha256::update(ByteView data) { check(EVP_DigestUpdate(ctx_->ctx.get(), data.data(), data.size())); }

Sha256Digest Sha256::finish() {
  Sha256Digest out;
  unsigned int len = 0;
  check(EVP_DigestFinal_ex(ctx_->ctx.get(), out.data(), &len));
  check(EVP_DigestInit_ex2(ctx_->ctx.get(), sha256_md(), nullptr));
  return out;
}

}  // namespace am::util
