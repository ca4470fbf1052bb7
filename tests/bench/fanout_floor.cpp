// fanout_floor.cpp — the least work a group chat server can do per delivery, as a yardstick.
//
// Not a chat server: no names, no framing, no queues, no limits. It accepts clients on
// 127.0.0.1:PORT and relays every recv() to every other client with one send() each,
// exactly the system calls and TCP segments a line costs any server that delivers it at
// once. group.sh measures it next to serve-group and ncat --chat (paced mode only: without
// framing, a burst's partial reads would interleave). Its CPU per delivery is the floor
// the kernel sets on this machine: what serve-group spends above it is sockchat's own.
//
//   --uring   submit all the sends of one relay in ONE io_uring_enter(2) (liburing, fixed
//             files) instead of one send(2) each: what batching system calls saves, when
//             built with liburing (group.sh installs liburing-dev; without it, refused).
//
// Read: epoll(7), send(2), tcp(7) (TCP_NODELAY), io_uring(7).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#ifdef SOCKCHAT_HAVE_LIBURING
#include <liburing.h>
#endif

namespace {

volatile std::sig_atomic_t stop = 0;

[[noreturn]] void die(const char* call) {
  std::fprintf(stderr, "fanout_floor: %s: %s\n", call, std::strerror(errno));
  std::exit(1);
}

int listen_on(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) die("bind");
  if (::listen(fd, 1024) < 0) die("listen");
  return fd;
}

// One send() per other client: the plain way, and the floor for it.
class PlainSender {
 public:
  void add(int) {}
  void remove(int) {}
  long relay(const std::vector<int>& clients, int from, std::string_view bytes) {
    long short_sends = 0;
    for (const int fd : clients) {
      if (fd == from) continue;
      const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n != static_cast<ssize_t>(bytes.size())) ++short_sends;
    }
    return short_sends;
  }
};

#ifdef SOCKCHAT_HAVE_LIBURING
// The same sends, queued in the submission ring and handed to the kernel in one call.
// Fixed files (the ring's own table of descriptors) spare each send the fd lookup.
class UringSender {
 public:
  UringSender() {
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    if (const int e = io_uring_queue_init_params(kEntries, &ring_, &params); e < 0)
      fail("io_uring_setup", e);
    // Slot = descriptor number, so the table is as large as the descriptor limit.
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    files_ = static_cast<unsigned>(std::min<rlim_t>(limit.rlim_cur, 1u << 20));
    if (const int e = io_uring_register_files_sparse(&ring_, files_); e < 0)
      fail("io_uring_register", e);
  }
  ~UringSender() { io_uring_queue_exit(&ring_); }
  UringSender(const UringSender&) = delete;
  UringSender& operator=(const UringSender&) = delete;

  void add(int fd) { update(fd, fd); }
  void remove(int fd) { update(fd, -1); }

  long relay(const std::vector<int>& clients, int from, std::string_view bytes) {
    unsigned queued = 0;
    for (const int fd : clients) {
      if (fd == from) continue;
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) {  // the ring is full: hand over what it holds, then go on
        io_uring_submit(&ring_);
        sqe = io_uring_get_sqe(&ring_);
      }
      io_uring_prep_send(sqe, fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      sqe->flags |= IOSQE_FIXED_FILE;
      ++queued;
    }
    io_uring_submit_and_wait(&ring_, queued);
    return reap(bytes.size());
  }

 private:
  static constexpr unsigned kEntries = 4096;

  [[noreturn]] static void fail(const char* call, int e) {
    errno = -e;
    die(call);
  }
  void update(int slot, int fd) {
    if (slot < 0 || static_cast<unsigned>(slot) >= files_) return;
    io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &fd, 1);
  }
  long reap(size_t size) {
    long short_sends = 0;
    unsigned head = 0, seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if (cqe->res != static_cast<int>(size)) ++short_sends;
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    return short_sends;
  }
  io_uring ring_{};
  unsigned files_ = 0;
};
#endif

template <typename Sender>
long serve(int listener, Sender& sender) {
  const int ep = ::epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) < 0) die("epoll_ctl");
  std::vector<int> clients;
  std::array<epoll_event, 256> ready{};
  std::vector<char> buf(64 * 1024);
  long short_sends = 0;
  while (stop == 0) {
    const int n = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      const int fd = ready[static_cast<size_t>(i)].data.fd;
      if (fd == listener) {
        for (int c; (c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          const int on = 1;  // as serve-group does: no Nagle delay on small lines
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
          ev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
          clients.push_back(c);
          sender.add(c);
        }
        continue;
      }
      const auto got = ::recv(fd, buf.data(), buf.size(), 0);
      if (got > 0) {
        short_sends += sender.relay(clients, fd, {buf.data(), static_cast<size_t>(got)});
      } else if (got == 0 || errno != EAGAIN) {
        sender.remove(fd);
        clients.erase(std::find(clients.begin(), clients.end(), fd));
        ::close(fd);
      }
    }
  }
  return short_sends;
}

}  // namespace

int main(int argc, char** argv) {
  const bool uring = argc == 3 && std::string_view(argv[2]) == "--uring";
  if (argc < 2 || (argc == 3 && !uring) || argc > 3) {
    std::fprintf(stderr, "usage: fanout_floor PORT [--uring]\n");
    return 2;
  }
  std::signal(SIGTERM, [](int) { stop = 1; });
  std::signal(SIGINT, [](int) { stop = 1; });
  // One descriptor per client: the soft limit up to the hard one, as serve-group does.
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  const int listener = listen_on(std::atoi(argv[1]));
  long short_sends = 0;
  if (uring) {
#ifdef SOCKCHAT_HAVE_LIBURING
    UringSender sender;
    short_sends = serve(listener, sender);
#else
    std::fprintf(stderr, "fanout_floor: built without liburing (apt-get install liburing-dev)\n");
    return 2;
#endif
  } else {
    PlainSender sender;
    short_sends = serve(listener, sender);
  }
  // Every send must have been whole, or the floor would be cheating by dropping work.
  if (short_sends > 0)
    std::fprintf(stderr, "fanout_floor: %ld short or failed sends\n", short_sends);
  return short_sends > 0 ? 1 : 0;
}
