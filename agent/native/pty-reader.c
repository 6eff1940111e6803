// The agent's PTY reader: reads a session's output from the PTY in C, on Node's event loop, hands
// it to JavaScript in batches, and writes it itself to the clients that keep up (lanes).
//
// Why it exists: the kernel hands PTY output over in reads of at most 4 KiB, so a program printing
// at full speed makes ~30,000 reads a second. Read through node-pty's stream, each read was a turn
// of JavaScript (a Buffer, stream events, the session's bookkeeping), and each batch a frame built
// and sent by JavaScript. Here a read costs one system call, and a batch one sendmsg per client:
// less CPU per byte, and no JavaScript between a keystroke's echo and the socket
// (docs/benchmarks.md, "Eighth session").
//
// Batching (the policy the agent had in JavaScript before): a full read means more is waiting, so
// it is kept until FLUSH_BYTES gathered or FLUSH_MS passed since the batch began; a short read —
// the echo of a keystroke, a prompt — is handed over at once when nothing is being gathered, so
// interactive output is never delayed. Within a batch a short read joins it (bursts are full of
// them; flushing on each cut frames to ~20 KB, which cost the gateway a third more CPU).
//
// Bytes are read into a staging Buffer that JavaScript owns and reads synchronously in its
// callback; the next read comes after the callback returned, so the view it got is stable.
// Everything runs on the loop thread of the Node environment that opened the reader.
//
// Lanes: a client that is caught up and whose socket has nothing queued can be given to the reader
// as a lane (a copy of the socket's descriptor). Each batch is then written to it here, as one
// output frame, before JavaScript hears of the batch: no JavaScript, no copy into a frame, one
// sendmsg. A lane only ever gets whole frames: a socket that cannot take a frame whole leaves the
// lanes at once, and JavaScript is handed the rest of that frame (in the spill Buffer) to write
// before anything else. JavaScript takes a lane back (unlane) before it writes to that socket
// itself; since this file writes only inside a flush, the socket is then at a frame boundary. A
// lane may take batches only up to a size (a client that negotiated compression: larger output
// is for ws to compress); a larger batch makes it leave before that batch, none of it written.
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define ADDON_ERROR_CODE "ERR_PTY_READER"
#define ADDON_ERROR_MESSAGE "native PTY reader call failed"
#include "napi-check.h"

/** A read of this size or more was probably cut short by the kernel: more is waiting. */
#define FULL_READ 4000
/** Most bytes asked of one read. */
#define READ_MAX (64 * 1024)
/** A batch is handed over once it holds this much... */
#define FLUSH_BYTES (64 * 1024)
/** ...or this long after its first full read. */
#define FLUSH_MS 1
/** The staging buffer must hold an unflushed batch plus one more read. */
#define STAGING_MIN (FLUSH_BYTES + READ_MAX)
/** An output message's header: its type, then the offset of its first byte (messages.ts). */
#define OUTPUT_TYPE 0x82
#define OUTPUT_HEADER 9
/** A server's binary WebSocket frame header, at most: FIN + opcode, then a 64-bit length. */
#define WS_HEADER_MAX 10
#define FRAME_HEAD_MAX (WS_HEADER_MAX + OUTPUT_HEADER)

typedef struct lane {
  struct lane *next;
  int32_t id;
  /** Our copy of the client's socket: JavaScript closing its own never lets us write elsewhere. */
  int fd;
  /** The largest batch it takes; a larger one makes it leave before that batch (LEFT_BEFORE). */
  size_t max_length;
  /** Once it left: bytes of the last frame its socket took; -1 when the socket failed. */
  ssize_t written;
} lane;

/** A lane's `written` when it left before a batch over its max_length: none of it was written. */
#define LEFT_BEFORE (-2)

