// tap-limits: what a Linux TAP device costs by itself, with no TCP/IP stack behind it.
//
// The floor that tapstack's numbers are judged against (issue 6, §4a). Each mode does one
// small thing as fast as one thread can, for a bounded count and time, and prints one JSON
// line on stdout. scripts/bench-tap.mjs builds it (cc -O2) and runs it inside namespaces it
// creates; it is not part of the addon and never runs in the root namespace from there.
//
//   write   TAP COUNT SECONDS            1514-byte frames written to the kernel (addressed to
//                                        another MAC, so the kernel drops them in ip_rcv)
//   read    TAP COUNT SECONDS DST_IP     1514-byte frames read from the kernel; a forked child
//                                        floods UDP datagrams of 1472 bytes to DST_IP via TAP
//   relay   NS_A TAP_A NS_B TAP_B SECONDS offload|plain
//                                        a wire between two namespaces: frames read from one
//                                        TAP are written to the other, both ways; with offload,
//                                        the virtio-net header and TSO pass 64 KiB super-frames
//   sink    ADDR PORT SECONDS            accepts one TCP connection and reads it to the end
//   send    ADDR PORT MIB SECONDS        connects and writes MIB mebibytes
//   respond TAP IP SECONDS               answers ARP for IP (as 02:00:00:00:00:02) and ICMP echo
//                                        requests to it, nothing else; SIGUSR1 prints the counts
//                                        and the CPU used so far
//
// CPU is the process's own (getrusage RUSAGE_SELF: user + system), so a write() to the TAP
// includes the kernel's receive work for that frame, and a read() the kernel's copy out.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VNET_HDR_LEN 12
#define OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
// A virtio-net header and the largest super-frame (64 KiB IP packet, Ethernet, a VLAN tag).
#define MAX_FRAME (VNET_HDR_LEN + 65536 + 18)

static void die(const char *what) {
  fprintf(stderr, "tap-limits: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

// User and system CPU of this process so far, in seconds.
static void cpu_s(double *user, double *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

// Attaches to the TAP `name` in this thread's namespace. With `vnet`, the virtio-net header and
// the offloads; without, offloads are switched off, so that a device used with them before
// does not keep sending super-frames a plain reader cannot take.
static int open_tap(const char *name, int vnet, int nonblock) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
  if (fd < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  if (vnet) {
    int len = VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &len) < 0) die("TUNSETVNETHDRSZ");
    if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)OFFLOADS) < 0) die("TUNSETOFFLOAD");
  } else {
    ioctl(fd, TUNSETOFFLOAD, 0UL);
  }
  return fd;
}

static volatile sig_atomic_t stop_flag, report_flag;
static void on_stop(int sig) { (void)sig; stop_flag = 1; }
static void on_report(int sig) { (void)sig; report_flag = 1; }

