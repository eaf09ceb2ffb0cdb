// The API server's request handling (daemon/server/http_server.h) on raw bytes: each input is sent
// as it is, pipelined requests included, on a loopback connection to a real HttpServer on this
// thread's event loop; the client then half-closes and reads until the server closes. Whatever
// the bytes, the server must answer with HTTP responses (or nothing) and close within its
// timeouts; the handler sees only requests that satisfy ServerRequest's contract.
//
// The handler echoes the request, answers /later through ServerResponse::later, throws at /throw
// and answers an invalid status at /bad, so that the server's own paths run too.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "daemon/server/http_server.h"
#include "fuzz/fuzz_util.h"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using rollbackd::ServerRequest;
using rollbackd::ServerResponse;
using rollbackd::fuzz::Fail;

asio::io_context* io = nullptr;
rollbackd::HttpServer* server = nullptr;

ServerResponse Handle(const ServerRequest& request) {
  if (request.method.empty()) Fail("a request without a method");
  if (request.target.compare(0, request.path.size(), request.path) != 0) {
    Fail("path " + request.path + " is not the start of target " + request.target);
  }
  for (const auto& [name, value] : request.headers) {
    for (char c : name) {
      if (c >= 'A' && c <= 'Z') Fail("header name not lower-cased: " + name);
    }
  }
  ServerResponse r;
  r.body = request.method + " " + request.target + " " + std::to_string(request.body.size());
  if (request.path == "/throw") throw std::runtime_error("fuzz");
  if (request.path == "/bad") r.status = 1000;
  if (request.path == "/later") {
    r.later = [](std::function<void(ServerResponse)> respond) {
      asio::post(*io, [respond] {
        ServerResponse late;
        late.status = 202;
        late.body = "later";
        respond(late);
      });
    };
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  io = new asio::io_context();
  rollbackd::HttpServerOptions options;
  options.max_body = 4096;
  options.max_connections = 4;
  options.idle_timeout = std::chrono::milliseconds(500);
  options.read_timeout = std::chrono::milliseconds(500);
  options.write_timeout = std::chrono::milliseconds(500);
  server = new rollbackd::HttpServer(*io, Handle, options);
  std::string error;
  if (!server->Listen("127.0.0.1:0", &error)) Fail(error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tcp::socket client(*io);
  const std::string request(reinterpret_cast<const char*>(data), size);
  std::string response;
  bool done = false;
  // All asynchronous, on the server's loop: a blocking connect would fail with EINTR whenever
  // libFuzzer's timeout alarm rings.
  client.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->port()),
      [&](boost::system::error_code ec) {
        if (ec) Fail("connect: " + ec.message());
        // Closing without lingering leaves no TIME_WAIT behind, so millions of runs do not run
        // out of local ports.
        client.set_option(asio::socket_base::linger(true, 0), ec);
        asio::async_write(client, asio::buffer(request), [&](boost::system::error_code ec, size_t) {
          if (!ec) client.shutdown(tcp::socket::shutdown_send, ec);
          asio::async_read(client, asio::dynamic_buffer(response),
                           [&](boost::system::error_code, size_t) { done = true; });
        });
      });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io->run_one_until(deadline);  // one handler at a time: back as soon as the read completes
    if (io->stopped()) io->restart();
  }
  if (!done) Fail("the server neither answered nor closed within 5 s");
  // The server closes on its side too; let it finish before the next connection.
  io->poll();
  if (io->stopped()) io->restart();
  // HTTP/1.0 requests are answered in HTTP/1.0.
  if (!response.empty() && response.compare(0, 9, "HTTP/1.1 ") != 0 &&
      response.compare(0, 9, "HTTP/1.0 ") != 0) {
    Fail("a response that is not HTTP: " + response.substr(0, 64));
  }
  return 0;
}
