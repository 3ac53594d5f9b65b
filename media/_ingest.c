/*
 * The SFU's RTP ingest in C: one call per received datagram unprotects it, parses it, keeps
 * aiortc's receive statistics and NACK state, and fans it out to the subscriber legs.
 *
 * Why C: in Python the ingest of one packet (unprotect call, parse, aiortc's route_rtp, the
 * ReceiverTap's statistics/NACK/REMB bookkeeping, the publication's fan-out call) ran ~100 us
 * with the caches cold after each wake-up; it was most of the cost of a 1:1 room and ~20 %
 * of a 1 -> 48 fan-out.
 *
 * Only the steady state is taken here, and only once Python has seen it: `Inlet.take` returns
 *   - True when the packet was handled (or dropped, as aiortc drops what libsrtp refuses);
 *   - False for anything that is not SRTP (STUN, DTLS), SRTCP, or before keys exist: the
 *     caller runs the Python path on the datagram;
 *   - the plaintext bytes for every other packet: the caller parses and handles it in Python
 *     (media/_aiortc.py FastIngest.take_plain), which may then arm the C path for its stream.
 * A packet stays in C only if all of this holds, else it is handed over untouched:
 *   - its header is one aiortc parses (V=2, no CSRC, one-byte extensions if any, valid
 *     padding) and its extensions have the lengths aiortc requires (text ones plain ASCII);
 *   - its SSRC was routed to an armed `Inbound` by Python (after aiortc's route_rtp chose that
 *     receiver; any change to the receiver tables drops the routes), with the same payload
 *     type (not RTX);
 *   - it is the next packet in order: later than the statistics' highest sequence number and,
 *     for video, exactly the NACK generator's next one (packets still missing are fine: as
 *     NackGenerator.add does, those now too old to ask for are forgotten);
 *   - the publication forwards (`legs` is a tuple: not muted, closed or waiting for a keyframe)
 *     and every leg can take it; the connection is not in the quiet lane.
 * Then it does what the Python path does, in the same objects: aiortc's StreamStatistics.add
 * and NackGenerator.add on the Python instances (their attributes are read and written, so
 * RTCP receiver reports and getStats see one state), the REMB estimator once per frame
 * (_remb.c; Python hears only of new estimates: `on_estimate`), the tap's and publication's
 * counters, and the fan-out of _fanout.c.
 */
#include "_fanout.h"

#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define NTP_EPOCH_OFFSET 2208988800ULL /* seconds from 1900 to 1970 */
#define MAX_ROUTES 8                   /* SSRCs per connection: audio, video, screen (+ spares) */
#define MAX_INGEST 2048                /* longer datagrams take the Python path */

/* what the C parser must check of a one-byte header extension, by its negotiated id */
enum { EXT_OTHER = 0, EXT_ABS_SEND_TIME, EXT_AUDIO_LEVEL, EXT_TEXT, EXT_TWO_BYTES, EXT_THREE_BYTES };

static PyObject *s_max_seq, *s_cycles, *s_packets_received, *s_jitter_q4,
    *s_last_arrival, *s_last_timestamp, *s_missing;
static PyObject *probe; /* diagnostics (bench.sfu): called after each packet C forwarded */

/* ------------------------------------------------------------------ Inbound */

typedef struct {
    PyObject_HEAD
    /* the stream C may take, set by arm() */
    int armed;
    uint32_t ssrc;
    int payload_type;
    long long clock_rate;
    PyObject *stats;    /* aiortc StreamStatistics of `ssrc` */
    PyObject *nack;     /* aiortc NackGenerator, or NULL (audio) */
    PyObject *remb;        /* the stream's RembEstimator (media/_remb.c), or NULL (no REMB) */
    PyObject *on_estimate; /* on_estimate(bitrate, ssrcs, arrival_time_ms): it has a new one */
    /* the publication's fan-out: a tuple of Leg, anything else hands packets to Python */
    PyObject *legs;
    /* state shared with the Python path, which reads and writes these members */
    unsigned long long packets;    /* ReceiverTap.packets */
    unsigned long long remb_bytes; /* bytes of the current frame not yet given to REMB */
    unsigned long long forwarded;  /* Publication.forwarded_packets */
    unsigned long long taken;      /* packets handled here, without Python */
    unsigned int last_seq;         /* the publication's last forwarded packet */
    unsigned int last_ts;
    double last_wall; /* time.monotonic() when it was forwarded */
} Inbound;

static PyTypeObject InboundType;

static PyObject *Inbound_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "Inbound() takes no arguments");
        return NULL;
    }
    Inbound *self = (Inbound *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    Py_INCREF(Py_None);
    self->legs = Py_None;
    return (PyObject *)self;
}