// Handlers without SA_RESTART: a blocking read() returns EINTR, and the loop looks at the flags.
static void catch_signal(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static void print_cpu_row(const char *mode, long frames, double bytes, double wall, double u0, double s0) {
  double u1, s1;
  cpu_s(&u1, &s1);
  double cpu = (u1 - u0) + (s1 - s0);
  printf("{\"mode\":\"%s\",\"frames\":%ld,\"bytes\":%.0f,\"wall_s\":%.6f,\"user_s\":%.6f,\"sys_s\":%.6f,"
         "\"frames_per_cpu_s\":%.0f,\"cpu_us_per_frame\":%.3f}\n",
         mode, frames, bytes, wall, u1 - u0, s1 - s0, cpu > 0 ? frames / cpu : 0, frames > 0 ? cpu * 1e6 / frames : 0);
  fflush(stdout);
}

// ── write ───────────────────────────────────────────────────────────────────────────────

static int do_write(const char *tap, long count, double seconds) {
  int fd = open_tap(tap, 0, 0);
  static uint8_t f[1514];
  // To 02:00:00:00:00:99, not the TAP's own MAC: the kernel takes the frame in and drops it
  // as PACKET_OTHERHOST at the IP layer, which is about the least it can do with a frame.
  const uint8_t head[] = {2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 0x98, 0x08, 0x00,
                          0x45, 0, 0x05, 0xdc, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1};
  memcpy(f, head, sizeof head);
  double u0, s0, t0 = now_s(), deadline = t0 + seconds;
  cpu_s(&u0, &s0);
  long n = 0, errors = 0;
  for (; n < count; n++) {
    if (write(fd, f, sizeof f) != (ssize_t)sizeof f) errors++;
    if ((n & 4095) == 0 && now_s() > deadline) break;
  }
  print_cpu_row("write", n - errors, (double)(n - errors) * sizeof f, now_s() - t0, u0, s0);
  if (errors) fprintf(stderr, "tap-limits write: %ld writes failed\n", errors);
  return 0;
}

// ── read ────────────────────────────────────────────────────────────────────────────────

// The child: UDP datagrams of 1472 bytes (1514-byte frames) to dst:9, 64 per sendmmsg, until
// killed or `seconds` are up.
static void flood_udp(const char *dst, double seconds) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
  if (inet_pton(AF_INET, dst, &a.sin_addr) != 1) die("inet_pton");
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  static uint8_t payload[1472];
  struct iovec iov = {.iov_base = payload, .iov_len = sizeof payload};
  struct mmsghdr m[64];
  memset(m, 0, sizeof m);
  for (int i = 0; i < 64; i++) {
    m[i].msg_hdr.msg_iov = &iov;
    m[i].msg_hdr.msg_iovlen = 1;
  }
  double deadline = now_s() + seconds;
  for (long k = 0;; k++) {
    sendmmsg(s, m, 64, 0);  // ENOBUFS when the TAP's queue is full: just go on
    if ((k & 255) == 0 && now_s() > deadline) _exit(0);
  }
}

static int do_read(const char *tap, long count, double seconds, const char *dst) {
  int fd = open_tap(tap, 0, 0);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) flood_udp(dst, seconds + 2);
  catch_signal(SIGALRM, on_stop);
  alarm((unsigned)seconds + 1);
  static uint8_t buf[2048];
  // The first frame starts the clock: the child needs a moment to get going.
  while (!stop_flag && read(fd, buf, sizeof buf) < 0 && errno == EINTR) {
  }
  double u0, s0, t0 = now_s(), deadline = t0 + seconds;
  cpu_s(&u0, &s0);
  long n = 0;
  double bytes = 0;
  while (n < count && !stop_flag) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    n++;
    bytes += r;
    if ((n & 4095) == 0 && now_s() > deadline) break;
  }
  double wall = now_s() - t0;
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  print_cpu_row("read", n, bytes, wall, u0, s0);
  return 0;
}

// ── relay ───────────────────────────────────────────────────────────────────────────────

static void enter_netns(const char *ns) {
  char path[256];
  snprintf(path, sizeof path, "/var/run/netns/%s", ns);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  if (setns(fd, CLONE_NEWNET) < 0) die("setns");
  close(fd);
}

struct dir {
  long frames, gso, dropped;
  double bytes;
};

// Moves what `from` has queued to `to`, at most 64 frames per call so both directions get turns.
static void pump(int from, int to, uint8_t *buf, struct dir *d, int vnet) {
  for (int i = 0; i < 64; i++) {
    ssize_t n = read(from, buf, MAX_FRAME);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      die("relay read");
    }
    if (write(to, buf, n) != n) {
      d->dropped++;
      continue;
    }
    d->frames++;
    d->bytes += n - (vnet ? VNET_HDR_LEN : 0);
    if (vnet && buf[1] != 0) d->gso++;  // gso_type
  }
}

