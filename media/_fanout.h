/* What the parts of the C extension `media._fanout` share: the fan-out to the subscriber legs
 * (_fanout.c), the RTP ingest that feeds it (_ingest.c) and its REMB estimator (_remb.c). */
#ifndef TELESSAUDE_FANOUT_H
#define TELESSAUDE_FANOUT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define SRTP_TRAILER 144 /* pylibsrtp's SRTP_MAX_TRAILER_LEN: room libsrtp may append */
#define MAX_DATAGRAM 1500
/* the largest plaintext pylibsrtp's Session.protect accepts, kept identical */
#define MAX_PLAINTEXT (MAX_DATAGRAM - SRTP_TRAILER)

/* srtp_protect / srtp_unprotect (and their RTCP twins) as pylibsrtp's cffi library exports them */
typedef int (*srtp_protect_fn)(void *srtp, void *rtp, int *len);

/* 0 when every started leg in the tuple `legs` can take a packet of this payload, level (-1:
 * none) and padding; -1 with a Python error set (not a tuple of Leg, a packet too long). */
int fanout_check(PyObject *legs, Py_ssize_t payload_len, int level, int padding);

/* Rewrite the packet for every started, live leg of `legs` (fanout_check passed) and send it;
 * returns the number of legs sent to. Errors of one leg are reported as unraisable. */
long fanout_send(PyObject *legs, uint16_t seq, uint32_t ts, uint8_t marker, PyObject *payload,
                 int level, unsigned long long ntp, int padding);

/* Adds the ingest types (Inlet, Inbound) and functions to the module; -1 on error. */
int ingest_add_to_module(PyObject *module);

/* _remb.c: aiortc's RemoteBitrateEstimator. remb_add feeds one frame; 1 and *bitrate set when
 * it has a new estimate (then remb_ssrcs lists the SSRCs it covers), else 0. */
int remb_add_to_module(PyObject *module);
int remb_check(PyObject *obj);
int remb_add(PyObject *estimator, long long arrival_time_ms, uint32_t abs_send_time,
             long long payload_size, uint32_t ssrc, long long *bitrate);
PyObject *remb_ssrcs(PyObject *estimator);

#endif
