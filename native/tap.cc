// tap.node: the smallest piece of tapstack that has to be native.
//
// It opens a Linux TAP device and moves Ethernet frames in batches between the
// device and two buffers that JavaScript shares with it. Everything else (what the
// frames mean, counters, policy) lives in TypeScript (src/dev/tap.ts).
//
//   kernel ──read()×≤N──► rxBuffer  [slot 0][slot 1]…[slot N-1]   rxLengths[i] = bytes in slot i
//            (one uv_poll wake-up)         │
//                                          └──► ONE call into JS: onFrames(count, errno)
//
//   JS copies frames into txBuffer slots, sets txLengths[i], then calls write(count):
//   txBuffer [slot 0][slot 1]…  ──write()×count──► kernel      txStatus = {written, bytes, dropped, errors}
//
// Why shared buffers: a Node-API call per frame, or a fresh Buffer per frame, would
// cost more than the stack's own work on a small packet. The ArrayBuffers are
// allocated once per device and reused for its lifetime.
//
// Offloads (optional, `offload` = true): the device is opened with IFF_VNET_HDR, so every
// frame read or written is preceded by a 12-byte struct virtio_net_hdr_v1 (little-endian,
// parsed and built in src/dev/vnet.ts), and TUNSETOFFLOAD tells the kernel we take partial
// checksums and TCP super-frames (TSO4/TSO6): it then hands us TCP segments of up to 64 KiB
// with gso_size = MSS, and accepts the same from us, segmenting them itself. A slot then holds
// [header][frame]; lengths count both. If the kernel refuses any step, the device is reopened
// plain and the reason is reported (offloadRefused) rather than thrown: offloads are a speed-up,
// not something a caller should have to retry without.
//
// Why a helper thread for namespaces: a TAP belongs to the network namespace of
// the thread that opened /dev/net/tun. Switching the main thread with setns()
// would move all of Node's future sockets too, so a short-lived std::thread joins
// the namespace, opens and configures the device, and hands back the fd. The fd
// keeps the device in that namespace; the process stays where it was.

#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace {

constexpr const char* kTunPath = "/dev/net/tun";
constexpr const char* kNetnsDir = "/var/run/netns/";

// Indices into the txStatus Uint32Array that write() fills in.
enum TxStatus : uint32_t { kTxWritten, kTxBytes, kTxDropped, kTxErrors, kTxStatusLen };

// ─── Errors ─────────────────────────────────────────────────────────────────────
//
// Every failure becomes an Error shaped like Node's SystemError ({code, errno,
// syscall}) whose message says what to do about it, so `tapstack up` can print it
// as is.

std::string ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EBADF: return "EBADF";
    case EBADFD: return "EBADFD";
    case EIO: return "EIO";
    case EAGAIN: return "EAGAIN";
    case EFAULT: return "EFAULT";
    default: return "E" + std::to_string(err);
  }
}

// What went wrong, as the helper thread reports it back (it must not touch JS).
struct OpenFailure {
  int err = 0;              // errno; 0 means success
  std::string syscall;      // 'open' | 'ioctl' | 'setns'
  std::string message;      // full sentence, with the fix
};

OpenFailure Fail(int err, const char* syscall, std::string message) {
  return OpenFailure{err, syscall, std::move(message) + " (" + ErrnoName(err) + ": " + strerror(err) + ")"};
}

[[noreturn]] void ThrowSystemError(Napi::Env env, const OpenFailure& f) {
  Napi::Error e = Napi::Error::New(env, f.message);
  e.Set("code", Napi::String::New(env, ErrnoName(f.err)));
  // Node's SystemError carries a negative errno (uv style); keep that convention.
  e.Set("errno", Napi::Number::New(env, -f.err));
  e.Set("syscall", Napi::String::New(env, f.syscall));
  throw e;
}

// ─── Opening the device ─────────────────────────────────────────────────────────

// The header in front of each frame with IFF_VNET_HDR: struct virtio_net_hdr_v1 (10 bytes of
// virtio_net_hdr plus num_buffers). 12, not the legacy 10, because it is the virtio 1.0 layout
// that every current user (vhost, QEMU) speaks, and it is the size the JS side parses.
constexpr int kVnetHdrLen = 12;
constexpr unsigned kOffloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

