/*
 * The SFU's per-leg forwarding loop in C: one call per received RTP packet sends it to every
 * started subscriber leg.
 *
 * Why C: in Python the loop ran ~150 bytecodes and ~8 calls per leg with cold caches (the
 * process sleeps between packets), which cost ~16 us per forwarded packet against a ~7 us
 * floor (SRTP + sendto). Everything that happens once per leg (keyframe gating, offsets,
 * header templates, RTX, SR timing) stays in Python (media/subscription.py, media/_aiortc.py).
 *
 * Per leg and packet, `forward` does exactly what the Python path did:
 *   - copy the leg's header template (aiortc serialised it: SSRC, MID, extension layout),
 *     splice the first byte (padding bit), marker|PT, sequence number and timestamp (the
 *     leg's constant offsets added), and abs-send-time or the audio level;
 *   - append the payload and the RTP padding;
 *   - record the packet in the leg's 128-slot history ring: a reference to the publication's
 *     payload bytes plus the spliced fields, from which `history()` rebuilds the plaintext on
 *     a NACK (aiortc's RTCRtpSender._retransmit reads it through media._aiortc._History);
 *   - SRTP-protect in the leg's own buffer through pylibsrtp's libsrtp (the function pointer
 *     and srtp_t come from pylibsrtp's cffi library; we hold the Python Session so it lives);
 *   - sendto() on the ICE pair's UDP socket. A full socket (EAGAIN/ENOBUFS) or an asyncio
 *     write backlog hands the datagram to the asyncio transport (a Python callback) so the
 *     order is kept; any other error (ICMP unreachable...) is counted and the fan-out goes on.
 *
 * Liveness is checked per packet as the Python code did, without touching Python objects
 * more than needed: the DTLS transport must be CONNECTED (a flag its statechange event
 * sets), the nominated ICE pair must be the one the socket came from (else `repoint` is
 * called), and the socket object must still own the fd (a closed socket's fd number may
 * already belong to someone else; socket.socket's fd field is read directly).
 *
 * The GIL is held throughout: the work per leg is ~1-2 us and Python objects are touched.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "_fanout.h"

#define HISTORY_SIZE 128 /* aiortc's RTP_HISTORY_SIZE, asserted in media/_aiortc.py */
#define MAX_HEADER 256

typedef struct {
    uint8_t bytes[MAX_HEADER];
    Py_ssize_t len;
    Py_ssize_t var_off; /* where abs-send-time (3 bytes) or the audio level (1) goes */
    Py_ssize_t var_len; /* 0, 1 or 3 */
} Template;

/* One history slot: what is needed to rebuild the leg's plaintext packet on a NACK. The
 * payload is the publication's bytes object, shared by every leg (no copy per leg). */
typedef struct {
    PyObject *payload;
    uint32_t ts;
    uint32_t abs_send_time;
    int32_t seq; /* -1: empty */
    int16_t level;
    uint8_t marker;
    uint8_t padding;
} Entry;

/* The head of CPython's socket.socket object (Modules/socketmodule.h): the fd comes first.
 * set_socket() checks this against fileno() before relying on it. */
typedef struct {
    PyObject_HEAD
    int sock_fd;
} SocketHead;

typedef struct {
    PyObject_HEAD
    /* numbering: constant offsets from the publication's numbering to this leg's */
    int started;
    uint16_t seq_offset;
    uint32_t ts_offset;
    int have_templates;
    Template tpl[2]; /* [0]: no audio level on the packet, [1]: audio level */
    /* SRTP */
    srtp_protect_fn protect;
    void *srtp;
    PyObject *session; /* the pylibsrtp Session that owns `srtp` */
    /* liveness */
    int connected;       /* DTLS CONNECTED, set from the transport's statechange event */
    PyObject *nominated; /* aioice Connection._nominated (component -> pair) */
    PyObject *repoint;   /* repoint(pair or None): Python re-reads the socket */
    /* socket */
    PyObject *pair;
    PyObject *sock; /* socket.socket that owns fd */
    int fd;
    int fd_direct; /* the socket object's layout was checked: read its fd field */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    PyObject *fallback; /* fallback(datagram) -> bool still backlogged */
    int backlogged;
    Entry ring[HISTORY_SIZE];
    uint8_t buf[MAX_DATAGRAM];
    /* counters (SR and stats) */
    unsigned long long packets;
    unsigned long long octets;
    unsigned long long rtp_timestamp;
    unsigned long long ntp_timestamp;
    unsigned long long fallbacks;
    unsigned long long send_errors;
    unsigned long long protect_errors;
} Leg;

