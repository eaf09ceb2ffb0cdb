// A real HTTP/1.1 server on 127.0.0.1:0 for tests (Boost.Beast, synchronous, one thread per
// connection), counting the connections it accepts. Routes: /ok, /echo (method, headers, body),
// /status/503, /slow (1.5 s), /big (3 MiB), /ready, /api/v1/query (echoes its form as labels),
// /headers (a few header fields, spaced and cased oddly). A target /date/<seconds>/<route> is
// <route> with a Date header of the server's clock plus <seconds> (Prometheus stamps its answers).
// /bytes/N[/STATUS] (N bytes streamed, never held whole: 'x's ending in "end\n"; 200 by default).
#ifndef ROLLBACKD_TESTS_UNIT_TEST_HTTP_SERVER_H_
#define ROLLBACKD_TESTS_UNIT_TEST_HTTP_SERVER_H_

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/io/http_date.h"

namespace rollbackd::testutil {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

inline std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

class TestServer {
 public:
  TestServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~TestServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
  }
  int port() const { return port_; }
  int connections() const { return connections_; }
  std::string Url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(port_) + target;
  }

 private:
  void AcceptLoop() {
    for (int i = 0; i < 100 && !stopping_; ++i) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec) return;
      ++connections_;
      std::lock_guard<std::mutex> lock(mu_);
      open_fds_.push_back(socket.native_handle());
      workers_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    for (int i = 0; i < 1000 && !stopping_; ++i) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      if (req.target().starts_with("/bytes/")) {
        if (!WriteBytes(socket, std::string(req.target()), req.keep_alive())) return;
        continue;
      }
      http::response<http::string_body> res{http::status::ok, req.version()};
      std::string target(req.target());
      if (target.rfind("/date/", 0) == 0) {
        const size_t end = target.find('/', 6);
        const long offset = std::stol(target.substr(6, end - 6));
        res.set(http::field::date,
                FormatHttpDate(std::chrono::system_clock::now() + std::chrono::seconds(offset)));
        target = end == std::string::npos ? "/" : target.substr(end);
      }
      if (target == "/ok") {
        res.body() = "hello";
      } else if (target == "/echo") {
        std::string out = std::string(req.method_string()) + "\n";
        for (const auto& f : req) {
          out += std::string(f.name_string()) + ": " + std::string(f.value()) + "\n";
        }
        res.body() = out + "\n" + req.body();
      } else if (target == "/status/503") {
        res.result(http::status::service_unavailable);
        res.body() = "down";
      } else if (target == "/slow") {
        std::this_thread::sleep_for(1500ms);
        res.body() = "late";
      } else if (target.rfind("/api/v1/query", 0) == 0) {
        // A stand-in for Prometheus that answers with what it was asked: one series whose labels
        // carry the decoded form fields, so tests can check the encoding.
        res.set(http::field::content_type, "application/json");
        res.body() =
            std::string(R"({"status":"success","data":{"resultType":"vector","result":[)") +
            R"({"metric":{"method":")" + std::string(req.method_string()) + R"(","form":")" +
            JsonEscape(req.body()) + R"("},"value":[1,"0.5"]}]}})";
      } else if (target == "/headers") {
        res.set("X-Mixed-Case", "  padded value \t");
        res.set("x-empty", "");
        res.body() = "h";
      } else if (target == "/ready") {
        res.body() = "ok";
      } else if (target == "/big") {
        res.body() = std::string(3 << 20, 'x');
      } else {
        res.result(http::status::not_found);
      }
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || !req.keep_alive()) return;
    }
  }

  // "/bytes/N[/STATUS]": the header, then N bytes in 64 KiB writes. False when the connection ends.
  static bool WriteBytes(tcp::socket& socket, const std::string& target, bool keep_alive) {
    const std::string spec = target.substr(std::string_view("/bytes/").size());
    const uint64_t n = std::stoull(spec);
    const size_t slash = spec.find('/');
    const int status = slash == std::string::npos ? 200 : std::stoi(spec.substr(slash + 1));
    std::string head = "HTTP/1.1 ";
    head += std::to_string(status);
    head += " Test\r\nContent-Type: text/plain\r\nContent-Length: ";
    head += std::to_string(n);
    head += keep_alive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
    boost::system::error_code ec;
    asio::write(socket, asio::buffer(head), ec);
    static const std::string kChunk(64 << 10, 'x');
    const std::string end = "end\n";
    const uint64_t xs = n >= end.size() ? n - end.size() : n;
    for (uint64_t sent = 0; sent < xs && !ec;) {
      const size_t step = static_cast<size_t>(std::min<uint64_t>(kChunk.size(), xs - sent));
      asio::write(socket, asio::buffer(kChunk.data(), step), ec);
      sent += step;
    }
    if (!ec && n >= end.size()) asio::write(socket, asio::buffer(end), ec);
    return !ec && keep_alive;
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
  std::thread accept_thread_;
};

}  // namespace rollbackd::testutil

#endif  // ROLLBACKD_TESTS_UNIT_TEST_HTTP_SERVER_H_