static int Inbound_traverse(Inbound *self, visitproc visit, void *arg) {
    Py_VISIT(self->stats);
    Py_VISIT(self->nack);
    Py_VISIT(self->remb);
    Py_VISIT(self->on_estimate);
    Py_VISIT(self->legs);
    return 0;
}

static int Inbound_clear(Inbound *self) {
    self->armed = 0;
    Py_CLEAR(self->stats);
    Py_CLEAR(self->nack);
    Py_CLEAR(self->remb);
    Py_CLEAR(self->on_estimate);
    Py_CLEAR(self->legs);
    return 0;
}

static void Inbound_dealloc(Inbound *self) {
    PyObject_GC_UnTrack(self);
    Inbound_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(arm_doc,
             "arm(ssrc, payload_type, clock_rate, stats, nack, remb, on_estimate)\n\n"
             "Let the C path take in-order packets of `ssrc` with `payload_type`, keeping `stats`\n"
             "(aiortc StreamStatistics) and `nack` (NackGenerator or None) as aiortc would,\n"
             "feeding each frame to `remb` (a RembEstimator, or None) and calling\n"
             "`on_estimate(bitrate, ssrcs, arrival_time_ms)` when it has a new estimate.");

static PyObject *Inbound_arm(Inbound *self, PyObject *args) {
    unsigned long ssrc;
    int payload_type;
    long long clock_rate;
    PyObject *stats, *nack, *remb, *on_estimate;
    if (!PyArg_ParseTuple(args, "kiLOOOO:arm", &ssrc, &payload_type, &clock_rate, &stats, &nack,
                          &remb, &on_estimate))
        return NULL;
    if (ssrc > 0xFFFFFFFFUL || payload_type < 0 || payload_type > 127 || clock_rate <= 0) {
        PyErr_SetString(PyExc_ValueError, "ssrc, payload type or clock rate out of range");
        return NULL;
    }
    if (remb != Py_None && (!remb_check(remb) || !PyCallable_Check(on_estimate))) {
        PyErr_SetString(PyExc_TypeError, "remb must be a RembEstimator (with on_estimate) or None");
        return NULL;
    }
    self->ssrc = (uint32_t)ssrc;
    self->payload_type = payload_type;
    self->clock_rate = clock_rate;
    Py_INCREF(stats);
    Py_XSETREF(self->stats, stats);
    if (nack == Py_None) {
        Py_CLEAR(self->nack);
    } else {
        Py_INCREF(nack);
        Py_XSETREF(self->nack, nack);
    }
    if (remb == Py_None) {
        Py_CLEAR(self->remb);
        Py_CLEAR(self->on_estimate);
    } else {
        Py_INCREF(remb);
        Py_XSETREF(self->remb, remb);
        Py_INCREF(on_estimate);
        Py_XSETREF(self->on_estimate, on_estimate);
    }
    self->armed = 1;
    Py_RETURN_NONE;
}

static PyObject *Inbound_disarm(Inbound *self, PyObject *Py_UNUSED(ignored)) {
    self->armed = 0;
    Py_CLEAR(self->stats);
    Py_CLEAR(self->nack);
    Py_CLEAR(self->remb);
    Py_CLEAR(self->on_estimate);
    Py_RETURN_NONE;
}

/* Read an int attribute: 1 and *out set; 0 when it is None or does not fit; -1 on error. */
static int read_int(PyObject *obj, PyObject *name, long long *out) {
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL) return -1;
    int ok = 0;
    if (PyLong_CheckExact(v)) {
        int overflow;
        *out = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (*out == -1 && PyErr_Occurred()) {
            Py_DECREF(v);
            return -1;
        }
        ok = !overflow;
    }
    Py_DECREF(v);
    return ok;
}

static int write_int(PyObject *obj, PyObject *name, long long value) {
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL) return -1;
    int r = PyObject_SetAttr(obj, name, v);
    Py_DECREF(v);
    return r;
}

/* aiortc.utils.uint16_gt */
static int uint16_gt(long long a, long long b) {
    return (a > b && a - b < 0x8000) || (a < b && b - a > 0x8000);
}

/* NackGenerator.truncate: forget the missing packets older than RTP_HISTORY_SIZE (128) behind
 * `max_seq`, which no sender history holds any more. Runs only while some are missing. */