static PyObject *str_fileno; /* "fileno" */
static PyTypeObject *socket_type; /* _socket.socket, the C base of socket.socket */
static PyObject *one;        /* 1: the RTP component's key in _nominated */

static PyTypeObject LegType;

/* ------------------------------------------------------------------ life cycle */

static PyObject *Leg_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "Leg() takes no arguments");
        return NULL;
    }
    Leg *self = (Leg *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->fd = -1;
    for (int i = 0; i < HISTORY_SIZE; i++) self->ring[i].seq = -1;
    return (PyObject *)self;
}

static int Leg_traverse(Leg *self, visitproc visit, void *arg) {
    Py_VISIT(self->session);
    Py_VISIT(self->nominated);
    Py_VISIT(self->repoint);
    Py_VISIT(self->pair);
    Py_VISIT(self->sock);
    Py_VISIT(self->fallback);
    return 0;
}

static int Leg_clear(Leg *self) {
    Py_CLEAR(self->session);
    Py_CLEAR(self->nominated);
    Py_CLEAR(self->repoint);
    Py_CLEAR(self->pair);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->fallback);
    self->protect = NULL;
    self->srtp = NULL;
    self->fd = -1;
    self->connected = 0;
    for (int i = 0; i < HISTORY_SIZE; i++) {
        Py_CLEAR(self->ring[i].payload);
        self->ring[i].seq = -1;
    }
    return 0;
}