typedef struct {
  napi_env env;
  napi_async_context async_context;
  uv_poll_t poll;
  uv_timer_t timer;
  /** Our own copy of the descriptor: node-pty closing its own never touches ours. */
  int fd;
  uint8_t *staging;
  size_t capacity;
  /** Bytes read and not yet handed over. */
  size_t pending;
  /** Where a frame that a lane could not take whole is copied for JavaScript. */
  uint8_t *spill;
  /** Offset of the next byte handed over: the session's output so far. */
  uint64_t offset;
  lane *lanes;
  int32_t next_lane_id;
  /** Keep the Buffers and the callbacks alive while the reader is open. */
  napi_ref staging_ref;
  napi_ref spill_ref;
  napi_ref on_output;
  napi_ref on_end;
  napi_ref on_lane_exit;
  bool gathering;
  bool paused;
  /** Read EOF or an error: nothing more will come. */
  bool ended;
  bool closed;
  /** uv handles not yet closed; the struct is freed when none is left. */
  int open_handles;
} reader;

#define MAX_CALLBACK_ARGS 4

/** Calls a reader's callback with numbers, as an event of its own (microtasks run after it). */
static void call_back(reader *r, napi_ref callback, size_t argc, const double *values) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value function, global, arguments[MAX_CALLBACK_ARGS];
  bool ready = napi_get_reference_value(env, callback, &function) == napi_ok && function != NULL && napi_get_global(env, &global) == napi_ok;
  for (size_t i = 0; ready && i < argc; i++) ready = napi_create_double(env, values[i], &arguments[i]) == napi_ok;
  if (ready && napi_make_callback(env, r->async_context, global, function, argc, arguments, NULL) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

static void close_lanes(reader *r) {
  while (r->lanes != NULL) {
    lane *l = r->lanes;
    r->lanes = l->next;
    close(l->fd);
    free(l);
  }
}

/** Writes the frame header of an output message of `length` bytes at `offset`; returns its size. */
static size_t frame_head(uint8_t *head, uint64_t offset, size_t length) {
  uint64_t payload = OUTPUT_HEADER + (uint64_t)length;
  size_t at = 0;
  head[at++] = 0x82; // FIN, binary
  if (payload < 126) {
    head[at++] = (uint8_t)payload;
  } else if (payload <= 0xffff) {
    head[at++] = 126;
    head[at++] = (uint8_t)(payload >> 8);
    head[at++] = (uint8_t)payload;
  } else {
    head[at++] = 127;
    for (int shift = 56; shift >= 0; shift -= 8) head[at++] = (uint8_t)(payload >> shift);
  }
  head[at++] = OUTPUT_TYPE;
  for (int shift = 56; shift >= 0; shift -= 8) head[at++] = (uint8_t)(offset >> shift);
  return at;
}

/** What a socket takes now, without waiting: 0 when it takes nothing; -1 when it failed. */
static ssize_t send_now(int fd, struct iovec *iov, int count) {
  struct msghdr message = {.msg_iov = iov, .msg_iovlen = (size_t)count};
  ssize_t n;
  // MSG_NOSIGNAL: a client that went away is an error to handle, not a SIGPIPE.
  do n = sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  return n;
}

/**
 * Writes the batch in staging[0, length) as one frame to every lane. Lanes whose socket did not
 * take it whole leave (their descriptor closed) and are returned, in a list of their own; when one
 * took part of it, the whole frame is copied to spill for JavaScript to finish.
 */
static lane *write_lanes(reader *r, size_t length, size_t *frame_length) {
  uint8_t head[FRAME_HEAD_MAX];
  size_t head_length = frame_head(head, r->offset, length);
  struct iovec iov[2] = {{head, head_length}, {r->staging, length}};
  *frame_length = head_length + length;
  lane *left = NULL;
  bool spilled = false;
  for (lane **link = &r->lanes; *link != NULL;) {
    lane *l = *link;
    l->written = length > l->max_length ? LEFT_BEFORE : send_now(l->fd, iov, 2);
    if (l->written == (ssize_t)*frame_length) {
      link = &l->next;
      continue;
    }
    *link = l->next;
    close(l->fd);
    l->next = left;
    left = l;
    if (l->written >= 0 && !spilled) {
      memcpy(r->spill, head, head_length);
      memcpy(r->spill + head_length, r->staging, length);
      spilled = true;
    }
  }
  return left;
}

static void stop_gathering(reader *r) {
  if (!r->gathering) return;
  r->gathering = false;
  uv_timer_stop(&r->timer);
}

/**
 * Writes the pending bytes to the lanes, then hands them to JavaScript: first which lanes left and
 * where their frame stopped (laneExit(id, written, frameLength, length)), then the batch
 * (output(length)).
 * The callbacks may pause, unlane or close the reader.
 */
static void flush(reader *r) {
  stop_gathering(r);
  size_t length = r->pending;
  if (length == 0) return;
  r->pending = 0;
  size_t frame_length = 0;
  lane *left = r->lanes == NULL ? NULL : write_lanes(r, length, &frame_length);
  r->offset += length;
  while (left != NULL) {
    lane *l = left;
    left = l->next;
    double values[4] = {l->id, (double)l->written, (double)frame_length, (double)length};
    if (!r->closed) call_back(r, r->on_lane_exit, 4, values);
    free(l);
  }
  if (!r->closed) {
    double value = (double)length;
    call_back(r, r->on_output, 1, &value);
  }
}

static void on_timer(uv_timer_t *timer) {
  reader *r = timer->data;
  r->gathering = false;
  flush(r);
}

static void end(reader *r, int error) {
  r->ended = true;
  uv_poll_stop(&r->poll);
  flush(r);
  if (!r->closed) {
    double value = error;
    call_back(r, r->on_end, 1, &value);
  }
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  reader *r = poll->data;
  if (r->closed || r->ended) return;
  if (status < 0) {
    end(r, -status);
    return;
  }
  size_t room = r->capacity - r->pending;
  ssize_t n = read(r->fd, r->staging + r->pending, room < READ_MAX ? room : READ_MAX);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    // EIO is how a PTY says every holder of its other end closed it: the normal end.
    end(r, n == 0 || errno == EIO ? 0 : errno);
    return;
  }
  r->pending += (size_t)n;
  if (r->pending >= FLUSH_BYTES || (n < FULL_READ && !r->gathering)) {
    flush(r);
  } else if (!r->gathering) {
    r->gathering = true;
    uv_timer_start(&r->timer, on_timer, FLUSH_MS, 0);
  }
}

