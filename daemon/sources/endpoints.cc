#include "daemon/sources/endpoints.h"

#include "daemon/io/fd_io.h"

namespace rollbackd {

std::map<std::string, PrometheusEndpoint> LoadEndpoints(const Config& config,
                                                        std::vector<std::string>* errors,
                                                        std::vector<std::string>* warnings) {
  std::map<std::string, PrometheusEndpoint> out;
  std::string err;
  auto read = [&](const std::string& path, const std::string& key, std::string* into) {
    if (auto content = ReadSecretFile(path, &err)) {
      std::string warning = SecretFileWarning(path, key);
      if (warnings != nullptr && !warning.empty()) warnings->push_back(std::move(warning));
      *into = std::move(*content);
    } else {
      errors->push_back(key + ": " + err);
    }
  };
  for (const PrometheusSource& src : config.sources) {
    PrometheusEndpoint ep;
    ep.config = src;
    if (!src.bearer_token_file.empty()) {
      read(src.bearer_token_file, "prometheus." + src.name + ".bearer_token_file",
           &ep.bearer_token);
    }
    if (!src.basic_auth_password_file.empty()) {
      read(src.basic_auth_password_file, "prometheus." + src.name + ".basic_auth.password_file",
           &ep.basic_password);
    }
    out.emplace(src.name, std::move(ep));
  }
  return out;
}

}  // namespace rollbackd
