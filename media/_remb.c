/*
 * aiortc's receive-side bandwidth estimator (aiortc/rate.py: RemoteBitrateEstimator with its
 * RateCounter, InterArrival, OveruseEstimator, OveruseDetector and AimdRateControl) in C.
 *
 * Why C: the SFU feeds it once per received video frame, and in Python each call ran ~50 us
 * with the caches cold, a sixth of the CPU of a server of 1:1 rooms.
 *
 * It is a line-by-line port meant to give aiortc's results exactly, step for step (checked
 * against aiortc on random and adversarial inputs in tests/media/test_remb.py): the same
 * double operations in the same order (built with -ffp-contract=off, so no fused
 * multiply-add), pow/sqrt from the same libm (x ** 2 as Python computes it: pow(|x|, 2)),
 * Python's round() as round-half-even
 * (nearbyint), int() as truncation, Python's modulo where an index may go negative, and
 * Python's None as a flag beside each optional value.
 */
#include "_fanout.h"

#include <math.h>

#define RATE_WINDOW_MS 1000 /* RateCounter(1000, 8000) */
#define RATE_SCALE 8000
#define BURST_DELTA_THRESHOLD_MS 5
#define MAX_ADAPT_OFFSET_MS 15
#define MIN_NUM_DELTAS 60
#define DELTA_COUNTER_MAX 1000
#define MIN_FRAME_PERIOD_HISTORY_LENGTH 60
#define INTER_ARRIVAL_SHIFT 26
#define TIMESTAMP_GROUP_LENGTH_MS 5
#define GROUP_LENGTH ((TIMESTAMP_GROUP_LENGTH_MS << INTER_ARRIVAL_SHIFT) / 1000)
#define FEEDBACK_INTERVAL_MS 500
#define MAX_SSRCS 16

static const double TIMESTAMP_TO_MS = 1000.0 / (double)(1 << INTER_ARRIVAL_SHIFT);

enum { NORMAL = 0, UNDERUSING = 1, OVERUSING = 2 };   /* BandwidthUsage */
enum { HOLD = 0, INCREASE = 1, DECREASE = 2 };        /* RateControlState */

typedef struct {
    int has_arrival;
    long long arrival_time;
    uint32_t first_timestamp, last_timestamp;
    long long size;
} Group;

typedef struct {
    PyObject_HEAD
    /* RateCounter incoming_bitrate */
    long long rc_count[RATE_WINDOW_MS], rc_value[RATE_WINDOW_MS];
    long long rc_total_count, rc_total_value;
    int rc_origin_index, rc_has_origin;
    long long rc_origin_ms;
    int incoming_bitrate_initialized;
    /* InterArrival */
    int has_current, has_previous;
    Group current, previous;
    /* OveruseEstimator */
    double E[2][2];
    int num_of_deltas;
    double offset, est_previous_offset, slope;
    double history[MIN_FRAME_PERIOD_HISTORY_LENGTH]; /* ts_delta_hist as a ring */
    int history_start, history_len;
    double avg_noise, var_noise;
    /* OveruseDetector */
    int hypothesis;
    int det_has_last_update;
    long long det_last_update_ms;
    int overuse_counter;
    int has_overuse_time;
    double overuse_time;
    double det_previous_offset, threshold;
    /* AimdRateControl */
    int has_avg_max;
    double avg_max_bitrate_kbps, var_max_bitrate_kbps;
    long long current_bitrate;
    int current_bitrate_initialized;
    int has_first_throughput_time;
    long long first_estimated_throughput_time;
    int has_last_change;
    long long last_change_ms;
    int near_max;
    long long latest_estimated_throughput, rtt;
    int state;
    /* RemoteBitrateEstimator */
    int has_last_update;
    long long last_update_ms;
    uint32_t ssrcs[MAX_SSRCS]; /* dict keys, in insertion order */
    int nssrcs;
} Estimator;

static PyTypeObject EstimatorType;

static void rate_reset(Estimator *e) {
    memset(e->rc_count, 0, sizeof e->rc_count);
    memset(e->rc_value, 0, sizeof e->rc_value);
    e->rc_origin_index = 0;
    e->rc_has_origin = 0;
    e->rc_total_count = e->rc_total_value = 0;
}

