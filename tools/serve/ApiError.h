//===- ApiError.h - An OpenAI-style error answer --------------------------===//
#ifndef MOELA_TOOLS_SERVE_APIERROR_H
#define MOELA_TOOLS_SERVE_APIERROR_H

#include <stdexcept>
#include <string>

namespace moela::serve {

/// Becomes {"error": {"message", "type", "param", "code"}} with `status`.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string param = {},
           std::string code = {})
      : std::runtime_error(std::move(message)), status(status),
        param(std::move(param)), code(std::move(code)) {}

  /// invalid_request_error (4xx but 404), not_found_error, server_error.
  std::string type() const {
    return status == 404  ? "not_found_error"
           : status < 500 ? "invalid_request_error"
                          : "server_error";
  }

  int status;
  std::string param, code;
};

} // namespace moela::serve

#endif // MOELA_TOOLS_SERVE_APIERROR_H