// Opens and attaches the device; with `vnet`, also negotiates the virtio-net header and the
// offloads. *out_vnet is set to whether that worked; when it did not, *out_refused says why
// and the device is plain (the fd was reopened without IFF_VNET_HDR).
OpenFailure OpenTunOnce(const std::string& name, bool vnet, int* out_fd, std::string* out_name,
                        std::string* out_refused, bool* out_attached_vnet);

OpenFailure OpenTun(const std::string& name, bool vnet, int* out_fd, std::string* out_name,
                    std::string* out_refused) {
  bool attached_vnet = false;
  OpenFailure f = OpenTunOnce(name, vnet, out_fd, out_name, out_refused, &attached_vnet);
  if (f.err != 0 || !attached_vnet || out_refused->empty()) return f;
  // Negotiation failed after the device was attached: start again without the header. A device
  // we created disappears with its fd and is made again here; a persistent one stays.
  close(*out_fd);
  *out_fd = -1;
  std::string ignored;
  return OpenTunOnce(name, false, out_fd, out_name, &ignored, &attached_vnet);
}

OpenFailure OpenTunOnce(const std::string& name, bool vnet, int* out_fd, std::string* out_name,
                        std::string* out_refused, bool* out_attached_vnet) {
  out_refused->clear();
  *out_attached_vnet = false;
  int fd = open(kTunPath, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      return Fail(err, "open",
                  std::string(kTunPath) + " is missing: load the tun module (modprobe tun) or create the "
                  "device node (mknod /dev/net/tun c 10 200)");
    }
    if (err == EACCES || err == EPERM) {
      return Fail(err, "open",
                  std::string("no permission to open ") + kTunPath + ": run as root, or make the device "
                  "readable and writable by your user");
    }
    return Fail(err, "open", std::string("cannot open ") + kTunPath);
  }

  if (vnet) {
    unsigned features = 0;
    if (ioctl(fd, TUNGETFEATURES, &features) < 0 || (features & IFF_VNET_HDR) == 0) {
      *out_refused = "this kernel's tun has no IFF_VNET_HDR";
      vnet = false;
    }
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  // IFF_NO_PI: frames come and go bare, without tun's 4-byte packet-info prefix.
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name.data(), name.size());  // length checked by the caller (< IFNAMSIZ)
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    if (err == EPERM || err == EACCES) {
      return Fail(err, "ioctl",
                  "opening " + name + " needs root or CAP_NET_ADMIN, or create the tap first: "
                  "ip tuntap add dev " + name + " mode tap user $USER");
    }
    if (err == EBUSY) {
      return Fail(err, "ioctl",
                  name + " is in use by another file descriptor (a TAP without multi_queue has one "
                  "reader): close the other user or pick another name");
    }
    if (err == EINVAL) {
      return Fail(err, "ioctl",
                  name + " exists but is not a single-queue TAP device (it may be a TUN, a multi_queue "
                  "TAP or another kind of link): delete it or pick another name");
    }
    return Fail(err, "ioctl", "TUNSETIFF on " + name + " failed");
  }
  *out_fd = fd;
  *out_name = ifr.ifr_name;  // the kernel fills in the final name (matters for patterns like tap%d)
  *out_attached_vnet = vnet;
  if (vnet) {
    int hdr_len = kVnetHdrLen;
    int le = 1;
    unsigned offloads = kOffloads;
    // Little-endian header fields whatever the host: virtio 1.0's order. On a little-endian
    // host this is what tun does anyway, so a kernel without TUNSETVNETLE only matters on
    // a big-endian one.
    bool le_ok = ioctl(fd, TUNSETVNETLE, &le) == 0;
    const uint16_t probe = 1;
    bool host_le = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
      *out_refused = std::string("TUNSETVNETHDRSZ 12 refused (") + ErrnoName(errno) + ")";
    } else if (!le_ok && !host_le) {
      *out_refused = std::string("TUNSETVNETLE refused on a big-endian host (") + ErrnoName(errno) + ")";
    } else if (ioctl(fd, TUNSETOFFLOAD, offloads) < 0) {
      *out_refused = std::string("TUNSETOFFLOAD csum|tso4|tso6 refused (") + ErrnoName(errno) + ")";
    }
  }
  return OpenFailure{};
}