static void Leg_dealloc(Leg *self) {
    PyObject_GC_UnTrack(self);
    Leg_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ------------------------------------------------------------------ configuration */

static int set_template(Template *t, PyObject *bytes, Py_ssize_t off, Py_ssize_t len) {
    if (!PyBytes_Check(bytes)) {
        PyErr_SetString(PyExc_TypeError, "template must be bytes");
        return -1;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(bytes);
    if (n < 12 || n > MAX_HEADER) {
        PyErr_Format(PyExc_ValueError, "template must be 12..%d bytes, got %zd", MAX_HEADER, n);
        return -1;
    }
    if (!(len == 0 || len == 1 || len == 3) || off < 0 || (len && (off < 12 || off + len > n))) {
        PyErr_SetString(PyExc_ValueError, "variable field outside the template");
        return -1;
    }
    memcpy(t->bytes, PyBytes_AS_STRING(bytes), n);
    t->len = n;
    t->var_off = off;
    t->var_len = len;
    return 0;
}

static PyObject *Leg_set_templates(Leg *self, PyObject *args) {
    PyObject *b0, *b1;
    Py_ssize_t o0, l0, o1, l1;
    if (!PyArg_ParseTuple(args, "SnnSnn:set_templates", &b0, &o0, &l0, &b1, &o1, &l1))
        return NULL;
    Template t0, t1;
    if (set_template(&t0, b0, o0, l0) < 0 || set_template(&t1, b1, o1, l1) < 0) return NULL;
    self->tpl[0] = t0;
    self->tpl[1] = t1;
    self->have_templates = 1;
    Py_RETURN_NONE;
}

static PyObject *Leg_start(Leg *self, PyObject *args) {
    unsigned long seq_offset, ts_offset;
    if (!PyArg_ParseTuple(args, "kk:start", &seq_offset, &ts_offset)) return NULL;
    if (seq_offset > 0xFFFF || ts_offset > 0xFFFFFFFFUL) {
        PyErr_SetString(PyExc_ValueError, "offsets out of range");
        return NULL;
    }
    if (!self->have_templates) {
        PyErr_SetString(PyExc_RuntimeError, "set_templates() before start()");
        return NULL;
    }
    self->seq_offset = (uint16_t)seq_offset;
    self->ts_offset = (uint32_t)ts_offset;
    self->started = 1;
    Py_RETURN_NONE;
}

static PyObject *Leg_stop(Leg *self, PyObject *Py_UNUSED(ignored)) {
    self->started = 0;
    Py_RETURN_NONE;
}

static PyObject *Leg_set_srtp(Leg *self, PyObject *args) {
    unsigned long long fn, srtp;
    PyObject *session;
    if (!PyArg_ParseTuple(args, "KKO:set_srtp", &fn, &srtp, &session)) return NULL;
    if (fn == 0 || srtp == 0) {
        PyErr_SetString(PyExc_ValueError, "null SRTP function or session");
        return NULL;
    }
    self->protect = (srtp_protect_fn)(uintptr_t)fn;
    self->srtp = (void *)(uintptr_t)srtp;
    Py_INCREF(session);
    Py_XSETREF(self->session, session);
    Py_RETURN_NONE;
}

static PyObject *Leg_set_liveness(Leg *self, PyObject *args) {
    PyObject *nominated, *repoint;
    if (!PyArg_ParseTuple(args, "O!O:set_liveness", &PyDict_Type, &nominated, &repoint))
        return NULL;
    if (!PyCallable_Check(repoint)) {
        PyErr_SetString(PyExc_TypeError, "repoint must be callable");
        return NULL;
    }
    Py_INCREF(nominated);
    Py_XSETREF(self->nominated, nominated);
    Py_INCREF(repoint);
    Py_XSETREF(self->repoint, repoint);
    Py_RETURN_NONE;
}

static PyObject *Leg_set_connected(Leg *self, PyObject *arg) {
    int connected = PyObject_IsTrue(arg);
    if (connected < 0) return NULL;
    self->connected = connected;
    Py_RETURN_NONE;
}

/* set_socket(pair, sock, host, port, fallback); set_socket(pair) with the rest None clears */
static PyObject *Leg_set_socket(Leg *self, PyObject *args) {
    PyObject *pair, *sock = Py_None, *fallback = Py_None;
    const char *host = NULL;
    int port = 0;
    if (!PyArg_ParseTuple(args, "O|OziO:set_socket", &pair, &sock, &host, &port, &fallback))
        return NULL;
    if (sock == Py_None) {
        Py_INCREF(pair);
        Py_XSETREF(self->pair, pair);
        Py_CLEAR(self->sock);
        Py_CLEAR(self->fallback);
        self->fd = -1;
        Py_RETURN_NONE;
    }
    if (host == NULL || port <= 0 || port > 65535) {
        PyErr_SetString(PyExc_ValueError, "host and port 1..65535 required");
        return NULL;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return NULL;
    }
    PyObject *fileno = PyObject_CallMethodNoArgs(sock, str_fileno);
    if (fileno == NULL) return NULL;
    long fd = PyLong_AsLong(fileno);
    Py_DECREF(fileno);
    if (fd == -1 && PyErr_Occurred()) return NULL;
    if (fd < 0) {
        PyErr_SetString(PyExc_ValueError, "socket is closed");
        return NULL;
    }
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    socklen_t addrlen;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        addrlen = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        addrlen = sizeof *a6;
    } else {
        PyErr_Format(PyExc_ValueError, "not an IP address: %s", host);
        return NULL;
    }
    Py_INCREF(pair);
    Py_XSETREF(self->pair, pair);
    Py_INCREF(sock);
    Py_XSETREF(self->sock, sock);
    Py_INCREF(fallback);
    Py_XSETREF(self->fallback, fallback);
    self->fd = (int)fd;
    /* a socket.socket (or subclass) whose first field holds this fd: read it per packet
       instead of calling fileno() */
    self->fd_direct = PyObject_TypeCheck(sock, socket_type) && ((SocketHead *)sock)->sock_fd == fd;
    self->addr = addr;
    self->addrlen = addrlen;
    self->backlogged = 0;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ forwarding */

/* Write the leg's rewritten plaintext packet into `b`; returns its length. The caller
 * checked that it fits (template + payload + padding <= MAX_PLAINTEXT). */
static Py_ssize_t splice(const Leg *self, uint8_t *b, uint16_t seq, uint32_t ts, uint8_t marker,
                         const uint8_t *payload, Py_ssize_t payload_len, int level,
                         uint32_t abs_send_time, int padding) {
    const Template *t = &self->tpl[level >= 0];
    Py_ssize_t n = t->len;
    memcpy(b, t->bytes, (size_t)n);
    b[0] = t->bytes[0] | (padding ? 0x20 : 0);
    b[1] = (t->bytes[1] & 0x7F) | marker;
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    b[4] = (uint8_t)(ts >> 24);
    b[5] = (uint8_t)(ts >> 16);
    b[6] = (uint8_t)(ts >> 8);
    b[7] = (uint8_t)ts;
    if (t->var_len == 3) {
        b[t->var_off] = (uint8_t)(abs_send_time >> 16);
        b[t->var_off + 1] = (uint8_t)(abs_send_time >> 8);
        b[t->var_off + 2] = (uint8_t)abs_send_time;
    } else if (t->var_len == 1) {
        b[t->var_off] = (uint8_t)level;
    }
    memcpy(b + n, payload, (size_t)payload_len);
    n += payload_len;
    if (padding) {
        memset(b + n, 0, (size_t)padding - 1);
        b[n + padding - 1] = (uint8_t)padding;
        n += padding;
    }
    return n;
}

/* history(slot) -> (sequence_number, plaintext) or None: the packet rebuilt as it was sent */
static PyObject *Leg_history(Leg *self, PyObject *arg) {
    long slot = PyLong_AsLong(arg);
    if (slot == -1 && PyErr_Occurred()) return NULL;
    if (slot < 0 || slot >= HISTORY_SIZE || self->ring[slot].seq < 0) Py_RETURN_NONE;
    const Entry *e = &self->ring[slot];
    Py_ssize_t payload_len = PyBytes_GET_SIZE(e->payload);
    if (self->tpl[e->level >= 0].len + payload_len + e->padding > MAX_PLAINTEXT)
        Py_RETURN_NONE; /* templates cannot change once set; defensive */
    uint8_t b[MAX_PLAINTEXT];
    Py_ssize_t n = splice(self, b, (uint16_t)e->seq, e->ts, e->marker,
                          (const uint8_t *)PyBytes_AS_STRING(e->payload), payload_len, e->level,
                          e->abs_send_time, e->padding);
    return Py_BuildValue("(iy#)", (int)e->seq, (const char *)b, n);
}

/* 1: send on this leg, 0: skip it, -1: Python error set */
static int leg_live(Leg *self) {
    if (!self->connected || self->protect == NULL || self->nominated == NULL) return 0;
    PyObject *pair = PyDict_GetItemWithError(self->nominated, one); /* borrowed */
    if (pair == NULL && PyErr_Occurred()) return -1;
    if (pair == NULL) pair = Py_None;
    if (pair != self->pair) {
        PyObject *r = PyObject_CallOneArg(self->repoint, pair);
        if (r == NULL) return -1;
        Py_DECREF(r);
    }
    if (self->fd < 0 || self->sock == NULL) return 0;
    /* a closed socket.socket sets its fd field to -1; the number may be reused elsewhere */
    if (self->fd_direct) return ((SocketHead *)self->sock)->sock_fd == self->fd;
    PyObject *fileno = PyObject_CallMethodNoArgs(self->sock, str_fileno);
    if (fileno == NULL) return -1;
    long fd = PyLong_AsLong(fileno);
    Py_DECREF(fileno);
    if (fd == -1 && PyErr_Occurred()) return -1;
    return fd == self->fd;
}

/* hand the datagram to the asyncio transport; 0 or -1 with a Python error set */
static int leg_fallback(Leg *self, const uint8_t *data, int len) {
    self->fallbacks++;
    PyObject *datagram = PyBytes_FromStringAndSize((const char *)data, len);
    if (datagram == NULL) return -1;
    PyObject *r = PyObject_CallOneArg(self->fallback, datagram);
    Py_DECREF(datagram);
    if (r == NULL) return -1;
    int still = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (still < 0) return -1;
    self->backlogged = still;
    return 0;
}

/* Send one protected datagram on the leg's socket, or queue it in asyncio when the socket is
 * full (and after, while asyncio has a backlog, so datagrams stay in order). 1: sent or
 * queued; 0: the kernel refused it (counted); -1 with a Python error set. */
static int leg_transmit(Leg *self, const uint8_t *b, int len) {
    if (!self->backlogged) {
        ssize_t sent;
        do {
            sent = sendto(self->fd, b, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&self->addr,
                          self->addrlen);
        } while (sent < 0 && errno == EINTR);
        if (sent >= 0) return 1;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
            /* a vanished peer (ICMP unreachable) must not stop the fan-out */
            self->send_errors++;
            return 0;
        }
    }
    return leg_fallback(self, b, len) < 0 ? -1 : 1;
}

static void leg_send(Leg *self, uint16_t seq, uint32_t ts, uint8_t marker, PyObject *payload,
                     int level, uint32_t abs_send_time, int padding, unsigned long long ntp) {
    uint8_t *b = self->buf;
    Py_ssize_t payload_len = PyBytes_GET_SIZE(payload);
    Py_ssize_t n = splice(self, b, seq, ts, marker, (const uint8_t *)PyBytes_AS_STRING(payload),
                          payload_len, level, abs_send_time, padding);
    Entry *e = &self->ring[seq % HISTORY_SIZE];
    PyObject *old = e->payload;
    Py_INCREF(payload);
    e->payload = payload;
    e->seq = seq;
    e->ts = ts;
    e->abs_send_time = abs_send_time;
    e->level = (int16_t)level;
    e->marker = marker;
    e->padding = (uint8_t)padding;
    Py_XDECREF(old); /* a bytes object: freeing it runs no Python code */

    self->packets++;
    self->octets += (unsigned long long)payload_len;
    self->rtp_timestamp = ts;
    self->ntp_timestamp = ntp;

    int len = (int)n;
    if (self->protect(self->srtp, b, &len) != 0) {
        self->protect_errors++;
        return;
    }
    if (leg_transmit(self, b, len) < 0) PyErr_WriteUnraisable((PyObject *)self);
}

PyDoc_STRVAR(forward_doc,
             "forward(legs, sequence_number, timestamp, marker, payload, level, ntp, padding) -> int\n\n"
             "Rewrite one received RTP packet for every started leg in `legs` and send it.\n"
             "`marker` is 0 or 0x80, `level` the audio-level byte or -1, `ntp` the 64-bit NTP\n"
             "time of forwarding. Returns the number of legs sent to. Raises before sending\n"
             "anything when an argument is wrong or a rewritten packet would not fit.");

/* 0 when every started leg of `legs` can take the packet, else -1 with a Python error set */
int fanout_check(PyObject *legs, Py_ssize_t payload_len, int level, int padding) {
    if (!PyTuple_Check(legs)) {
        PyErr_SetString(PyExc_TypeError, "legs must be a tuple of Leg");
        return -1;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(legs);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyTuple_GET_ITEM(legs, i);
        if (!PyObject_TypeCheck(item, &LegType)) {
            PyErr_SetString(PyExc_TypeError, "legs must be a tuple of Leg");
            return -1;
        }
        Leg *leg = (Leg *)item;
        if (leg->started && leg->tpl[level >= 0].len + payload_len + padding > MAX_PLAINTEXT) {
            PyErr_Format(PyExc_ValueError, "rewritten packet longer than %d bytes", MAX_PLAINTEXT);
            return -1;
        }
    }
    return 0;
}

/* Send to every started, live leg of `legs` (checked by fanout_check); returns how many. */
long fanout_send(PyObject *legs, uint16_t seq, uint32_t ts, uint8_t marker, PyObject *payload,
                 int level, unsigned long long ntp, int padding) {
    uint32_t abs_send_time = (uint32_t)((ntp >> 14) & 0xFFFFFF);
    Py_ssize_t count = PyTuple_GET_SIZE(legs);
    long sent = 0;
    Py_INCREF(legs); /* a Python callback may drop the caller's tuple */
    for (Py_ssize_t i = 0; i < count; i++) {
        Leg *leg = (Leg *)PyTuple_GET_ITEM(legs, i);
        if (!leg->started) continue;
        Py_INCREF(leg);
        int live = leg_live(leg);
        if (live < 0) {
            /* a failing callback on one leg must not stop the others */
            PyErr_WriteUnraisable((PyObject *)leg);
        } else if (live) {
            leg_send(leg, (uint16_t)(seq + leg->seq_offset), (uint32_t)(ts + leg->ts_offset), marker,
                     payload, level, abs_send_time, padding, ntp);
            sent++;
        }
        Py_DECREF(leg);
    }
    Py_DECREF(legs);
    return sent;
}

static PyObject *fanout_forward(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "forward() takes 8 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *legs = args[0];
    unsigned long seq = PyLong_AsUnsignedLong(args[1]);
    if (seq == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    unsigned long ts = PyLong_AsUnsignedLong(args[2]);
    if (ts == (unsigned long)-1 && PyErr_Occurred()) return NULL;
    long marker = PyLong_AsLong(args[3]);
    if (marker == -1 && PyErr_Occurred()) return NULL;
    PyObject *payload = args[4];
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "payload must be bytes");
        return NULL;
    }
    long level = PyLong_AsLong(args[5]);
    if (level == -1 && PyErr_Occurred()) return NULL;
    unsigned long long ntp = PyLong_AsUnsignedLongLong(args[6]);
    if (ntp == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    long padding = PyLong_AsLong(args[7]);
    if (padding == -1 && PyErr_Occurred()) return NULL;
    if (seq > 0xFFFF || ts > 0xFFFFFFFFUL || (marker != 0 && marker != 0x80) || level < -1 ||
        level > 0xFF || padding < 0 || padding > 0xFF) {
        PyErr_SetString(PyExc_ValueError, "RTP field out of range");
        return NULL;
    }
    /* check everything first: nothing is sent for a packet some leg could not take */
    if (fanout_check(legs, PyBytes_GET_SIZE(payload), (int)level, (int)padding) < 0) return NULL;
    return PyLong_FromLong(fanout_send(legs, (uint16_t)seq, (uint32_t)ts, (uint8_t)marker, payload,
                                       (int)level, ntp, (int)padding));
}

/* ------------------------------------------------------------------ type and module */

PyDoc_STRVAR(send_rtcp_doc,
             "send_rtcp(srtcp_protect_address, plaintext) -> int\n\n"
             "SRTCP-protect one RTCP packet with the leg's session and send it on the leg's socket\n"
             "(queued in asyncio if the socket is full). Returns the datagram's length, or 0 when\n"
             "the leg cannot send now (not connected, no socket) or libsrtp refused it.");

static PyObject *Leg_send_rtcp(Leg *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "send_rtcp(int, bytes)");
        return NULL;
    }
    unsigned long long fn = PyLong_AsUnsignedLongLong(args[0]);
    if (fn == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (fn == 0) {
        PyErr_SetString(PyExc_ValueError, "null SRTCP function");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(args[1]);
    if (size < 8 || size > MAX_PLAINTEXT) {
        PyErr_Format(PyExc_ValueError, "an RTCP packet is 8 to %d bytes", MAX_PLAINTEXT);
        return NULL;
    }
    int live = leg_live(self);
    if (live < 0) return NULL;
    if (!live) return PyLong_FromLong(0);
    uint8_t buf[MAX_DATAGRAM];
    memcpy(buf, PyBytes_AS_STRING(args[1]), (size_t)size);
    int len = (int)size;
    if (((srtp_protect_fn)(uintptr_t)fn)(self->srtp, buf, &len) != 0 || len <= 0 ||
        len > MAX_DATAGRAM) {
        self->protect_errors++;
        return PyLong_FromLong(0);
    }
    int sent = leg_transmit(self, buf, len);
    if (sent < 0) return NULL;
    return PyLong_FromLong(sent ? len : 0);
}

static PyMethodDef Leg_methods[] = {
    {"send_rtcp", (PyCFunction)(void (*)(void))Leg_send_rtcp, METH_FASTCALL, send_rtcp_doc},
    {"set_templates", (PyCFunction)Leg_set_templates, METH_VARARGS,
     "set_templates(t0, off0, len0, t1, off1, len1): header templates without / with audio level"},
    {"start", (PyCFunction)Leg_start, METH_VARARGS, "start(seq_offset, ts_offset)"},
    {"stop", (PyCFunction)Leg_stop, METH_NOARGS, "stop forwarding until start()"},
    {"set_srtp", (PyCFunction)Leg_set_srtp, METH_VARARGS,
     "set_srtp(srtp_protect_address, srtp_t_address, session)"},
    {"set_liveness", (PyCFunction)Leg_set_liveness, METH_VARARGS,
     "set_liveness(nominated, repoint)"},
    {"set_connected", (PyCFunction)Leg_set_connected, METH_O,
     "set_connected(bool): whether the DTLS transport is CONNECTED"},
    {"set_socket", (PyCFunction)Leg_set_socket, METH_VARARGS,
     "set_socket(pair, sock=None, host=None, port=0, fallback=None)"},
    {"history", (PyCFunction)Leg_history, METH_O, "history(slot) -> (seq, plaintext) | None"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Leg_members[] = {
    {"started", T_INT, offsetof(Leg, started), READONLY, NULL},
    {"connected", T_INT, offsetof(Leg, connected), READONLY, NULL},
    {"packets", T_ULONGLONG, offsetof(Leg, packets), READONLY, NULL},
    {"octets", T_ULONGLONG, offsetof(Leg, octets), READONLY, NULL},
    {"rtp_timestamp", T_ULONGLONG, offsetof(Leg, rtp_timestamp), READONLY, NULL},
    {"ntp_timestamp", T_ULONGLONG, offsetof(Leg, ntp_timestamp), READONLY, NULL},
    {"fallbacks", T_ULONGLONG, offsetof(Leg, fallbacks), READONLY, NULL},
    {"send_errors", T_ULONGLONG, offsetof(Leg, send_errors), READONLY, NULL},
    {"protect_errors", T_ULONGLONG, offsetof(Leg, protect_errors), READONLY, NULL},
    {"backlogged", T_INT, offsetof(Leg, backlogged), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject LegType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media._fanout.Leg",
    .tp_doc = "One subscriber leg's state for the C forwarding loop.",
    .tp_basicsize = sizeof(Leg),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Leg_new,
    .tp_dealloc = (destructor)Leg_dealloc,
    .tp_traverse = (traverseproc)Leg_traverse,
    .tp_clear = (inquiry)Leg_clear,
    .tp_methods = Leg_methods,
    .tp_members = Leg_members,
};

/* unprotect(srtp_unprotect_address, srtp_t_address, data) -> plaintext bytes | None
 *
 * Ingest's SRTP unprotect without pylibsrtp's per-packet Python (an ffi.new, two buffer
 * copies through slices, the error check): the plaintext is written into a new bytes
 * object, shrunk to the length libsrtp reports. None when libsrtp refuses the packet
 * (authentication, replay): the caller drops it, as aiortc does. The caller keeps the
 * pylibsrtp Session that owns `srtp_t` alive. */
PyDoc_STRVAR(unprotect_doc, "unprotect(srtp_unprotect_address, srtp_t_address, data) -> bytes | None");

static PyObject *fanout_unprotect(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyBytes_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "unprotect(int, int, bytes)");
        return NULL;
    }
    unsigned long long fn = PyLong_AsUnsignedLongLong(args[0]);
    unsigned long long srtp = PyLong_AsUnsignedLongLong(args[1]);
    if (PyErr_Occurred()) return NULL;
    if (fn == 0 || srtp == 0) {
        PyErr_SetString(PyExc_ValueError, "null srtp function or session");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(args[2]);
    if (size > INT_MAX) Py_RETURN_NONE;
    PyObject *out = PyBytes_FromStringAndSize(PyBytes_AS_STRING(args[2]), size);
    if (out == NULL) return NULL;
    int len = (int)size;
    if (((srtp_protect_fn)(uintptr_t)fn)((void *)(uintptr_t)srtp, PyBytes_AS_STRING(out), &len) != 0 ||
        len < 0 || len > size) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    if (len != size && _PyBytes_Resize(&out, len) < 0) return NULL;
    return out;
}

static PyMethodDef module_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))fanout_forward, METH_FASTCALL, forward_doc},
    {"unprotect", (PyCFunction)(void (*)(void))fanout_unprotect, METH_FASTCALL, unprotect_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fanout_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "media._fanout",
    .m_doc = "The SFU's per-packet fan-out loop (see media/_fanout.c).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__fanout(void) {
    str_fileno = PyUnicode_InternFromString("fileno");
    one = PyLong_FromLong(1);
    if (str_fileno == NULL || one == NULL) return NULL;
    PyObject *socket_module = PyImport_ImportModule("_socket");
    if (socket_module == NULL) return NULL;
    socket_type = (PyTypeObject *)PyObject_GetAttrString(socket_module, "socket");
    Py_DECREF(socket_module);
    if (socket_type == NULL) return NULL;
    if (!PyType_Check(socket_type)) {
        PyErr_SetString(PyExc_ImportError, "_socket.socket is not a type");
        return NULL;
    }
    if (PyType_Ready(&LegType) < 0) return NULL;
    PyObject *m = PyModule_Create(&fanout_module);
    if (m == NULL) return NULL;
    Py_INCREF(&LegType);
    if (PyModule_AddObject(m, "Leg", (PyObject *)&LegType) < 0 ||
        PyModule_AddIntConstant(m, "HISTORY_SIZE", HISTORY_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "MAX_PLAINTEXT", MAX_PLAINTEXT) < 0 ||
        PyModule_AddIntConstant(m, "SRTP_TRAILER", SRTP_TRAILER) < 0 ||
        ingest_add_to_module(m) < 0 || remb_add_to_module(m) < 0) {
        Py_DECREF(&LegType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