static int do_relay(const char *ns_a, const char *tap_a, const char *ns_b, const char *tap_b, double seconds,
                    int vnet) {
  enter_netns(ns_a);
  int a = open_tap(tap_a, vnet, 1);
  enter_netns(ns_b);
  int b = open_tap(tap_b, vnet, 1);
  catch_signal(SIGTERM, on_stop);
  catch_signal(SIGINT, on_stop);
  printf("ready\n");
  fflush(stdout);
  static uint8_t buf[MAX_FRAME];
  struct dir ab = {0}, ba = {0};
  struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
  double u0, s0, t0 = now_s(), deadline = t0 + seconds;
  cpu_s(&u0, &s0);
  while (!stop_flag && now_s() < deadline) {
    if (poll(p, 2, 100) < 0 && errno != EINTR) die("poll");
    if (p[0].revents & POLLIN) pump(a, b, buf, &ab, vnet);
    if (p[1].revents & POLLIN) pump(b, a, buf, &ba, vnet);
  }
  double u1, s1;
  cpu_s(&u1, &s1);
  printf("{\"mode\":\"relay\",\"offload\":%s,\"wall_s\":%.6f,\"user_s\":%.6f,\"sys_s\":%.6f,"
         "\"ab_frames\":%ld,\"ab_bytes\":%.0f,\"ab_gso_frames\":%ld,\"ab_dropped\":%ld,"
         "\"ba_frames\":%ld,\"ba_bytes\":%.0f,\"ba_gso_frames\":%ld,\"ba_dropped\":%ld}\n",
         vnet ? "true" : "false", now_s() - t0, u1 - u0, s1 - s0, ab.frames, ab.bytes, ab.gso, ab.dropped,
         ba.frames, ba.bytes, ba.gso, ba.dropped);
  return 0;
}

// ── sink and send: kernel TCP at each end of the relay ───────────────────────────────────

static void bind_addr(struct sockaddr_in *a, const char *addr, int port) {
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  if (inet_pton(AF_INET, addr, &a->sin_addr) != 1) {
    errno = EINVAL;
    die("address");
  }
}

static int do_sink(const char *addr, int port, double seconds) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  bind_addr(&a, addr, port);
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(l, 1) < 0) die("listen");
  catch_signal(SIGALRM, on_stop);
  alarm((unsigned)seconds + 1);
  printf("listening\n");
  fflush(stdout);
  int c = accept(l, NULL, NULL);
  if (c < 0) die("accept");
  static uint8_t buf[1 << 20];
  double bytes = 0, t0 = 0, t1 = 0;
  while (!stop_flag) {
    ssize_t n = read(c, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (bytes == 0) t0 = now_s();
    bytes += n;
    t1 = now_s();
  }
  printf("{\"mode\":\"sink\",\"bytes\":%.0f,\"secs\":%.6f,\"complete\":%s}\n", bytes, t1 - t0, stop_flag ? "false" : "true");
  return 0;
}

static int do_send(const char *addr, int port, long mib, double seconds) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  bind_addr(&a, addr, port);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  static uint8_t buf[1 << 20];
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 7);
  double t0 = now_s(), deadline = t0 + seconds, bytes = 0;
  for (long i = 0; i < mib && now_s() < deadline; i++) {
    size_t off = 0;
    while (off < sizeof buf) {
      ssize_t n = write(s, buf + off, sizeof buf - off);
      if (n < 0) die("send");
      off += n;
    }
    bytes += sizeof buf;
  }
  shutdown(s, SHUT_WR);
  char c;
  while (read(s, &c, 1) > 0) {
  }
  printf("{\"mode\":\"send\",\"bytes\":%.0f,\"secs\":%.6f}\n", bytes, now_s() - t0);
  return 0;
}

// ── respond: ARP and ICMP echo, nothing else ────────────────────────────────────────────

static const uint8_t OUR_MAC[6] = {2, 0, 0, 0, 0, 2};

