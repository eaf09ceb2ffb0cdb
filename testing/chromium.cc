#include "testing/chromium.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace rollbackd::it {
namespace {

namespace net = boost::asio;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using boost::system::error_code;

// Debian's; ROLLBACKD_CHROMIUM names another (or a missing one, to see the test skip).
std::string ChromiumBinary() {
  const char* env = std::getenv("ROLLBACKD_CHROMIUM");
  return env != nullptr && *env != '\0' ? env : "/usr/bin/chromium";
}

std::string Base64Decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0;
  uint32_t acc = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) continue;  // padding, line breaks
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// The processes whose command line names `needle` (our temp profile): chromium's crash handler
// leaves the process group, so the group kill does not reach it.
std::vector<pid_t> ProcessesNaming(const std::string& needle) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

}  // namespace

struct Chromium::Socket {
  net::io_context io;
  websocket::stream<tcp::socket> ws{io};
  std::string profile;

  // Runs the loop until `done` or `limit`; on timeout, cancels and throws.
  void RunUntil(const bool& done, std::chrono::milliseconds limit, const char* what) {
    io.restart();
    io.run_for(limit);
    if (!done) {
      error_code ignored;
      ws.next_layer().cancel(ignored);
      io.restart();
      io.run_for(1s);
      throw std::runtime_error(std::string("chromium: no answer to ") + what + " within " +
                               std::to_string(limit.count()) + " ms");
    }
  }
};

std::unique_ptr<Chromium> Chromium::Start(const std::string& dir, std::string* why) {
  const std::string binary = ChromiumBinary();
  if (::access(binary.c_str(), X_OK) != 0) {
    *why = binary + " is not installed (Debian: apt-get install chromium)";
    return nullptr;
  }
  std::unique_ptr<Chromium> c(new Chromium());
  c->socket_ = std::make_unique<Socket>();
  const std::string profile = dir + "/chromium-profile";
  c->socket_->profile = profile;
  std::vector<std::string> argv = {binary,
                                   "--headless=new",
                                   "--remote-debugging-port=0",
                                   "--user-data-dir=" + profile,
                                   "--no-first-run",
                                   "--no-default-browser-check",
                                   "--disable-gpu",
                                   "--disable-extensions",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-crash-reporter",
                                   "--password-store=basic",
                                   "--window-size=1280,1000",
                                   "about:blank"};
  if (::geteuid() == 0) argv.insert(argv.begin() + 1, "--no-sandbox");  // root has no sandbox
  c->process_ = std::make_unique<Process>(argv, dir + "/chromium.log");
  const std::string port_file = profile + "/DevToolsActivePort";
  int port = 0;
  // The file's first line is the port, once chromium listens.
  const bool up = WaitFor(
      [&] {
        std::ifstream in(port_file);
        return static_cast<bool>(in >> port) && port > 0;
      },
      30s);
  if (!up) {
    *why = "chromium did not start within 30 s (no " + port_file + "); its log:\n" +
           c->process_->log();
    return nullptr;
  }
  std::string ws_url;
  WaitFor(
      [&] {
        const HttpResult r = Http("GET", "http://127.0.0.1:" + std::to_string(port) + "/json/list");
        const json targets = json::parse(r.body, nullptr, false);
        if (!targets.is_array()) return false;
        for (const json& t : targets) {
          if (t.value("type", "") == "page" && t.value("url", "") == "about:blank") {
            ws_url = t.value("webSocketDebuggerUrl", "");
          }
        }
        return !ws_url.empty();
      },
      15s);
  if (ws_url.empty()) {
    *why = "chromium listed no page target on port " + std::to_string(port);
    return nullptr;
  }
  // ws://127.0.0.1:PORT/devtools/page/ID
  const std::string target = ws_url.substr(ws_url.find('/', std::string("ws://").size()));
  Socket& s = *c->socket_;
  try {
    bool done = false;
    error_code ec;
    s.ws.next_layer().async_connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)),
        [&](error_code e) {
          ec = e;
          done = true;
        });
    s.RunUntil(done, 10s, "connect");
    if (ec) throw std::runtime_error("chromium: connect: " + ec.message());
    done = false;
    s.ws.read_message_max(64 << 20);  // screenshots
    s.ws.async_handshake("127.0.0.1:" + std::to_string(port), target, [&](error_code e) {
      ec = e;
      done = true;
    });
    s.RunUntil(done, 10s, "the WebSocket handshake");
    if (ec) throw std::runtime_error("chromium: WebSocket handshake: " + ec.message());
    s.ws.text(true);
  } catch (const std::exception& e) {
    *why = e.what();
    return nullptr;
  }
  return c;
}

Chromium::~Chromium() {
  if (socket_) {
    error_code ignored;
    socket_->ws.next_layer().close(ignored);
  }
  if (process_ && process_->pid() > 0) {
    ::kill(-process_->pid(), SIGKILL);  // the whole group: renderers, GPU, zygotes
    process_->WaitExit(10s);
  }
  if (socket_) {
    for (pid_t pid : ProcessesNaming(socket_->profile)) ::kill(pid, SIGKILL);
  }
}

json Chromium::Call(const std::string& method, const json& params,
                    std::chrono::milliseconds limit) {
  Socket& s = *socket_;
  const int id = next_id_++;
  const std::string request = json{{"id", id}, {"method", method}, {"params", params}}.dump();
  bool done = false;
  error_code ec;
  s.ws.async_write(net::buffer(request), [&](error_code e, size_t) {
    ec = e;
    done = true;
  });
  s.RunUntil(done, limit, method.c_str());
  if (ec) throw std::runtime_error("chromium: " + method + ": write: " + ec.message());
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("chromium: no answer to " + method);
    boost::beast::flat_buffer buffer;
    done = false;
    s.ws.async_read(buffer, [&](error_code e, size_t) {
      ec = e;
      done = true;
    });
    s.RunUntil(done, left, method.c_str());
    if (ec) throw std::runtime_error("chromium: " + method + ": read: " + ec.message());
    const json message =
        json::parse(boost::beast::buffers_to_string(buffer.data()), nullptr, false);
    if (message.is_discarded() || !message.contains("id") || message["id"] != id) continue;
    if (message.contains("error")) {
      throw std::runtime_error("chromium: " + method + ": " + message["error"].dump());
    }
    return message.value("result", json::object());
  }
}

json Chromium::Evaluate(const std::string& expression) {
  const json r =
      Call("Runtime.evaluate",
           {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}});
  if (r.contains("exceptionDetails")) {
    throw std::runtime_error("in the page: " + expression + ": " + r["exceptionDetails"].dump());
  }
  return r.contains("result") ? r["result"].value("value", json(nullptr)) : json(nullptr);
}

void Chromium::Screenshot(const std::string& path) {
  const json r =
      Call("Page.captureScreenshot", {{"format", "png"}, {"captureBeyondViewport", true}}, 30s);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << Base64Decode(r.value("data", ""));
}

}  // namespace rollbackd::it