static int nack_truncate(PyObject *nack, uint16_t max_seq) {
    PyObject *missing = PyObject_GetAttr(nack, s_missing);
    if (missing == NULL) return -1;
    long long min_seq = (max_seq - 128) & 0xFFFF;
    PyObject *old = PyList_New(0);
    PyObject *it = old ? PyObject_GetIter(missing) : NULL;
    PyObject *item;
    int r = it ? 0 : -1;
    while (it && (item = PyIter_Next(it)) != NULL) { /* collect first: no change while iterating */
        long long seq = PyLong_AsLongLong(item);
        if (seq == -1 && PyErr_Occurred()) r = -1;
        else if (uint16_gt(min_seq, seq) && PyList_Append(old, item) < 0) r = -1;
        Py_DECREF(item);
        if (r < 0) break;
    }
    if (r == 0 && PyErr_Occurred()) r = -1;
    for (Py_ssize_t i = 0; r == 0 && i < PyList_GET_SIZE(old); i++)
        if (PySet_Discard(missing, PyList_GET_ITEM(old, i)) < 0) r = -1;
    Py_XDECREF(it);
    Py_XDECREF(old);
    Py_DECREF(missing);
    return r;
}

/* One parsed packet, pointing into the plaintext buffer. */
typedef struct {
    uint8_t marker;
    int payload_type;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    long abs_send_time; /* -1: absent */
    int level;          /* the audio-level byte, -1: absent */
    const uint8_t *payload;
    Py_ssize_t payload_len;
    int padding;
} Rtp;

/* 1: taken; 0: Python must handle the packet (nothing was changed); -1: error set (the state
 * may be partly updated, as an exception in the Python path would leave it). */