static void update_poll(reader *r) {
  if (r->closed || r->ended || r->paused) uv_poll_stop(&r->poll);
  else uv_poll_start(&r->poll, UV_READABLE, on_readable);
}

static void on_handle_closed(uv_handle_t *handle) {
  reader *r = handle->data;
  if (--r->open_handles > 0) return;
  // Not in close(): it may be called from the output callback, which runs in this context.
  napi_async_destroy(r->env, r->async_context);
  free(r);
}

static reader *unwrap(napi_env env, napi_value object) {
  void *data = NULL;
  if (napi_unwrap(env, object, &data) != napi_ok) return NULL;
  return data;
}

static reader *reader_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  return unwrap(env, argv[0]);
}

static bool is_type(napi_env env, napi_value value, napi_valuetype wanted) {
  napi_valuetype type;
  return napi_typeof(env, value, &type) == napi_ok && type == wanted;
}

static bool is_buffer(napi_env env, napi_value value) {
  bool result = false;
  return napi_is_buffer(env, value, &result) == napi_ok && result;
}

/**
 * open(wrapper, fd, staging: Buffer, spill: Buffer, onOutput(length), onEnd(errno),
 * onLaneExit(id, written, frameLength, length)): starts reading a copy of fd.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  if (argc < 7 || napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0 || !is_buffer(env, argv[2]) || !is_buffer(env, argv[3]) ||
      !is_type(env, argv[4], napi_function) || !is_type(env, argv[5], napi_function) || !is_type(env, argv[6], napi_function)) {
    napi_throw_type_error(env, NULL, "open(wrapper, fd, staging, spill, onOutput, onEnd, onLaneExit)");
    return NULL;
  }
  void *staging, *spill;
  size_t capacity, spill_capacity;
  CHECK(napi_get_buffer_info(env, argv[2], &staging, &capacity));
  CHECK(napi_get_buffer_info(env, argv[3], &spill, &spill_capacity));
  if (capacity < STAGING_MIN || spill_capacity < capacity + FRAME_HEAD_MAX) {
    char message[128];
    snprintf(message, sizeof message, "staging must hold at least %d bytes, and spill %d more than staging", STAGING_MIN, FRAME_HEAD_MAX);
    napi_throw_range_error(env, NULL, message);
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  reader *r = calloc(1, sizeof(reader));
  if (r == NULL) {
    napi_throw_error(env, "ENOMEM", "open: out of memory");
    return NULL;
  }
  // Close-on-exec: a program started later must not hold the terminal open through our copy.
  r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (r->fd < 0) {
    char message[96];
    snprintf(message, sizeof message, "open: copying descriptor %d: %s", fd, strerror(errno));
    free(r);
    napi_throw_error(env, "ERR_PTY_READER", message);
    return NULL;
  }
  if (uv_poll_init(loop, &r->poll, r->fd) != 0 || uv_timer_init(loop, &r->timer) != 0) {
    close(r->fd);
    free(r);
    napi_throw_error(env, "ERR_PTY_READER", "open: could not watch the descriptor");
    return NULL;
  }
  r->env = env;
  r->poll.data = r->timer.data = r;
  r->open_handles = 2;
  r->staging = staging;
  r->capacity = capacity;
  r->spill = spill;
  napi_value resource_name;
  CHECK(napi_create_string_utf8(env, "cloudterm.ptyReader", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &r->async_context));
  CHECK(napi_create_reference(env, argv[2], 1, &r->staging_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &r->spill_ref));
  CHECK(napi_create_reference(env, argv[4], 1, &r->on_output));
  CHECK(napi_create_reference(env, argv[5], 1, &r->on_end));
  CHECK(napi_create_reference(env, argv[6], 1, &r->on_lane_exit));
  CHECK(napi_wrap(env, argv[0], r, NULL, NULL, NULL));
  update_poll(r);
  return NULL;
}

/** pause(wrapper) / resume(wrapper): stop and start reading (what was read is still handed over). */
static napi_value set_paused(napi_env env, napi_callback_info info, bool paused, const char *usage) {
  reader *r = reader_arg(env, info);
  if (r == NULL) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  r->paused = paused;
  update_poll(r);
  return NULL;
}