static PyObject *Estimator_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "RembEstimator() takes no arguments");
        return NULL;
    }
    Estimator *e = (Estimator *)type->tp_alloc(type, 0); /* zeroed */
    if (e == NULL) return NULL;
    rate_reset(e);
    e->incoming_bitrate_initialized = 1;
    e->E[0][0] = 100.0;
    e->E[1][1] = 0.1;
    e->slope = 1.0 / 64.0;
    e->var_noise = 50.0;
    e->hypothesis = NORMAL;
    e->threshold = 12.5;
    e->var_max_bitrate_kbps = 0.4;
    e->current_bitrate = 30000000;
    e->latest_estimated_throughput = 30000000;
    e->rtt = 200;
    e->state = HOLD;
    return (PyObject *)e;
}

/* ------------------------------------------------------------------ helpers */

static long long py_mod(long long a, long long b) { /* Python's %: the sign of b */
    long long r = a % b;
    return r < 0 ? r + b : r;
}

static long long py_round(double x) { return (long long)nearbyint(x); }

static int uint32_gt(uint32_t a, uint32_t b) {
    return (a > b && a - b < 0x80000000u) || (a < b && b - a > 0x80000000u);
}

/* ------------------------------------------------------------------ RateCounter */

static void rate_erase_old(Estimator *e, long long now_ms) {
    long long steps = now_ms - RATE_WINDOW_MS + 1 - e->rc_origin_ms;
    if (steps <= 0) return;
    long long clear = steps < RATE_WINDOW_MS ? steps : RATE_WINDOW_MS;
    for (long long i = 0; i < clear; i++) {
        int index = (int)((e->rc_origin_index + i) % RATE_WINDOW_MS);
        e->rc_total_count -= e->rc_count[index];
        e->rc_total_value -= e->rc_value[index];
        e->rc_count[index] = e->rc_value[index] = 0;
    }
    e->rc_origin_index = (int)((e->rc_origin_index + steps) % RATE_WINDOW_MS);
    e->rc_origin_ms += steps;
}

static void rate_add(Estimator *e, long long value, long long now_ms) {
    if (!e->rc_has_origin) {
        e->rc_has_origin = 1;
        e->rc_origin_ms = now_ms;
    } else {
        rate_erase_old(e, now_ms);
    }
    int index = (int)py_mod(e->rc_origin_index + now_ms - e->rc_origin_ms, RATE_WINDOW_MS);
    e->rc_count[index] += 1;
    e->rc_value[index] += value;
    e->rc_total_count += 1;
    e->rc_total_value += value;
}