static int inbound_take(Inbound *self, const Rtp *p, double now) {
    PyObject *legs = self->legs;
    if (!self->armed || p->ssrc != self->ssrc || p->payload_type != self->payload_type ||
        !PyTuple_CheckExact(legs))
        return 0;
    /* everything is checked before anything is written */
    /* (base_seq is not read: aiortc sets it with the first max_seq and never clears it) */
    long long max_seq, last_arrival, last_timestamp, received, cycles, jitter_q4;
    int r;
    if ((r = read_int(self->stats, s_max_seq, &max_seq)) <= 0) return r;
    if (!uint16_gt(p->seq, max_seq)) return 0; /* late or repeated: StreamStatistics' other branch */
    if ((r = read_int(self->stats, s_last_arrival, &last_arrival)) <= 0) return r;
    if ((r = read_int(self->stats, s_last_timestamp, &last_timestamp)) <= 0) return r;
    if ((r = read_int(self->stats, s_packets_received, &received)) <= 0) return r;
    if ((r = read_int(self->stats, s_cycles, &cycles)) <= 0) return r;
    if ((r = read_int(self->stats, s_jitter_q4, &jitter_q4)) <= 0) return r;
    Py_ssize_t missing_count = 0;
    if (self->nack != NULL) {
        long long nack_max;
        if ((r = read_int(self->nack, s_max_seq, &nack_max)) <= 0) return r;
        if (p->seq != ((nack_max + 1) & 0xFFFF)) return 0; /* a gap: NackGenerator.add */
        PyObject *missing = PyObject_GetAttr(self->nack, s_missing);
        if (missing == NULL) return -1;
        missing_count = PySet_CheckExact(missing) ? PySet_GET_SIZE(missing) : -1;
        Py_DECREF(missing);
        if (missing_count < 0) return 0;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(legs);
    if (count && fanout_check(legs, p->payload_len, p->level, p->padding) < 0) {
        PyErr_Clear(); /* the Python path raises it again and logs it */
        return 0;
    }

    /* StreamStatistics.add, in-order branch */
    long long arrival = (long long)(now * (double)self->clock_rate);
    received += 1;
    if (p->seq < max_seq) cycles += 1 << 16;
    if (write_int(self->stats, s_packets_received, received) < 0 ||
        write_int(self->stats, s_max_seq, p->seq) < 0 ||
        (p->seq < max_seq && write_int(self->stats, s_cycles, cycles) < 0))
        return -1;
    if (p->ts != last_timestamp && received > 1) {
        long long diff = (arrival - last_arrival) - ((long long)p->ts - last_timestamp);
        if (diff < 0) diff = -diff;
        jitter_q4 += diff - ((jitter_q4 + 8) >> 4);
        if (write_int(self->stats, s_jitter_q4, jitter_q4) < 0) return -1;
    }
    if (write_int(self->stats, s_last_arrival, arrival) < 0 ||
        write_int(self->stats, s_last_timestamp, p->ts) < 0)
        return -1;
    /* NackGenerator.add of the next packet: nothing new is missing */
    if (self->nack != NULL && write_int(self->nack, s_max_seq, p->seq) < 0) return -1;
    if (missing_count > 0 && nack_truncate(self->nack, p->seq) < 0) return -1;

    int frame_end = 0;
    if (self->remb != NULL && p->abs_send_time >= 0) {
        self->remb_bytes += (unsigned long long)(p->payload_len + p->padding);
        frame_end = p->marker;
    }
    self->packets++;
    self->taken++;

    if (count) {
        PyObject *payload = PyBytes_FromStringAndSize((const char *)p->payload, p->payload_len);
        if (payload == NULL) return -1;
        double whole = (double)(long long)now;
        unsigned long long ntp = ((unsigned long long)(long long)now + NTP_EPOCH_OFFSET) << 32 |
                                 (unsigned long long)((now - whole) * 4294967296.0);
        Py_INCREF(self); /* a leg's Python callback could drop the last reference */
        fanout_send(legs, p->seq, p->ts, p->marker ? 0x80 : 0, payload, p->level, ntp,
                    p->padding);
        Py_DECREF(payload);
        struct timespec mono;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        self->forwarded++;
        self->last_seq = p->seq;
        self->last_ts = p->ts;
        self->last_wall = (double)mono.tv_sec + (double)mono.tv_nsec * 1e-9;
        if (probe != NULL) {
            PyObject *res = PyObject_CallNoArgs(probe);
            if (res == NULL) PyErr_WriteUnraisable(probe);
            Py_XDECREF(res);
        }
        Py_DECREF(self);
    }
    if (frame_end && self->remb != NULL) {
        /* the estimator groups a frame's packets anyway: fed once per frame, with its size */
        long long arrival_ms = (long long)((now + (double)NTP_EPOCH_OFFSET) * 1000.0);
        long long bitrate;
        int estimated = remb_add(self->remb, arrival_ms, (uint32_t)p->abs_send_time,
                                 (long long)self->remb_bytes, p->ssrc, &bitrate);
        self->remb_bytes = 0;
        if (estimated) {
            PyObject *on_estimate = self->on_estimate;
            Py_INCREF(on_estimate);
            PyObject *ssrcs = remb_ssrcs(self->remb);
            PyObject *res = ssrcs == NULL ? NULL
                                          : PyObject_CallFunction(on_estimate, "LNL", bitrate,
                                                                  ssrcs, arrival_ms);
            if (res == NULL) PyErr_WriteUnraisable(on_estimate);
            Py_XDECREF(res);
            Py_DECREF(on_estimate);
        }
    }
    return 1;
}

static PyMethodDef Inbound_methods[] = {
    {"arm", (PyCFunction)Inbound_arm, METH_VARARGS, arm_doc},
    {"disarm", (PyCFunction)Inbound_disarm, METH_NOARGS, "hand every packet to Python"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Inbound_members[] = {
    {"armed", T_INT, offsetof(Inbound, armed), READONLY, NULL},
    {"ssrc", T_UINT, offsetof(Inbound, ssrc), READONLY, NULL},
    {"payload_type", T_INT, offsetof(Inbound, payload_type), READONLY, NULL},
    {"legs", T_OBJECT, offsetof(Inbound, legs), 0, "tuple of Leg to forward to, None: Python"},
    {"packets", T_ULONGLONG, offsetof(Inbound, packets), 0, NULL},
    {"remb_bytes", T_ULONGLONG, offsetof(Inbound, remb_bytes), 0, NULL},
    {"forwarded", T_ULONGLONG, offsetof(Inbound, forwarded), 0, NULL},
    {"taken", T_ULONGLONG, offsetof(Inbound, taken), READONLY, "packets handled without Python"},
    {"last_seq", T_UINT, offsetof(Inbound, last_seq), 0, NULL},
    {"last_ts", T_UINT, offsetof(Inbound, last_ts), 0, NULL},
    {"last_wall", T_DOUBLE, offsetof(Inbound, last_wall), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject InboundType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media._fanout.Inbound",
    .tp_doc = "One received stream's state for the C ingest (a ReceiverTap's media SSRC).",
    .tp_basicsize = sizeof(Inbound),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Inbound_new,
    .tp_dealloc = (destructor)Inbound_dealloc,
    .tp_traverse = (traverseproc)Inbound_traverse,
    .tp_clear = (inquiry)Inbound_clear,
    .tp_methods = Inbound_methods,
    .tp_members = Inbound_members,
};

/* ------------------------------------------------------------------ Inlet */

typedef struct {
    uint32_t ssrc;
    Inbound *inbound; /* owned */
} Route;

typedef struct {
    PyObject_HEAD
    srtp_protect_fn unprotect; /* srtp_unprotect */
    void *srtp;
    PyObject *session; /* the pylibsrtp Session that owns `srtp` */
    uint8_t ext[16];   /* one-byte extension id -> EXT_* */
    Route routes[MAX_ROUTES];
    int nroutes;
    int quiet; /* the sockets are in the quiet lane: Python must see the packet */
    unsigned long long handled;
    unsigned long long rx_bytes; /* datagrams C counted, not yet added to the DTLS transport */
    unsigned long long rx_packets;
    unsigned long long taken; /* packets handled entirely in C */
} Inlet;

static PyTypeObject InletType;

static PyObject *Inlet_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "Inlet() takes no arguments");
        return NULL;
    }
    return type->tp_alloc(type, 0);
}

static int Inlet_traverse(Inlet *self, visitproc visit, void *arg) {
    Py_VISIT(self->session);
    for (int i = 0; i < self->nroutes; i++) Py_VISIT(self->routes[i].inbound);
    return 0;
}

static int Inlet_clear(Inlet *self) {
    self->unprotect = NULL;
    self->srtp = NULL;
    Py_CLEAR(self->session);
    int n = self->nroutes;
    self->nroutes = 0;
    for (int i = 0; i < n; i++) Py_CLEAR(self->routes[i].inbound);
    return 0;
}

static void Inlet_dealloc(Inlet *self) {
    PyObject_GC_UnTrack(self);
    Inlet_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Inlet_set_srtp(Inlet *self, PyObject *args) {
    unsigned long long fn, srtp;
    PyObject *session;
    if (!PyArg_ParseTuple(args, "KKO:set_srtp", &fn, &srtp, &session)) return NULL;
    if ((fn == 0) != (srtp == 0) || (fn == 0) != (session == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "set_srtp(fn, srtp, session) or set_srtp(0, 0, None)");
        return NULL;
    }
    self->unprotect = (srtp_protect_fn)(uintptr_t)fn;
    self->srtp = (void *)(uintptr_t)srtp;
    if (session == Py_None) {
        Py_CLEAR(self->session);
    } else {
        Py_INCREF(session);
        Py_XSETREF(self->session, session);
    }
    Py_RETURN_NONE;
}

static PyObject *Inlet_set_extensions(Inlet *self, PyObject *arg) {
    if (!PyBytes_Check(arg) || PyBytes_GET_SIZE(arg) != 16) {
        PyErr_SetString(PyExc_ValueError, "16 bytes: the kind of each one-byte extension id");
        return NULL;
    }
    const uint8_t *kinds = (const uint8_t *)PyBytes_AS_STRING(arg);
    for (int i = 0; i < 16; i++) {
        if (kinds[i] > EXT_THREE_BYTES) {
            PyErr_SetString(PyExc_ValueError, "unknown extension kind");
            return NULL;
        }
    }
    memcpy(self->ext, kinds, 16);
    Py_RETURN_NONE;
}

static void drop_route(Inlet *self, int i) {
    Inbound *old = self->routes[i].inbound;
    self->routes[i] = self->routes[--self->nroutes];
    Py_DECREF(old);
}

/* route(ssrc, inbound): packets of `ssrc` go to `inbound` (its previous SSRC's route goes) */
static PyObject *Inlet_route(Inlet *self, PyObject *args) {
    unsigned long ssrc;
    PyObject *inbound;
    if (!PyArg_ParseTuple(args, "kO!:route", &ssrc, &InboundType, &inbound)) return NULL;
    for (int i = self->nroutes - 1; i >= 0; i--)
        if (self->routes[i].ssrc == ssrc || (PyObject *)self->routes[i].inbound == inbound)
            drop_route(self, i);
    if (self->nroutes == MAX_ROUTES) drop_route(self, 0); /* the oldest: Python re-routes it */
    Py_INCREF(inbound);
    self->routes[self->nroutes].ssrc = (uint32_t)ssrc;
    self->routes[self->nroutes].inbound = (Inbound *)inbound;
    self->nroutes++;
    Py_RETURN_NONE;
}

static PyObject *Inlet_flush(Inlet *self, PyObject *Py_UNUSED(ignored)) {
    while (self->nroutes) drop_route(self, self->nroutes - 1);
    Py_RETURN_NONE;
}

static PyObject *Inlet_routes(Inlet *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    for (int i = 0; i < self->nroutes; i++) {
        PyObject *key = PyLong_FromUnsignedLong(self->routes[i].ssrc);
        if (key == NULL || PyDict_SetItem(d, key, (PyObject *)self->routes[i].inbound) < 0) {
            Py_XDECREF(key);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(key);
    }
    return d;
}

/* Parse an RTP header as aiortc does; 1: parsed, 0: leave it to aiortc's parser. */
static int parse(const Inlet *self, const uint8_t *b, Py_ssize_t n, Rtp *p) {
    if (n < 12 || (b[0] >> 6) != 2 || (b[0] & 0x0F)) return 0; /* short, bad version, CSRC */
    p->marker = b[1] >> 7;
    p->payload_type = b[1] & 0x7F;
    p->seq = (uint16_t)(b[2] << 8 | b[3]);
    p->ts = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
    p->ssrc = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
    p->abs_send_time = -1;
    p->level = -1;
    Py_ssize_t end = 12;
    if (b[0] & 0x10) {
        if (n < 16 || b[12] != 0xBE || b[13] != 0xDE) return 0; /* two-byte form or truncated */
        end = 16 + 4 * (Py_ssize_t)(b[14] << 8 | b[15]);
        if (n < end) return 0;
        Py_ssize_t pos = 16;
        while (pos < end) {
            uint8_t byte = b[pos];
            if (byte == 0) { /* padding */
                pos++;
                continue;
            }
            pos++;
            Py_ssize_t len = (byte & 0x0F) + 1;
            if (pos + len > end) return 0;
            switch (self->ext[byte >> 4]) {
            case EXT_ABS_SEND_TIME:
                if (len != 3) return 0;
                p->abs_send_time = (long)b[pos] << 16 | (long)b[pos + 1] << 8 | b[pos + 2];
                break;
            case EXT_AUDIO_LEVEL:
                p->level = b[pos]; /* voice-activity flag and level, as forwarded */
                break;
            case EXT_TEXT: /* mid, rid: aiortc decodes them, which fails on bad UTF-8 */
                for (Py_ssize_t i = pos; i < pos + len; i++)
                    if (b[i] & 0x80) return 0;
                break;
            case EXT_TWO_BYTES:
                if (len != 2) return 0;
                break;
            case EXT_THREE_BYTES:
                if (len != 3) return 0;
                break;
            default:
                break;
            }
            pos += len;
        }
    }
    p->padding = 0;
    if (b[0] & 0x20) {
        p->padding = b[n - 1];
        if (p->padding == 0 || p->padding > n - end) return 0;
    }
    p->payload = b + end;
    p->payload_len = n - end - p->padding;
    return 1;
}

PyDoc_STRVAR(take_doc,
             "take(datagram) -> True | False | bytes\n\n"
             "True: handled (or dropped as aiortc drops it). False: not SRTP, SRTCP or no keys\n"
             "yet, run the Python path on the datagram. bytes: the unprotected RTP packet, which\n"
             "Python must parse and handle.");

enum { TAKE_NOT_OURS, TAKE_DONE, TAKE_PLAIN };

/* The datagram in `buf` (n bytes, writable): TAKE_NOT_OURS (untouched: not SRTP, SRTCP, no
 * keys or too long), TAKE_DONE (handled, or dropped as aiortc drops it), TAKE_PLAIN (`buf`
 * now holds the plaintext RTP packet, *plain_len bytes, for Python to handle). */
static int inlet_take(Inlet *self, uint8_t *buf, Py_ssize_t n, int *plain_len) {
    /* RTP: first byte 128..191 (RFC 7983), second not an RTCP packet type (RFC 5761) */
    if (n < 2 || buf[0] < 128 || buf[0] > 191 || (buf[1] > 191 && buf[1] < 209) ||
        self->srtp == NULL || n > MAX_INGEST)
        return TAKE_NOT_OURS;
    self->rx_bytes += (unsigned long long)n;
    self->rx_packets++;
    int len = (int)n;
    if (self->unprotect(self->srtp, buf, &len) != 0 || len < 0 || len > n) return TAKE_DONE;
    *plain_len = len;
    Rtp p;
    if (self->quiet || !parse(self, buf, len, &p)) return TAKE_PLAIN;
    for (int i = 0; i < self->nroutes; i++) {
        if (self->routes[i].ssrc != p.ssrc) continue;
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        Inbound *inbound = self->routes[i].inbound;
        Py_INCREF(inbound); /* a callback may re-route */
        int r = inbound_take(inbound, &p, (double)wall.tv_sec + (double)wall.tv_nsec * 1e-9);
        Py_DECREF(inbound);
        if (r < 0) {
            /* as ReceiverTap.handle does: a packet that cannot be handled is dropped */
            PyErr_WriteUnraisable((PyObject *)self);
            return TAKE_DONE;
        }
        if (r == 0) return TAKE_PLAIN;
        self->handled++;
        self->taken++;
        return TAKE_DONE;
    }
    return TAKE_PLAIN;
}

static PyObject *Inlet_take(Inlet *self, PyObject *data) {
    if (!PyBytes_CheckExact(data)) Py_RETURN_FALSE;
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (n > MAX_INGEST) Py_RETURN_FALSE;
    uint8_t buf[MAX_INGEST];
    memcpy(buf, PyBytes_AS_STRING(data), (size_t)n);
    int len = 0;
    switch (inlet_take(self, buf, n, &len)) {
    case TAKE_NOT_OURS:
        Py_RETURN_FALSE;
    case TAKE_DONE:
        Py_RETURN_TRUE;
    default:
        return PyBytes_FromStringAndSize((const char *)buf, len);
    }
}

static PyMethodDef Inlet_methods[] = {
    {"take", (PyCFunction)Inlet_take, METH_O, take_doc},
    {"set_srtp", (PyCFunction)Inlet_set_srtp, METH_VARARGS,
     "set_srtp(srtp_unprotect_address, srtp_t_address, session); (0, 0, None) stops"},
    {"set_extensions", (PyCFunction)Inlet_set_extensions, METH_O,
     "set_extensions(kinds): 16 bytes, the EXT_* kind of each one-byte extension id"},
    {"route", (PyCFunction)Inlet_route, METH_VARARGS, "route(ssrc, inbound)"},
    {"flush", (PyCFunction)Inlet_flush, METH_NOARGS, "drop every route"},
    {"routes", (PyCFunction)Inlet_routes, METH_NOARGS, "routes() -> {ssrc: Inbound}"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Inlet_members[] = {
    {"quiet", T_INT, offsetof(Inlet, quiet), 0, NULL},
    {"handled", T_ULONGLONG, offsetof(Inlet, handled), 0, "RTP packets routed to a receiver"},
    {"rx_bytes", T_ULONGLONG, offsetof(Inlet, rx_bytes), 0, NULL},
    {"rx_packets", T_ULONGLONG, offsetof(Inlet, rx_packets), 0, NULL},
    {"taken", T_ULONGLONG, offsetof(Inlet, taken), READONLY, "packets handled entirely in C"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject InletType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media._fanout.Inlet",
    .tp_doc = "One DTLS transport's C ingest of SRTP (see media/_ingest.c).",
    .tp_basicsize = sizeof(Inlet),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Inlet_new,
    .tp_dealloc = (destructor)Inlet_dealloc,
    .tp_traverse = (traverseproc)Inlet_traverse,
    .tp_clear = (inquiry)Inlet_clear,
    .tp_methods = Inlet_methods,
    .tp_members = Inlet_members,
};

/* ------------------------------------------------------------------ socket reads */

#define MAX_UDP 65536

/* The sender's address as socket.recvfrom gives it (CPython's makesockaddr: numeric host
 * from getnameinfo, which keeps an IPv6 scope). */
static PyObject *address(const struct sockaddr_storage *ss, socklen_t len) {
    char host[NI_MAXHOST];
    if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, NULL, 0,
                    NI_NUMERICHOST) != 0)
        host[0] = 0;
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        return Py_BuildValue("(siII)", host, ntohs(a->sin6_port), ntohl(a->sin6_flowinfo),
                             a->sin6_scope_id);
    }
    if (ss->ss_family == AF_INET)
        return Py_BuildValue("(si)", host, ntohs(((const struct sockaddr_in *)ss)->sin_port));
    Py_RETURN_NONE;
}

PyDoc_STRVAR(read_doc,
             "read_datagrams(fd, budget, deliver, inlet, plain, stamps) -> int | OSError\n\n"
             "Read up to `budget` datagrams from the non-blocking UDP socket `fd`. Each one `inlet`\n"
             "(an Inlet, or None) handles stays in C; otherwise `deliver(data, addr)` is called\n"
             "(not ours) or `plain(plaintext)` (RTP the inlet unprotected for Python), and the\n"
             "call returns right after, so that the caller sees any change the callback made.\n"
             "Returns how many datagrams were read, -1 - that when the socket had no more, or\n"
             "the OSError of a failed read (not raised; a callback's exception is). `stamps`: a\n"
             "list whose [0] receives each datagram's SO_TIMESTAMPNS arrival time, or None.");

static PyObject *read_datagrams(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "read_datagrams() takes 6 arguments");
        return NULL;
    }
    long fd = PyLong_AsLong(args[0]);
    if (fd == -1 && PyErr_Occurred()) return NULL;
    long budget = PyLong_AsLong(args[1]);
    if (budget == -1 && PyErr_Occurred()) return NULL;
    PyObject *deliver = args[2], *inlet = args[3], *plain = args[4], *stamps = args[5];
    if (fd < 0 || fd > INT_MAX || budget < 1 || !PyCallable_Check(deliver)) {
        PyErr_SetString(PyExc_ValueError, "read_datagrams(fd >= 0, budget >= 1, callable, ...)");
        return NULL;
    }
    if (inlet != Py_None && (!PyObject_TypeCheck(inlet, &InletType) || !PyCallable_Check(plain))) {
        PyErr_SetString(PyExc_TypeError, "inlet must be an Inlet (with a plain callable) or None");
        return NULL;
    }
    if (stamps != Py_None && (!PyList_Check(stamps) || PyList_GET_SIZE(stamps) < 1)) {
        PyErr_SetString(PyExc_TypeError, "stamps must be a non-empty list or None");
        return NULL;
    }
    /* one buffer for every socket: the GIL is held, and no datagram's bytes are read after a
     * Python callback (they are copied into bytes first), so even a nested call is safe */
    static uint8_t buf[MAX_UDP];
    for (long i = 0; i < budget; i++) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n;
        double stamp = 0;
        do {
            if (stamps == Py_None) {
                n = recvfrom((int)fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from,
                             &fromlen);
            } else {
                char control[64];
                struct iovec iov = {buf, sizeof buf};
                struct msghdr msg = {&from, sizeof from, &iov, 1, control, sizeof control, 0};
                n = recvmsg((int)fd, &msg, MSG_DONTWAIT);
                fromlen = msg.msg_namelen;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
                    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                        struct timespec ts;
                        memcpy(&ts, CMSG_DATA(c), sizeof ts);
                        stamp = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
                    }
                }
            }
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return PyLong_FromLong(-1 - i);
            return PyObject_CallFunction(PyExc_OSError, "is", errno, strerror(errno));
        }
        if (stamp != 0) {
            PyObject *value = PyFloat_FromDouble(stamp);
            if (value == NULL) return NULL;
            PyList_SetItem(stamps, 0, value); /* steals value */
        }
        int len = 0;
        int r = inlet == Py_None ? TAKE_NOT_OURS : inlet_take((Inlet *)inlet, buf, n, &len);
        if (r == TAKE_DONE) continue;
        PyObject *res;
        if (r == TAKE_PLAIN) {
            PyObject *data = PyBytes_FromStringAndSize((const char *)buf, len);
            if (data == NULL) return NULL;
            res = PyObject_CallOneArg(plain, data);
            Py_DECREF(data);
        } else {
            PyObject *data = PyBytes_FromStringAndSize((const char *)buf, n);
            PyObject *addr = data ? address(&from, fromlen) : NULL;
            if (addr == NULL) {
                Py_XDECREF(data);
                return NULL;
            }
            res = PyObject_CallFunctionObjArgs(deliver, data, addr, NULL);
            Py_DECREF(data);
            Py_DECREF(addr);
        }
        if (res == NULL) return NULL;
        Py_DECREF(res);
        return PyLong_FromLong(i + 1);
    }
    return PyLong_FromLong(budget);
}