static napi_value js_pause(napi_env env, napi_callback_info info) { return set_paused(env, info, true, "pause(wrapper)"); }

static napi_value js_resume(napi_env env, napi_callback_info info) { return set_paused(env, info, false, "resume(wrapper)"); }

/**
 * take(wrapper): the number of bytes read and not yet handed over (now at the start of staging),
 * which the caller takes instead: for a process that exited while a batch was gathering.
 */
static napi_value js_take(napi_env env, napi_callback_info info) {
  reader *r = reader_arg(env, info);
  if (r == NULL) {
    napi_throw_type_error(env, NULL, "take(wrapper)");
    return NULL;
  }
  stop_gathering(r);
  napi_value result;
  CHECK(napi_create_double(env, (double)r->pending, &result));
  r->offset += r->pending;
  r->pending = 0;
  return result;
}

/** The reader and the integer of a call (wrapper, n); NULL when either is missing. */
static reader *reader_and_number(napi_env env, napi_callback_info info, int32_t *number) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return NULL;
  reader *r = unwrap(env, argv[0]);
  return r != NULL && napi_get_value_int32(env, argv[1], number) == napi_ok ? r : NULL;
}

/**
 * lane(wrapper, socketFd, maxLength): from the next batch on, the reader writes output frames to a
 * copy of this socket itself, as long as a batch is at most maxLength bytes. The caller makes sure
 * the client has every byte so far and that nothing is queued for the socket. Returns the lane's
 * id, or -1 when the reader writes no more (it ended).
 */