// RFC 1624 eqn. 3: a checksum updated for one 16-bit word changing from m to m1.
static uint16_t csum_update(uint16_t hc, uint16_t m, uint16_t m1) {
  uint32_t s = (uint16_t)~hc + (uint16_t)~m + m1;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static int do_respond(const char *tap, const char *ip, double seconds) {
  int fd = open_tap(tap, 0, 0);
  uint8_t me[4];
  if (inet_pton(AF_INET, ip, me) != 1) {
    errno = EINVAL;
    die("address");
  }
  catch_signal(SIGALRM, on_stop);
  catch_signal(SIGTERM, on_stop);
  catch_signal(SIGUSR1, on_report);
  alarm((unsigned)seconds);
  printf("ready\n");
  fflush(stdout);
  static uint8_t f[2048];
  long frames = 0, echoes = 0, arps = 0, ignored = 0;
  double t0 = now_s();
  for (;;) {
    if (report_flag || stop_flag) {
      report_flag = 0;
      double u, s;
      cpu_s(&u, &s);
      printf("{\"mode\":\"respond\",\"frames\":%ld,\"echoes\":%ld,\"arps\":%ld,\"ignored\":%ld,\"wall_s\":%.6f,"
             "\"user_s\":%.6f,\"sys_s\":%.6f}\n",
             frames, echoes, arps, ignored, now_s() - t0, u, s);
      fflush(stdout);
      if (stop_flag) return 0;
    }
    ssize_t n = read(fd, f, sizeof f);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    frames++;
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    if (type == 0x0806 && n >= 42 && f[21] == 1 && memcmp(f + 38, me, 4) == 0) {
      // who-has me → is-at OUR_MAC, to the asker.
      memcpy(f, f + 22, 6);
      memcpy(f + 6, OUR_MAC, 6);
      f[21] = 2;
      memcpy(f + 32, f + 22, 10);  // target := the sender (MAC and IP)
      memcpy(f + 22, OUR_MAC, 6);
      memcpy(f + 28, me, 4);
      if (write(fd, f, 42) == 42) arps++;
      continue;
    }
    if (type == 0x0800 && n >= 42 && f[23] == 1 && memcmp(f + 30, me, 4) == 0) {
      size_t ihl = (size_t)(f[14] & 0x0f) * 4;
      uint8_t *icmp = f + 14 + ihl;
      if (14 + ihl + 8 <= (size_t)n && icmp[0] == 8) {
        memcpy(f, f + 6, 6);
        memcpy(f + 6, OUR_MAC, 6);
        uint8_t src[4];
        memcpy(src, f + 26, 4);  // swapping the addresses leaves the IP checksum as it is
        memcpy(f + 26, f + 30, 4);
        memcpy(f + 30, src, 4);
        icmp[0] = 0;
        uint16_t c = csum_update((uint16_t)(icmp[2] << 8 | icmp[3]), 0x0800, 0x0000);
        icmp[2] = c >> 8;
        icmp[3] = c & 0xff;
        if (write(fd, f, n) == n) echoes++;
        continue;
      }
    }
    ignored++;
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: tap-limits write TAP COUNT SECONDS\n"
          "       tap-limits read TAP COUNT SECONDS DST_IP\n"
          "       tap-limits relay NS_A TAP_A NS_B TAP_B SECONDS offload|plain\n"
          "       tap-limits sink ADDR PORT SECONDS\n"
          "       tap-limits send ADDR PORT MIB SECONDS\n"
          "       tap-limits respond TAP IP SECONDS\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1];
  if (!strcmp(mode, "write") && argc == 5) return do_write(argv[2], atol(argv[3]), atof(argv[4]));
  if (!strcmp(mode, "read") && argc == 6) return do_read(argv[2], atol(argv[3]), atof(argv[4]), argv[5]);
  if (!strcmp(mode, "relay") && argc == 8)
    return do_relay(argv[2], argv[3], argv[4], argv[5], atof(argv[6]), !strcmp(argv[7], "offload"));
  if (!strcmp(mode, "sink") && argc == 5) return do_sink(argv[2], atoi(argv[3]), atof(argv[4]));
  if (!strcmp(mode, "send") && argc == 6) return do_send(argv[2], atoi(argv[3]), atol(argv[4]), atof(argv[5]));
  if (!strcmp(mode, "respond") && argc == 5) return do_respond(argv[2], argv[3], atof(argv[4]));
  usage();
}