// Runs on a throwaway thread: joins the namespace, then opens the device there.
OpenFailure OpenTunInNetns(const std::string& name, const std::string& netns, bool vnet, int* out_fd,
                           std::string* out_name, std::string* out_refused) {
  std::string path = kNetnsDir + netns;
  int nsfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return Fail(err, "setns",
                  "network namespace " + netns + " does not exist (" + path + "): create it with "
                  "ip netns add " + netns);
    }
    return Fail(err, "setns", "cannot open network namespace " + path);
  }
  int rc = setns(nsfd, CLONE_NEWNET);
  int err = errno;
  close(nsfd);
  if (rc < 0) {
    if (err == EPERM) {
      return Fail(err, "setns", "entering network namespace " + netns + " needs root or CAP_SYS_ADMIN");
    }
    if (err == EINVAL) {
      return Fail(err, "setns", path + " is not a network namespace");
    }
    return Fail(err, "setns", "cannot enter network namespace " + netns);
  }
  return OpenTun(name, vnet, out_fd, out_name, out_refused);
}

// ─── The device object ──────────────────────────────────────────────────────────

class Tap : public Napi::ObjectWrap<Tap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Tap",
                       {
                           InstanceMethod<&Tap::Start>("start"),
                           InstanceMethod<&Tap::Stop>("stop"),
                           InstanceMethod<&Tap::Write>("write"),
                           InstanceMethod<&Tap::ReadNow>("readNow"),
                           InstanceMethod<&Tap::Close>("close"),
                       });
  }

  // new Tap(name, netns | undefined, slotSize, slots, offload = false)
  //   → this.name, this.rxBuffer, this.rxLengths, this.txBuffer, this.txLengths, this.txStatus,
  //     this.vnetHdrLen (12 with offloads on, else 0), this.offloadRefused (why not, or undefined)
  explicit Tap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsString() || !info[2].IsNumber() || !info[3].IsNumber()) {
      throw Napi::TypeError::New(env,
                                 "new Tap(name: string, netns: string | undefined, slotSize, slots, offload?)");
    }
    bool offload = info.Length() > 4 && info[4].ToBoolean().Value();
    std::string name = info[0].As<Napi::String>();
    if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos) {
      ThrowSystemError(env, Fail(EINVAL, "open", "interface name \"" + name + "\" must be 1 to " +
                                                     std::to_string(IFNAMSIZ - 1) + " bytes without '/'"));
    }
    int64_t slot_size = info[2].As<Napi::Number>().Int64Value();
    int64_t slots = info[3].As<Napi::Number>().Int64Value();
    if (slot_size < 64 || slot_size > (1 << 20) || slots < 1 || slots > 4096) {
      throw Napi::RangeError::New(env, "slotSize must be 64..1048576 and slots 1..4096");
    }
    slot_size_ = static_cast<size_t>(slot_size);
    slots_ = static_cast<uint32_t>(slots);

    OpenFailure failure;
    std::string ifname;
    std::string refused;
    if (info[1].IsString()) {
      std::string netns = info[1].As<Napi::String>();
      if (netns.empty() || netns.find('/') != std::string::npos || netns == "." || netns == "..") {
        ThrowSystemError(env, Fail(EINVAL, "setns", "network namespace name \"" + netns + "\" is not valid"));
      }
      // The thread does nothing but syscalls and finishes before we go on, so
      // sharing the locals by reference is safe.
      std::thread helper([&] { failure = OpenTunInNetns(name, netns, offload, &fd_, &ifname, &refused); });
      helper.join();
    } else {
      failure = OpenTun(name, offload, &fd_, &ifname, &refused);
    }
    if (failure.err != 0) ThrowSystemError(env, failure);
    bool vnet = offload && refused.empty();
    // A slot must hold the header and the largest frame: JS sizes slots for the mode it asked
    // for, so a slot too small for the header is the caller's bug.
    if (vnet && slot_size_ < static_cast<size_t>(kVnetHdrLen) + 64) {
      close(fd_);
      fd_ = -1;
      throw Napi::RangeError::New(env, "slotSize too small for the virtio-net header");
    }

    // The shared buffers, allocated once. References keep them alive for as long
    // as the device is open even if JavaScript drops its own handles.
    Napi::ArrayBuffer rx = Napi::ArrayBuffer::New(env, slot_size_ * slots_);
    Napi::ArrayBuffer tx = Napi::ArrayBuffer::New(env, slot_size_ * slots_);
    Napi::Uint32Array rx_lengths = Napi::Uint32Array::New(env, slots_);
    Napi::Uint32Array tx_lengths = Napi::Uint32Array::New(env, slots_);
    Napi::Uint32Array tx_status = Napi::Uint32Array::New(env, kTxStatusLen);
    rx_data_ = static_cast<uint8_t*>(rx.Data());
    tx_data_ = static_cast<uint8_t*>(tx.Data());
    rx_lengths_ = rx_lengths.Data();
    tx_lengths_ = tx_lengths.Data();
    tx_status_ = tx_status.Data();
    buffers_ = Napi::Persistent(Napi::Object::New(env));
    buffers_.Set("rx", rx);
    buffers_.Set("tx", tx);
    buffers_.Set("rxLengths", rx_lengths);
    buffers_.Set("txLengths", tx_lengths);
    buffers_.Set("txStatus", tx_status);

    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("name", Napi::String::New(env, ifname));
    self.Set("rxBuffer", rx);
    self.Set("rxLengths", rx_lengths);
    self.Set("txBuffer", tx);
    self.Set("txLengths", tx_lengths);
    self.Set("txStatus", tx_status);
    self.Set("vnetHdrLen", Napi::Number::New(env, vnet ? kVnetHdrLen : 0));
    self.Set("offloadRefused", refused.empty() ? env.Undefined() : Napi::String::New(env, refused));
  }

  // A device that JavaScript forgot to close is closed when its wrapper is
  // collected. (While polling, the wrapper is referenced and cannot be collected.)
  ~Tap() override { Shutdown(); }

 private:
  // start(onFrames: (count: number, errno: number) => void): begin delivering batches.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) ThrowSystemError(env, Fail(EBADF, "read", "the tap is closed"));
    if (info.Length() < 1 || !info[0].IsFunction()) {
      throw Napi::TypeError::New(env, "start(onFrames: (count, errno) => void)");
    }
    on_frames_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (poll_ == nullptr) {
      uv_loop_t* loop = nullptr;
      if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
      poll_ = new uv_poll_t;
      int rc = uv_poll_init(loop, poll_, fd_);
      if (rc != 0) {
        delete poll_;
        poll_ = nullptr;
        ThrowSystemError(env, Fail(-rc, "epoll_ctl", "cannot watch the tap"));
      }
      poll_->data = this;
      async_context_ = std::make_unique<Napi::AsyncContext>(env, "TapRead");
    }
    if (!polling_) {
      uv_poll_start(poll_, UV_READABLE, OnReadable);
      polling_ = true;
      Ref();  // keep the wrapper (and so `this`) alive while the loop can call us
    }
    return env.Undefined();
  }

  // stop(): no more batches until start() again. Frames queue up in the kernel
  // (up to the device's txqueuelen) and are dropped there beyond that.
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    return info.Env().Undefined();
  }

  // write(count) → frames written. Slot i holds txLengths[i] bytes.
  // Frames the kernel refuses are counted in txStatus and skipped; never throws
  // per frame, because a busy device is a drop, not an exception.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Napi::Number::New(env, 0);  // closed: the buffers are gone
    uint32_t count = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    if (count > slots_) count = slots_;
    uint32_t written = 0, bytes = 0, dropped = 0, errors = 0;
    for (uint32_t i = 0; i < count; i++) {
      size_t len = tx_lengths_[i];
      if (len == 0 || len > slot_size_) {
        errors++;
        continue;
      }
      ssize_t n;
      do {
        n = write(fd_, tx_data_ + i * slot_size_, len);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        // EAGAIN/ENOBUFS: no room right now, like a full NIC ring. Anything else
        // (EIO while the interface is down, EINVAL for a runt frame) is an error.
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) dropped++;
        else errors++;
        continue;
      }
      written++;
      bytes += static_cast<uint32_t>(n);
    }
    tx_status_[kTxWritten] = written;
    tx_status_[kTxBytes] = bytes;
    tx_status_[kTxDropped] = dropped;
    tx_status_[kTxErrors] = errors;
    return Napi::Number::New(env, written);
  }

  // readNow() → frames read into the rx slots (0 when nothing was queued), or -errno when the
  // device failed (polling is then stopped, as a failed wake-up would). The caller processes
  // the slots as it would a batch from onFrames. This lets the driver see what is already
  // waiting (ACKs, say) before it acts on time (a retransmission timer) without waiting for
  // the loop's next poll. Refused (0) while a batch is being delivered: the slots are in use.
  Napi::Value ReadNow(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0 || delivering_) return Napi::Number::New(env, 0);
    int fatal = 0;
    uint32_t count = Drain(&fatal);
    if (count > 0) return Napi::Number::New(env, count);
    if (fatal != 0) {
      StopPolling();
      return Napi::Number::New(env, -fatal);
    }
    return Napi::Number::New(env, 0);
  }

  // Reads up to `slots_` frames without blocking; a read error other than "nothing more" is
  // left in *fatal.
  uint32_t Drain(int* fatal) {
    uint32_t count = 0;
    while (count < slots_) {
      ssize_t n = read(fd_, rx_data_ + count * slot_size_, slot_size_);
      if (n >= 0) {
        rx_lengths_[count++] = static_cast<uint32_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      // EAGAIN: drained. Anything else (EBADFD: the device was deleted under
      // us) will not get better by retrying: stop, and say so.
      if (errno != EAGAIN && errno != EWOULDBLOCK) *fatal = errno;
      break;
    }
    return count;
  }

  // close(): stop polling and release the device. A TAP that we created (not
  // persistent) disappears with its last fd. Idempotent.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    static_cast<Tap*>(handle->data)->ReadBatch(status);
  }

  // One wake-up: drain up to `slots_` frames, then make one call into JS.
  // Level-triggered polling calls us again on the next loop turn if frames are
  // left, so a flood cannot starve Node's other I/O.
  void ReadBatch(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Object self = Value();  // a local handle keeps us alive through the callback
    uint32_t count = 0;
    int fatal = 0;
    if (status < 0) {
      fatal = -status;
    } else {
      count = Drain(&fatal);
    }
    if (fatal != 0) StopPolling();
    if (count == 0 && fatal == 0) return;
    try {
      delivering_ = true;
      on_frames_.MakeCallback(self, {Napi::Number::New(env, count), Napi::Number::New(env, fatal)},
                              *async_context_);
      delivering_ = false;
    } catch (const Napi::Error& e) {
      delivering_ = false;
      // We are called from the event loop, not from JavaScript: there is nobody
      // to throw to, so hand the error to 'uncaughtException' as Node's own I/O does.
      napi_fatal_exception(env, e.Value());
    }
  }

  void StopPolling() {
    if (!polling_) return;
    uv_poll_stop(poll_);
    polling_ = false;
    Unref();
  }

  void Shutdown() {
    StopPolling();
    if (poll_ != nullptr) {
      // The handle is freed by libuv's close callback, once the loop lets go of it.
      uv_close(reinterpret_cast<uv_handle_t*>(poll_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
    // The async context stays until the destructor: close() may be called from
    // inside the onFrames callback that is running under it.
    on_frames_.Reset();
    // Drop our hold on the shared buffers; they are freed once JavaScript drops its own.
    buffers_.Reset();
    rx_data_ = tx_data_ = nullptr;
    rx_lengths_ = tx_lengths_ = tx_status_ = nullptr;
    slots_ = 0;
  }

  int fd_ = -1;
  size_t slot_size_ = 0;
  uint32_t slots_ = 0;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  bool delivering_ = false;  // inside onFrames: the rx slots belong to JavaScript
  Napi::FunctionReference on_frames_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  Napi::ObjectReference buffers_;
  uint8_t* rx_data_ = nullptr;
  uint8_t* tx_data_ = nullptr;
  uint32_t* rx_lengths_ = nullptr;
  uint32_t* tx_lengths_ = nullptr;
  uint32_t* tx_status_ = nullptr;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Tap", Tap::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(tap, Init)