static napi_value js_lane(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd = -1;
  double max_length = 0;
  reader *r = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == 3) {
    r = unwrap(env, argv[0]);
    if (napi_get_value_int32(env, argv[1], &fd) != napi_ok || napi_get_value_double(env, argv[2], &max_length) != napi_ok) r = NULL;
  }
  if (r == NULL || fd < 0 || !(max_length >= 0)) {
    napi_throw_type_error(env, NULL, "lane(wrapper, socketFd, maxLength)");
    return NULL;
  }
  int32_t id = -1;
  lane *l = r->ended ? NULL : calloc(1, sizeof(lane));
  if (l != NULL) {
    l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (l->fd < 0) {
      free(l);
    } else {
      // Ids only grow (wrapping after 2^31 lanes); JavaScript finds its client by them.
      l->max_length = max_length >= (double)SIZE_MAX ? SIZE_MAX : (size_t)max_length;
      id = l->id = r->next_lane_id;
      r->next_lane_id = r->next_lane_id == INT32_MAX ? 0 : r->next_lane_id + 1;
      l->next = r->lanes;
      r->lanes = l;
    }
  }
  napi_value result;
  CHECK(napi_create_int32(env, id, &result));
  return result;
}

/** unlane(wrapper, id): the reader writes no more to that lane (a no-op for one that left). */
static napi_value js_unlane(napi_env env, napi_callback_info info) {
  int32_t id = -1;
  reader *r = reader_and_number(env, info, &id);
  if (r == NULL) {
    napi_throw_type_error(env, NULL, "unlane(wrapper, id)");
    return NULL;
  }
  for (lane **link = &r->lanes; *link != NULL; link = &(*link)->next) {
    lane *l = *link;
    if (l->id != id) continue;
    *link = l->next;
    close(l->fd);
    free(l);
    break;
  }
  return NULL;
}

/**
 * close(wrapper): stops reading for good and closes the copies of the descriptors, the lanes'
 * too (no callback); bytes pending are dropped (take them first).
 */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader *r = argc < 1 ? NULL : unwrap(env, argv[0]);
  if (r == NULL) {
    napi_throw_type_error(env, NULL, "close(wrapper): an open reader");
    return NULL;
  }
  void *unused;
  CHECK(napi_remove_wrap(env, argv[0], &unused));
  r->closed = true;
  stop_gathering(r);
  uv_poll_stop(&r->poll);
  close(r->fd);
  close_lanes(r);
  napi_delete_reference(env, r->staging_ref);
  napi_delete_reference(env, r->spill_ref);
  napi_delete_reference(env, r->on_output);
  napi_delete_reference(env, r->on_end);
  napi_delete_reference(env, r->on_lane_exit);
  r->on_output = r->on_end = r->on_lane_exit = r->staging_ref = r->spill_ref = NULL;
  uv_close((uv_handle_t *)&r->poll, on_handle_closed);
  uv_close((uv_handle_t *)&r->timer, on_handle_closed);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, js_pause, NULL, NULL, NULL, napi_default, NULL},
      {"resume", NULL, js_resume, NULL, NULL, NULL, napi_default, NULL},
      {"take", NULL, js_take, NULL, NULL, NULL, napi_default, NULL},
      {"lane", NULL, js_lane, NULL, NULL, NULL, napi_default, NULL},
      {"unlane", NULL, js_unlane, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