/* 1 and *rate set, or 0 (None) */
static int rate_rate(Estimator *e, long long now_ms, long long *rate) {
    if (!e->rc_has_origin) return 0;
    rate_erase_old(e, now_ms);
    long long active = now_ms - e->rc_origin_ms + 1;
    if (e->rc_total_count > 0 && active > 1) {
        *rate = py_round((double)(RATE_SCALE * e->rc_total_value) / (double)active);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ InterArrival */

static int belongs_to_burst(const Estimator *e, uint32_t timestamp, long long arrival_time) {
    uint32_t timestamp_delta = timestamp - e->current.last_timestamp;
    long long timestamp_delta_ms = py_round(TIMESTAMP_TO_MS * (double)timestamp_delta);
    long long arrival_time_delta = arrival_time - e->current.arrival_time;
    return timestamp_delta_ms == 0 || ((arrival_time_delta - timestamp_delta_ms) < 0 &&
                                       arrival_time_delta <= BURST_DELTA_THRESHOLD_MS);
}

/* 1 and the deltas set, or 0 (None) */
static int compute_deltas(Estimator *e, uint32_t timestamp, long long arrival_time,
                          long long packet_size, uint32_t *d_timestamp, long long *d_arrival,
                          long long *d_size) {
    int deltas = 0;
    if (!e->has_current) {
        e->has_current = 1;
        e->current = (Group){0, 0, timestamp, timestamp, 0};
    } else if ((uint32_t)(timestamp - e->current.first_timestamp) >= 0x80000000u) {
        return 0; /* packet_out_of_order */
    } else if (!belongs_to_burst(e, timestamp, arrival_time) &&
               (uint32_t)(timestamp - e->current.first_timestamp) > GROUP_LENGTH) {
        if (e->has_previous) {
            *d_timestamp = e->current.last_timestamp - e->previous.last_timestamp;
            *d_arrival = e->current.arrival_time - e->previous.arrival_time;
            *d_size = e->current.size - e->previous.size;
            deltas = 1;
        }
        e->previous = e->current;
        e->has_previous = 1;
        e->current = (Group){0, 0, timestamp, timestamp, 0};
    } else if (uint32_gt(timestamp, e->current.last_timestamp)) {
        e->current.last_timestamp = timestamp;
    }
    e->current.size += packet_size;
    e->current.arrival_time = arrival_time;
    e->current.has_arrival = 1;
    return deltas;
}

/* ------------------------------------------------------------------ OveruseEstimator */

static double update_min_frame_period(Estimator *e, double ts_delta) {
    double min_frame_period = ts_delta;
    if (e->history_len >= MIN_FRAME_PERIOD_HISTORY_LENGTH) { /* pop(0) */
        e->history_start = (e->history_start + 1) % MIN_FRAME_PERIOD_HISTORY_LENGTH;
        e->history_len--;
    }
    for (int i = 0; i < e->history_len; i++) {
        double old = e->history[(e->history_start + i) % MIN_FRAME_PERIOD_HISTORY_LENGTH];
        /* min(old, min_frame_period): the first of equals */
        min_frame_period = min_frame_period < old ? min_frame_period : old;
    }
    e->history[(e->history_start + e->history_len) % MIN_FRAME_PERIOD_HISTORY_LENGTH] = ts_delta;
    e->history_len++;
    return min_frame_period;
}

static void update_noise_estimate(Estimator *e, double residual, double ts_delta) {
    double alpha = 0.01;
    if (e->num_of_deltas > 10 * 30) alpha = 0.002;
    double beta = pow(1 - alpha, ts_delta * 30.0 / 1000.0);
    e->avg_noise = beta * e->avg_noise + (1 - beta) * residual;
    e->var_noise = beta * e->var_noise + (1 - beta) * pow(fabs(e->avg_noise - residual), 2.0);
    if (e->var_noise < 1) e->var_noise = 1;
}

static void estimator_update(Estimator *e, long long time_delta_ms, double timestamp_delta_ms,
                             long long size_delta, int current_hypothesis) {
    double min_frame_period = update_min_frame_period(e, timestamp_delta_ms);
    double t_ts_delta = (double)time_delta_ms - timestamp_delta_ms;
    double h0 = (double)size_delta, h1 = 1.0;

    e->num_of_deltas = e->num_of_deltas + 1 < DELTA_COUNTER_MAX ? e->num_of_deltas + 1
                                                                : DELTA_COUNTER_MAX;
    e->E[0][0] += 1e-13;
    e->E[1][1] += 1e-3;
    if ((current_hypothesis == OVERUSING && e->offset < e->est_previous_offset) ||
        (current_hypothesis == UNDERUSING && e->offset > e->est_previous_offset))
        e->E[1][1] += 10 * 1e-3;

    double Eh0 = e->E[0][0] * h0 + e->E[0][1] * h1;
    double Eh1 = e->E[1][0] * h0 + e->E[1][1] * h1;

    double residual = t_ts_delta - e->slope * h0 - e->offset;
    if (current_hypothesis == NORMAL) {
        double max_residual = 3.0 * sqrt(e->var_noise);
        if (fabs(residual) < max_residual)
            update_noise_estimate(e, residual, min_frame_period);
        else
            update_noise_estimate(e, residual < 0 ? -max_residual : max_residual,
                                  min_frame_period);
    }

    double denom = e->var_noise + h0 * Eh0 + h1 * Eh1;
    double K0 = Eh0 / denom, K1 = Eh1 / denom;
    double IKh00 = 1.0 - K0 * h0, IKh01 = -K0 * h1, IKh10 = -K1 * h0, IKh11 = 1.0 - K1 * h1;
    double e00 = e->E[0][0], e01 = e->E[0][1];

    e->E[0][0] = e00 * IKh00 + e->E[1][0] * IKh01;
    e->E[0][1] = e01 * IKh00 + e->E[1][1] * IKh01;
    e->E[1][0] = e00 * IKh10 + e->E[1][0] * IKh11;
    e->E[1][1] = e01 * IKh10 + e->E[1][1] * IKh11;

    e->est_previous_offset = e->offset;
    e->slope += K0 * residual;
    e->offset += K1 * residual;
}

/* ------------------------------------------------------------------ OveruseDetector */

static void update_threshold(Estimator *e, double modified_offset, long long now_ms) {
    if (!e->det_has_last_update) {
        e->det_has_last_update = 1;
        e->det_last_update_ms = now_ms;
    }
    if (fabs(modified_offset) > e->threshold + MAX_ADAPT_OFFSET_MS) {
        e->det_last_update_ms = now_ms;
        return;
    }
    double k = fabs(modified_offset) < e->threshold ? 0.039 : 0.0087; /* k_down : k_up */
    long long time_delta_ms = now_ms - e->det_last_update_ms;
    if (time_delta_ms > 100) time_delta_ms = 100;
    e->threshold += k * (fabs(modified_offset) - e->threshold) * (double)time_delta_ms;
    /* max(6, min(threshold, 600)) */
    double capped = e->threshold <= 600 ? e->threshold : 600;
    e->threshold = 6 < capped ? capped : 6;
    e->det_last_update_ms = now_ms;
}

static void detect(Estimator *e, double offset, double timestamp_delta_ms, int num_of_deltas,
                   long long now_ms) {
    if (num_of_deltas < 2) return;
    double T = (double)(num_of_deltas < MIN_NUM_DELTAS ? num_of_deltas : MIN_NUM_DELTAS) * offset;
    if (T > e->threshold) {
        if (!e->has_overuse_time) {
            e->has_overuse_time = 1;
            e->overuse_time = timestamp_delta_ms / 2;
        } else {
            e->overuse_time += timestamp_delta_ms;
        }
        e->overuse_counter += 1;
        if (e->overuse_time > 10 && e->overuse_counter > 1 && offset >= e->det_previous_offset) {
            e->overuse_counter = 0;
            e->overuse_time = 0;
            e->hypothesis = OVERUSING;
        }
    } else if (T < -e->threshold) {
        e->overuse_counter = 0;
        e->has_overuse_time = 0;
        e->hypothesis = UNDERUSING;
    } else {
        e->overuse_counter = 0;
        e->has_overuse_time = 0;
        e->hypothesis = NORMAL;
    }
    e->det_previous_offset = offset;
    update_threshold(e, T, now_ms);
}

/* ------------------------------------------------------------------ AimdRateControl */

static long long clamp_bitrate(const Estimator *e, long long new_bitrate,
                               long long estimated_throughput) {
    long long max_bitrate = (long long)(1.5 * (double)estimated_throughput) + 10000;
    if (e->current_bitrate > max_bitrate) max_bitrate = e->current_bitrate;
    return new_bitrate < max_bitrate ? new_bitrate : max_bitrate;
}

static long long near_max_rate_increase(const Estimator *e) {
    double bits_per_frame = (double)e->current_bitrate / 30;
    double packets_per_frame = ceil(bits_per_frame / (8 * 1200));
    if (packets_per_frame == 0) return 4000; /* a zero bitrate: aiortc raises ZeroDivisionError */
    double avg_packet_size_bits = bits_per_frame / packets_per_frame;
    long long response_time = e->rtt + 100;
    long long increase = (long long)((avg_packet_size_bits * 1000) / (double)response_time);
    return increase > 4000 ? increase : 4000;
}

static long long multiplicative_rate_increase(const Estimator *e, long long new_bitrate,
                                              long long now_ms) {
    double alpha = 1.08;
    if (e->has_last_change) {
        long long elapsed_ms = now_ms - e->last_change_ms;
        if (elapsed_ms > 1000) elapsed_ms = 1000;
        alpha = pow(alpha, (double)elapsed_ms / 1000);
    }
    double increase = (alpha - 1) * (double)new_bitrate;
    return (long long)(increase < 1000 ? 1000 : increase); /* int(max(increase, 1000)) */
}

static void update_max_throughput_estimate(Estimator *e, double kbps) {
    double alpha = 0.05;
    if (!e->has_avg_max) {
        e->has_avg_max = 1;
        e->avg_max_bitrate_kbps = kbps;
    } else {
        e->avg_max_bitrate_kbps = (1 - alpha) * e->avg_max_bitrate_kbps + alpha * kbps;
    }
    double norm = e->avg_max_bitrate_kbps > 1 ? e->avg_max_bitrate_kbps : 1; /* max(1, avg) */
    e->var_max_bitrate_kbps = (1 - alpha) * e->var_max_bitrate_kbps +
                              alpha * pow(fabs(e->avg_max_bitrate_kbps - kbps), 2.0) / norm;
    double capped = e->var_max_bitrate_kbps <= 2.5 ? e->var_max_bitrate_kbps : 2.5;
    e->var_max_bitrate_kbps = 0.4 < capped ? capped : 0.4;
}

/* 1 and *bitrate set, or 0 (None) */
static int rate_control_update(Estimator *e, int usage, int has_throughput,
                               long long estimated_throughput, long long now_ms,
                               long long *bitrate) {
    if (!e->current_bitrate_initialized && has_throughput) {
        if (!e->has_first_throughput_time) {
            e->has_first_throughput_time = 1;
            e->first_estimated_throughput_time = now_ms;
        } else if (now_ms - e->first_estimated_throughput_time > 3000) {
            e->current_bitrate = estimated_throughput;
            e->current_bitrate_initialized = 1;
        }
    }
    if (!e->current_bitrate_initialized && usage != OVERUSING) return 0;

    if (usage == NORMAL && e->state == HOLD) {
        e->has_last_change = 1;
        e->last_change_ms = now_ms;
        e->state = INCREASE;
    } else if (usage == OVERUSING) {
        e->state = DECREASE;
    } else if (usage == UNDERUSING) {
        e->state = HOLD;
    }

    long long new_bitrate = e->current_bitrate;
    if (has_throughput)
        e->latest_estimated_throughput = estimated_throughput;
    else
        estimated_throughput = e->latest_estimated_throughput;
    double kbps = (double)estimated_throughput / 1000;

    if (e->state == INCREASE) {
        if (e->has_avg_max) {
            double sigma_kbps = sqrt(e->var_max_bitrate_kbps * e->avg_max_bitrate_kbps);
            if (kbps >= e->avg_max_bitrate_kbps + 3 * sigma_kbps) {
                e->near_max = 0;
                e->has_avg_max = 0;
            }
        }
        if (e->near_max) /* last_change_ms is set: INCREASE is entered from HOLD only */
            new_bitrate += (long long)((double)((now_ms - e->last_change_ms) *
                                                near_max_rate_increase(e)) /
                                       1000);
        else
            new_bitrate += multiplicative_rate_increase(e, new_bitrate, now_ms);
        e->has_last_change = 1;
        e->last_change_ms = now_ms;
    } else if (e->state == DECREASE) {
        if (e->has_avg_max) {
            double sigma_kbps = sqrt(e->var_max_bitrate_kbps * e->avg_max_bitrate_kbps);
            if (kbps < e->avg_max_bitrate_kbps - 3 * sigma_kbps) e->has_avg_max = 0;
        }
        update_max_throughput_estimate(e, kbps);
        e->near_max = 1;
        new_bitrate = py_round(0.85 * (double)estimated_throughput);
        e->has_last_change = 1;
        e->last_change_ms = now_ms;
        e->state = HOLD;
    }
    e->current_bitrate = clamp_bitrate(e, new_bitrate, estimated_throughput);
    *bitrate = e->current_bitrate;
    return 1;
}

/* ------------------------------------------------------------------ RemoteBitrateEstimator */

int remb_add(PyObject *estimator, long long arrival_time_ms, uint32_t abs_send_time,
             long long payload_size, uint32_t ssrc, long long *bitrate) {
    Estimator *e = (Estimator *)estimator;
    uint32_t timestamp = abs_send_time << 8;

    /* self.ssrcs[ssrc] = arrival_time_ms: a new key goes last */
    int known = 0;
    for (int i = 0; i < e->nssrcs; i++) known |= e->ssrcs[i] == ssrc;
    if (!known) {
        if (e->nssrcs == MAX_SSRCS) { /* never in practice; keep the newest */
            memmove(e->ssrcs, e->ssrcs + 1, (MAX_SSRCS - 1) * sizeof e->ssrcs[0]);
            e->nssrcs--;
        }
        e->ssrcs[e->nssrcs++] = ssrc;
    }

    long long rate;
    if (rate_rate(e, arrival_time_ms, &rate)) {
        e->incoming_bitrate_initialized = 1;
    } else if (e->incoming_bitrate_initialized) {
        rate_reset(e);
        e->incoming_bitrate_initialized = 0;
    }
    rate_add(e, payload_size, arrival_time_ms);

    uint32_t d_timestamp;
    long long d_arrival, d_size;
    if (compute_deltas(e, timestamp, arrival_time_ms, payload_size, &d_timestamp, &d_arrival,
                       &d_size)) {
        double timestamp_delta_ms = (double)d_timestamp * TIMESTAMP_TO_MS;
        estimator_update(e, d_arrival, timestamp_delta_ms, d_size, e->hypothesis);
        detect(e, e->offset, timestamp_delta_ms, e->num_of_deltas, arrival_time_ms);
    }

    if (!e->has_last_update || (arrival_time_ms - e->last_update_ms) > FEEDBACK_INTERVAL_MS ||
        e->hypothesis == OVERUSING) {
        int has_rate = rate_rate(e, arrival_time_ms, &rate);
        if (rate_control_update(e, e->hypothesis, has_rate, rate, arrival_time_ms, bitrate)) {
            e->has_last_update = 1;
            e->last_update_ms = arrival_time_ms;
            return 1;
        }
    }
    return 0;
}

PyObject *remb_ssrcs(PyObject *estimator) {
    Estimator *e = (Estimator *)estimator;
    PyObject *list = PyList_New(e->nssrcs);
    if (list == NULL) return NULL;
    for (int i = 0; i < e->nssrcs; i++) {
        PyObject *item = PyLong_FromUnsignedLong(e->ssrcs[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

int remb_check(PyObject *obj) { return PyObject_TypeCheck(obj, &EstimatorType); }

PyDoc_STRVAR(add_doc,
             "add(arrival_time_ms, abs_send_time, payload_size, ssrc) -> (bitrate, ssrcs) | None\n\n"
             "aiortc's RemoteBitrateEstimator.add.");

static PyObject *Estimator_add(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    long long arrival_time_ms, payload_size;
    unsigned long abs_send_time, ssrc;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "add() takes 4 arguments");
        return NULL;
    }
    arrival_time_ms = PyLong_AsLongLong(args[0]);
    abs_send_time = PyLong_AsUnsignedLong(args[1]);
    payload_size = PyLong_AsLongLong(args[2]);
    ssrc = PyLong_AsUnsignedLong(args[3]);
    if (PyErr_Occurred()) return NULL;
    if (abs_send_time > 0xFFFFFF || ssrc > 0xFFFFFFFFUL) {
        PyErr_SetString(PyExc_ValueError, "abs_send_time is 24 bits, ssrc 32");
        return NULL;
    }
    long long bitrate;
    if (!remb_add(self, arrival_time_ms, (uint32_t)abs_send_time, payload_size, (uint32_t)ssrc,
                  &bitrate))
        Py_RETURN_NONE;
    PyObject *ssrcs = remb_ssrcs(self);
    if (ssrcs == NULL) return NULL;
    return Py_BuildValue("(LN)", bitrate, ssrcs);
}

static PyObject *Estimator_state(Estimator *e, PyObject *Py_UNUSED(ignored)) {
    /* for tests: the detector's hypothesis, the rate controller's bitrate and state, what
     * the rate counter holds and the SSRCs seen */
    PyObject *ssrcs = remb_ssrcs((PyObject *)e);
    if (ssrcs == NULL) return NULL;
    return Py_BuildValue("{s:i,s:L,s:i,s:d,s:i,s:L,s:N}", "hypothesis", e->hypothesis,
                         "current_bitrate", e->current_bitrate, "state", e->state, "threshold",
                         e->threshold, "num_of_deltas", e->num_of_deltas, "incoming_bytes",
                         e->rc_total_value, "ssrcs", ssrcs);
}

static PyMethodDef Estimator_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Estimator_add, METH_FASTCALL, add_doc},
    {"state", (PyCFunction)Estimator_state, METH_NOARGS, "the estimator's state, for tests"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EstimatorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "media._fanout.RembEstimator",
    .tp_doc = "aiortc's RemoteBitrateEstimator in C (see media/_remb.c).",
    .tp_basicsize = sizeof(Estimator),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Estimator_new,
    .tp_methods = Estimator_methods,
};

int remb_add_to_module(PyObject *module) {
    if (PyType_Ready(&EstimatorType) < 0) return -1;
    Py_INCREF(&EstimatorType);
    if (PyModule_AddObject(module, "RembEstimator", (PyObject *)&EstimatorType) < 0) {
        Py_DECREF(&EstimatorType);
        return -1;
    }
    return 0;
}
