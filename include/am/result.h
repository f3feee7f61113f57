// Error and Result<T>: how every fallible call in the library reports failure.
//
// A failure is a small closed set of codes plus a human-readable message that names the
// offending value. Bytes from disk or network never throw, abort or invoke undefined
// behaviour: malformed input yields ErrorCode::kCorruption (stored data) or kProtocol
// (network messages). Only std::bad_alloc may escape a public function as an exception.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace am {

/// The closed set of failure categories. Callers branch on the code, humans read the message.
enum class ErrorCode {
  kInvalidArgument,    ///< API misuse that depends on runtime data (bad index, foreign object id)
  kCorruption,         ///< malformed or inconsistent stored bytes (chunks, columns, documents)
  kNotFound,           ///< a requested item does not exist
  kMissingDependency,  ///< a change refers to changes that are not present
  kUnsupported,        ///< well-formed input using a feature this implementation does not handle
  kIOError,            ///< the operating system refused a read or write
  kProtocol,           ///< a peer sent something the protocol does not allow
  kTimeout,            ///< a deadline passed
  kCancelled,          ///< the operation was stopped on request
  kResourceLimit,      ///< input exceeds a configured limit (size, depth, decompression cap)
  kInternal,           ///< a bug in this library
};

/// Short lowercase name of a code, e.g. "corruption". Never returns null.
const char* error_code_name(ErrorCode code) noexcept;

/// A failure: a code and a message. Value type, cheap to move.
/// Thread safety: distinct objects safe; a shared const object safe.
struct Error {
  ErrorCode code = ErrorCode::kInternal;  ///< what kind of failure, to branch on
  std::string message;                    ///< what happened, for people

  Error() = default;
  /// An error with this code and message.
  Error(ErrorCode c, std::string msg) : code(c), message(std::move(msg)) {}

  /// @name Factories
  /// Each makes an error of its code with the message "what: detail" (or "what").
  ///@{
  static Error invalid_argument(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error corruption(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error not_found(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error missing_dependency(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error unsupported(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error io_error(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error protocol(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error timeout(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error cancelled(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error resource_limit(std::string_view what, std::string_view detail = {});  ///< an error of this code
  static Error internal(std::string_view what, std::string_view detail = {});  ///< an error of this code
  ///@}

  /// "corruption: change chunk: checksum mismatch"
  std::string to_string() const;

  /// Returns a copy whose message is prefixed with `context: ` (for adding where an error arose).
  Error with_context(std::string_view context) const;
};

/// The result of a fallible call: a T or an Error. Same API as C++23 std::expected.
template <class T>
using Result = tl::expected<T, Error>;

/// Result<void>-style success value.
using Status = tl::expected<void, Error>;

/// Shorthand to return an error from a function returning Result<T> or Status.
inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

}  // namespace am

/// Propagates the error of a Result/Status expression, otherwise evaluates to nothing.
#define AM_TRY_STATUS(expr)                                   \
  do {                                                        \
    auto am_try_status_ = (expr);                             \
    if (!am_try_status_) return ::am::fail(std::move(am_try_status_).error()); \
  } while (0)

#define AM_CONCAT_INNER_(a, b) a##b
#define AM_CONCAT_(a, b) AM_CONCAT_INNER_(a, b)

/// `AM_TRY_ASSIGN(auto x, expr);` declares x from the value of a Result expression, or returns
/// its error from the enclosing function.
#define AM_TRY_ASSIGN(decl, expr) AM_TRY_ASSIGN_IMPL_(AM_CONCAT_(am_try_, __LINE__), decl, expr)
#define AM_TRY_ASSIGN_IMPL_(tmp, decl, expr)                  \
  auto tmp = (expr);                                          \
  if (!tmp) return ::am::fail(std::move(tmp).error());        \
  decl = std::move(*tmp)