/* ------------------------------------------------------------------ module */

static PyObject *set_probe(PyObject *module, PyObject *arg) {
    if (arg != Py_None && !PyCallable_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "probe must be callable or None");
        return NULL;
    }
    if (arg == Py_None) {
        Py_CLEAR(probe);
    } else {
        Py_INCREF(arg);
        Py_XSETREF(probe, arg);
    }
    Py_RETURN_NONE;
}

static PyMethodDef ingest_functions[] = {
    {"read_datagrams", (PyCFunction)(void (*)(void))read_datagrams, METH_FASTCALL, read_doc},
    {"set_probe", set_probe, METH_O,
     "set_probe(callable | None): diagnostics, called after each packet the C ingest forwarded"},
    {NULL, NULL, 0, NULL},
};

int ingest_add_to_module(PyObject *module) {
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) return -1
    INTERN(s_max_seq, "max_seq");
    INTERN(s_cycles, "cycles");
    INTERN(s_packets_received, "packets_received");
    INTERN(s_jitter_q4, "_jitter_q4");
    INTERN(s_last_arrival, "_last_arrival");
    INTERN(s_last_timestamp, "_last_timestamp");
    INTERN(s_missing, "missing");
#undef INTERN
    if (PyType_Ready(&InboundType) < 0 || PyType_Ready(&InletType) < 0) return -1;
    if (PyModule_AddFunctions(module, ingest_functions) < 0) return -1;
    Py_INCREF(&InboundType);
    if (PyModule_AddObject(module, "Inbound", (PyObject *)&InboundType) < 0) {
        Py_DECREF(&InboundType);
        return -1;
    }
    Py_INCREF(&InletType);
    if (PyModule_AddObject(module, "Inlet", (PyObject *)&InletType) < 0) {
        Py_DECREF(&InletType);
        return -1;
    }
    static const struct {
        const char *name;
        int value;
    } kinds[] = {{"EXT_OTHER", EXT_OTHER},
                 {"EXT_ABS_SEND_TIME", EXT_ABS_SEND_TIME},
                 {"EXT_AUDIO_LEVEL", EXT_AUDIO_LEVEL},
                 {"EXT_TEXT", EXT_TEXT},
                 {"EXT_TWO_BYTES", EXT_TWO_BYTES},
                 {"EXT_THREE_BYTES", EXT_THREE_BYTES}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (PyModule_AddIntConstant(module, kinds[i].name, kinds[i].value) < 0) return -1;
    return 0;
}
