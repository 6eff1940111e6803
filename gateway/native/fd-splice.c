// The proxy core's native splice: relays bytes between a browser's socket and an agent's socket
// in C, on Node's own event loop, once the WebSocket handshake is done.
//
// Why it exists: a JavaScript splice keeps two net.Socket objects per attachment, with their
// stream states, listener lists and native wraps, about 3 KiB of heap each attachment; a gateway
// holding 10K attachments spends ~30 MB on them. Here an attachment is one C struct (~0.5 KiB),
// and bytes cross it without any JavaScript: one read into a buffer shared by every splice, one
// write; only what the other side cannot take at once is copied, and then the side that sent it
// is not read until that is written (backpressure both ways, as in the JavaScript splice).
//
// The semantics are those of gateway/src/proxy/splice.ts, which stays for sockets that have no
// file descriptor of their own (TLS): the agent's stream is followed frame by frame (headers only)
// so that a close frame of the gateway's can be put in at a frame boundary; a browser that goes
// away closes the agent; an agent that goes away gives the browser its close frame, ours at a
// boundary, or a cut connection mid-frame. docs/gateway.md has the whole story.
//
// Everything here runs on the loop thread of the Node environment (main thread or worker) that
// made the splice: each environment has its own read buffer, which needs no lock.
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADDON_ERROR_CODE "ERR_SPLICE"
#define ADDON_ERROR_MESSAGE "native splice call failed"
#include "napi-check.h"

/** How a splice ended; the numbers are the indices of SPLICE_ENDS in native-splice.ts. */
enum splice_end { END_BROWSER_CLOSED = 0, END_AGENT_CLOSED = 1, END_AGENT_FAILED = 2, END_RESTART = 3 };

enum splice_state {
  /** Bytes flow both ways. */
  STATE_OPEN,
  /** A close of ours waits for the agent's frame in progress to end. */
  STATE_CLOSING,
  /** JavaScript was told; what is left is flushing and closing descriptors. */
  STATE_ENDED,
};

#define READ_CHUNK (64 * 1024)
/** A browser sent our close frame and a FIN is given this long to close its side. */
#define LINGER_MS 10000
#define OPCODE_CLOSE 0x8

// ---- Frame boundaries (the C twin of frame-boundary.ts: header bytes read, payloads counted) ----

typedef struct {
  uint8_t header_seen;
  uint8_t header_size;
  uint8_t length_bytes;
  uint8_t opcode;
  bool close_seen;
  uint64_t payload_length;
  uint64_t payload_left;
} frame_tracker;

static bool at_boundary(const frame_tracker *t) { return t->header_seen == 0 && t->payload_left == 0; }

static void header_byte(frame_tracker *t, uint8_t byte) {
  uint8_t index = t->header_seen++;
  if (index == 0) {
    t->opcode = byte & 0x0f;
    t->header_size = 2;
    return;
  }
  if (index == 1) {
    uint8_t len7 = byte & 0x7f;
    t->length_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    t->header_size = 2 + t->length_bytes + ((byte & 0x80) ? 4 : 0);
    t->payload_length = t->length_bytes == 0 ? len7 : 0;
  } else if (index < 2 + t->length_bytes) {
    t->payload_length = (t->payload_length << 8) | byte;
  }
  if (t->header_seen == t->header_size) {
    if (t->opcode == OPCODE_CLOSE) t->close_seen = true;
    t->payload_left = t->payload_length;
    t->header_seen = 0;
  }
}

/** Advances over the bytes; with stop_at_boundary, returns how many it took to end the frame in progress. */
static size_t feed(frame_tracker *t, const uint8_t *bytes, size_t length, bool stop_at_boundary) {
  size_t i = 0;
  while (i < length) {
    if (t->payload_left > 0) {
      uint64_t skip = t->payload_left < length - i ? t->payload_left : length - i;
      t->payload_left -= skip;
      i += skip;
    } else {
      header_byte(t, bytes[i++]);
    }
    if (stop_at_boundary && at_boundary(t)) return i;
  }
  return i;
}

// ---- One splice ----

typedef struct module_state {
  /** Every splice of this Node environment (one loop thread) reads into this, one at a time. */
  uint8_t read_buffer[READ_CHUNK];
  napi_ref dispatch;
  napi_async_context async_context;
  /** The close frame sent when the agent vanishes at a frame boundary (4502, from close-codes.ts). */
  uint8_t *agent_failed_frame;
  size_t agent_failed_frame_length;
} module_state;

typedef struct splice splice;

typedef struct {
  uv_poll_t poll;
  splice *owner;
  int fd;
  /** Events the poll handle currently waits for. */
  int polled;
  bool open;
  /** Bytes for this side that it could not take yet. */
  uint8_t *pending;
  size_t pending_length;
  size_t pending_offset;
} splice_side;

struct splice {
  splice_side browser;
  splice_side agent;
  double bytes_up;
  double bytes_down;
  frame_tracker agent_frames;
  enum splice_state state;
  /** The browser gets what is pending, then a FIN, then a while to close its side. */
  bool browser_ending;
  bool browser_shut;
  uv_timer_t *linger;
  /** Our close frame, while a close waits for a frame boundary. */
  uint8_t *close_frame;
  size_t close_frame_length;
  napi_env env;
  module_state *module;
  /** Weak: the JavaScript object stays alive for as long as the gateway counts the attachment. */
  napi_ref wrapper;
  bool wrapper_alive;
  /** uv handles not yet closed; the struct is freed when none is left and the wrapper is gone. */
  int open_handles;
};

/** A malloc'd copy (NULL when out of memory). */
static uint8_t *copy_of(const uint8_t *bytes, size_t length) {
  uint8_t *copy = malloc(length > 0 ? length : 1);
  if (copy != NULL) memcpy(copy, bytes, length);
  return copy;
}

static splice_side *peer_of(splice_side *side) {
  splice *s = side->owner;
  return side == &s->browser ? &s->agent : &s->browser;
}

static void free_if_unused(splice *s) {
  if (s->open_handles > 0 || s->wrapper_alive) return;
  free(s->close_frame);
  free(s);
}

static void on_handle_closed(uv_handle_t *handle) {
  splice *s;
  if (handle->type == UV_TIMER) {
    s = handle->data;
    free(s->linger);
    s->linger = NULL;
  } else {
    s = ((splice_side *)handle->data)->owner;
  }
  s->open_handles--;
  free_if_unused(s);
}

/** A side reads while its peer has nothing pending; writable is asked for while it has pending bytes. */
static void update_poll(splice_side *side);
static void on_poll(uv_poll_t *handle, int status, int events);

static void close_side(splice_side *side) {
  if (!side->open) return;
  side->open = false;
  uv_poll_stop(&side->poll);
  close(side->fd);
  free(side->pending);
  side->pending = NULL;
  side->pending_length = side->pending_offset = 0;
  uv_close((uv_handle_t *)&side->poll, on_handle_closed);
  splice *s = side->owner;
  if (side == &s->browser && s->linger != NULL) {
    uv_timer_stop(s->linger);
    uv_close((uv_handle_t *)s->linger, on_handle_closed);
  }
  // Its peer may read again: nothing more can wait for this side.
  update_poll(peer_of(side));
}

static void update_poll(splice_side *side) {
  if (!side->open) return;
  splice_side *peer = peer_of(side);
  int events = 0;
  if (peer->pending == NULL) events |= UV_READABLE;
  if (side->pending != NULL) events |= UV_WRITABLE;
  if (events == side->polled) return;
  side->polled = events;
  if (events == 0) {
    uv_poll_stop(&side->poll);
  } else {
    uv_poll_start(&side->poll, events, on_poll);
  }
}

// ---- Telling JavaScript ----

static void notify(splice *s, enum splice_end how) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value wrapper = NULL;
  if (s->wrapper_alive) napi_get_reference_value(env, s->wrapper, &wrapper);
  if (wrapper != NULL) {
    napi_value dispatch, global, argv[2];
    napi_get_reference_value(env, s->module->dispatch, &dispatch);
    napi_get_global(env, &global);
    argv[0] = wrapper;
    napi_create_int32(env, how, &argv[1]);
    if (napi_make_callback(env, s->module->async_context, global, dispatch, 2, argv, NULL) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

/** Ends the splice for JavaScript: the agent's side closes; the browser's too unless it is being ended gracefully. */
static void finish(splice *s, enum splice_end how, bool destroy_browser) {
  if (s->state == STATE_ENDED) return;
  s->state = STATE_ENDED;
  close_side(&s->agent);
  if (destroy_browser) close_side(&s->browser);
  notify(s, how);
}

// ---- Writing ----

static void side_gone(splice_side *side);

static void on_linger_timeout(uv_timer_t *timer) {
  splice *s = timer->data;
  close_side(&s->browser);
}

/** All that was pending for the browser is written: send the FIN, and wait for its own. */
static void shut_browser(splice *s) {
  if (s->browser_shut || !s->browser.open) return;
  s->browser_shut = true;
  shutdown(s->browser.fd, SHUT_WR);
  s->linger = malloc(sizeof(uv_timer_t));
  if (s->linger == NULL) {
    close_side(&s->browser);
    return;
  }
  uv_timer_init(uv_handle_get_loop((uv_handle_t *)&s->browser.poll), s->linger);
  s->linger->data = s;
  s->open_handles++;
  uv_timer_start(s->linger, on_linger_timeout, LINGER_MS, 0);
  // Everything is with the kernel now: waiting for the browser's FIN must not keep a stopping
  // gateway alive.
  uv_unref((uv_handle_t *)s->linger);
  uv_unref((uv_handle_t *)&s->browser.poll);
}

/** Writes what it can now; keeps the rest for when the side is writable, and stops its peer's reads meanwhile. */
static void send_to(splice_side *side, const uint8_t *bytes, size_t length) {
  if (!side->open || length == 0) return;
  if (side->pending == NULL) {
    ssize_t written = send(side->fd, bytes, length, MSG_NOSIGNAL);
    if (written < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        side_gone(side);
        return;
      }
      written = 0;
    }
    if ((size_t)written == length) return;
    bytes += written;
    length -= (size_t)written;
  }
  size_t kept = side->pending_length - side->pending_offset;
  uint8_t *grown = malloc(kept + length);
  if (grown == NULL) {
    side_gone(side);
    return;
  }
  if (kept > 0) memcpy(grown, side->pending + side->pending_offset, kept);
  memcpy(grown + kept, bytes, length);
  free(side->pending);
  side->pending = grown;
  side->pending_length = kept + length;
  side->pending_offset = 0;
  update_poll(side);
  update_poll(peer_of(side));
}

static void flush(splice_side *side) {
  if (side->pending == NULL) return;
  ssize_t written = send(side->fd, side->pending + side->pending_offset, side->pending_length - side->pending_offset, MSG_NOSIGNAL);
  if (written < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) side_gone(side);
    return;
  }
  side->pending_offset += (size_t)written;
  if (side->pending_offset < side->pending_length) return;
  free(side->pending);
  side->pending = NULL;
  side->pending_length = side->pending_offset = 0;
  splice *s = side->owner;
  if (side == &s->browser && s->browser_ending) shut_browser(s);
  update_poll(side);
  update_poll(peer_of(side));
}

/** The browser gets what is pending, then a FIN; its side stays open until it closes too. */
static void end_browser(splice *s) {
  s->browser_ending = true;
  if (s->browser.pending == NULL) shut_browser(s);
}

/** Our close frame to the browser, then its end; the agent's side closes with the splice. */
static void send_close_and_end(splice *s, const uint8_t *frame, size_t frame_length, enum splice_end how) {
  send_to(&s->browser, frame, frame_length);
  end_browser(s);
  finish(s, how, false);
}

// ---- Sides going away ----

static void agent_gone(splice *s) {
  if (s->state != STATE_OPEN) {
    // Ending already, or a close waits for a boundary that can no longer come: JavaScript's
    // grace timer destroys the rest.
    close_side(&s->agent);
    return;
  }
  if (s->agent_frames.close_seen) {
    // The agent closed the WebSocket itself (the session ended): its close is passed on as it is.
    end_browser(s);
    finish(s, END_AGENT_CLOSED, false);
  } else if (at_boundary(&s->agent_frames)) {
    send_close_and_end(s, s->module->agent_failed_frame, s->module->agent_failed_frame_length, END_AGENT_FAILED);
  } else {
    // Cut mid-frame: no valid close frame can follow; the browser sees 1006 and reconnects.
    finish(s, END_AGENT_FAILED, true);
  }
}

static void browser_gone(splice *s) {
  if (s->state == STATE_ENDED) {
    close_side(&s->browser);
    return;
  }
  finish(s, END_BROWSER_CLOSED, true);
}

static void side_gone(splice_side *side) {
  splice *s = side->owner;
  if (side == &s->browser) {
    browser_gone(s);
  } else {
    agent_gone(s);
  }
}

// ---- Reading ----

/** Bytes from the browser, read or handed over at the start: on to the agent. */
static void from_browser(splice *s, const uint8_t *bytes, size_t length) {
  // While ending, the browser's last words (its close frame) have nowhere to go.
  if (s->state != STATE_OPEN) return;
  s->bytes_up += (double)length;
  send_to(&s->agent, bytes, length);
}

/** Bytes from the agent: on to the browser, or, while a close waits, up to the frame's end. */
static void from_agent(splice *s, const uint8_t *bytes, size_t length) {
  if (s->state == STATE_OPEN) {
    s->bytes_down += (double)length;
    feed(&s->agent_frames, bytes, length, false);
    send_to(&s->browser, bytes, length);
  } else if (s->state == STATE_CLOSING) {
    size_t up_to = feed(&s->agent_frames, bytes, length, true);
    send_to(&s->browser, bytes, up_to);
    if (at_boundary(&s->agent_frames)) send_close_and_end(s, s->close_frame, s->close_frame_length, END_RESTART);
  }
}

static void read_from(splice_side *side) {
  splice *s = side->owner;
  uint8_t *const read_buffer = s->module->read_buffer;
  ssize_t got = recv(side->fd, read_buffer, READ_CHUNK, 0);
  if (got < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) side_gone(side);
    return;
  }
  if (got == 0) {
    side_gone(side);
    return;
  }
  if (side == &s->browser) {
    from_browser(s, read_buffer, (size_t)got);
  } else {
    from_agent(s, read_buffer, (size_t)got);
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  splice_side *side = handle->data;
  if (status < 0) {
    side_gone(side);
    return;
  }
  if (events & UV_WRITABLE) flush(side);
  // The write may have ended this side (an error): read only while it is open and still asked to.
  if ((events & UV_READABLE) && side->open && (side->polled & UV_READABLE)) read_from(side);
}

// ---- JavaScript functions ----

static napi_value throw_errno(napi_env env, const char *what, int error) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(error));
  napi_throw_error(env, error == EMFILE || error == ENFILE ? "EMFILE" : "ERR_SPLICE", message);
  return NULL;
}

static void finalize_wrapper(napi_env env, void *data, void *hint) {
  (void)hint;
  splice *s = data;
  napi_delete_reference(env, s->wrapper);
  s->wrapper = NULL;
  s->wrapper_alive = false;
  free_if_unused(s);
}

static splice *unwrap(napi_env env, napi_value object) {
  void *data = NULL;
  if (napi_unwrap(env, object, &data) != napi_ok) return NULL;
  return data;
}

static bool buffer_arg(napi_env env, napi_value value, uint8_t **bytes, size_t *length) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return false;
  return napi_get_buffer_info(env, value, (void **)bytes, length) == napi_ok;
}

static bool init_side(splice *s, splice_side *side, int fd, uv_loop_t *loop) {
  side->owner = s;
  side->fd = fd;
  if (uv_poll_init_socket(loop, &side->poll, fd) != 0) return false;
  side->poll.data = side;
  side->open = true;
  s->open_handles++;
  return true;
}

/** configure(dispatch(splice, end), agentFailedFrame): once, before the first start. */
static napi_value js_configure(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  module_state *module = NULL;
  CHECK(napi_get_instance_data(env, (void **)&module));
  uint8_t *frame;
  size_t frame_length;
  if (argc < 2 || !buffer_arg(env, argv[1], &frame, &frame_length)) {
    napi_throw_type_error(env, NULL, "configure(dispatch, agentFailedFrame)");
    return NULL;
  }
  if (module->dispatch != NULL) napi_delete_reference(env, module->dispatch);
  CHECK(napi_create_reference(env, argv[0], 1, &module->dispatch));
  free(module->agent_failed_frame);
  module->agent_failed_frame = copy_of(frame, frame_length);
  if (module->agent_failed_frame == NULL) return throw_errno(env, "configure", ENOMEM);
  module->agent_failed_frame_length = frame_length;
  return NULL;
}

/**
 * start(wrapper, browserFd, agentFd, responseHead, fromAgent, fromBrowser): takes copies of both
 * descriptors (the caller then destroys its sockets), sends the agent's 101 and the bytes that
 * arrived before the splice, and relays.
 */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  module_state *module = NULL;
  CHECK(napi_get_instance_data(env, (void **)&module));
  int32_t browser_fd, agent_fd;
  uint8_t *response_head, *to_browser, *to_agent;
  size_t response_head_length, to_browser_length, to_agent_length;
  if (argc < 6 || napi_get_value_int32(env, argv[1], &browser_fd) != napi_ok || napi_get_value_int32(env, argv[2], &agent_fd) != napi_ok ||
      !buffer_arg(env, argv[3], &response_head, &response_head_length) || !buffer_arg(env, argv[4], &to_browser, &to_browser_length) ||
      !buffer_arg(env, argv[5], &to_agent, &to_agent_length)) {
    napi_throw_type_error(env, NULL, "start(wrapper, browserFd, agentFd, responseHead, fromAgent, fromBrowser)");
    return NULL;
  }
  if (module->dispatch == NULL) {
    napi_throw_error(env, NULL, "configure() first");
    return NULL;
  }
  int browser_copy = fcntl(browser_fd, F_DUPFD_CLOEXEC, 0);
  if (browser_copy < 0) return throw_errno(env, "dup of the browser's socket", errno);
  int agent_copy = fcntl(agent_fd, F_DUPFD_CLOEXEC, 0);
  if (agent_copy < 0) {
    int error = errno;
    close(browser_copy);
    return throw_errno(env, "dup of the agent's socket", error);
  }
  splice *s = calloc(1, sizeof(splice));
  if (s == NULL) {
    close(browser_copy);
    close(agent_copy);
    return throw_errno(env, "start", ENOMEM);
  }
  s->env = env;
  s->module = module;
  s->state = STATE_OPEN;
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (!init_side(s, &s->browser, browser_copy, loop) || !init_side(s, &s->agent, agent_copy, loop)) {
    // The sides made so far free the struct once their handles are closed (no wrapper yet).
    if (!s->agent.open) close(agent_copy);
    if (s->browser.open) {
      close_side(&s->browser);
    } else {
      close(browser_copy);
      free(s);
    }
    napi_throw_error(env, "ERR_SPLICE", "uv_poll_init_socket failed");
    return NULL;
  }
  // The wrap's own reference is weak: it finds the object for dispatch while the object lives.
  if (napi_wrap(env, argv[0], s, finalize_wrapper, NULL, &s->wrapper) != napi_ok) {
    close_side(&s->browser);
    close_side(&s->agent);
    return throw_last(env);
  }
  s->wrapper_alive = true;
  update_poll(&s->browser);
  update_poll(&s->agent);
  // The 101 is HTTP, not a frame: it is neither followed nor counted.
  send_to(&s->browser, response_head, response_head_length);
  from_agent(s, to_browser, to_browser_length);
  from_browser(s, to_agent, to_agent_length);
  return NULL;
}

static splice *splice_arg(napi_env env, napi_callback_info info, napi_value *extra) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  if (extra != NULL) *extra = argc > 1 ? argv[1] : NULL;
  return unwrap(env, argv[0]);
}

/**
 * close(wrapper, frame): closes the browser's side with our close frame at the agent's next frame
 * boundary. True when that was at once (the splice has ended); false when it waits for the frame
 * in progress (the caller's grace timer then destroys it), or the splice is ending already.
 */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value frame_value;
  splice *s = splice_arg(env, info, &frame_value);
  uint8_t *frame;
  size_t frame_length;
  if (s == NULL || frame_value == NULL || !buffer_arg(env, frame_value, &frame, &frame_length)) {
    napi_throw_type_error(env, NULL, "close(splice, frame)");
    return NULL;
  }
  bool ended_now = false;
  if (s->state == STATE_OPEN && at_boundary(&s->agent_frames)) {
    send_close_and_end(s, frame, frame_length, END_RESTART);
    ended_now = true;
  } else if (s->state == STATE_OPEN) {
    // Kept until the agent's frame in progress ends (read_from sends it then).
    s->close_frame = copy_of(frame, frame_length);
    if (s->close_frame == NULL) {
      finish(s, END_RESTART, true);
      ended_now = true;
    } else {
      s->close_frame_length = frame_length;
      s->state = STATE_CLOSING;
    }
  }
  napi_value result;
  CHECK(napi_get_boolean(env, ended_now, &result));
  return result;
}

/** destroy(wrapper): closes both sides now. */
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  splice *s = splice_arg(env, info, NULL);
  if (s == NULL) {
    napi_throw_type_error(env, NULL, "destroy(splice)");
    return NULL;
  }
  finish(s, END_RESTART, true);
  close_side(&s->browser);
  return NULL;
}

/** bytes(wrapper, out: Float64Array(2)): bytes browser → agent and agent → browser so far. */
static napi_value js_bytes(napi_env env, napi_callback_info info) {
  napi_value out;
  splice *s = splice_arg(env, info, &out);
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (s == NULL || out == NULL || napi_get_typedarray_info(env, out, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float64_array ||
      length < 2) {
    napi_throw_type_error(env, NULL, "bytes(splice, Float64Array(2))");
    return NULL;
  }
  double *figures = data;
  figures[0] = s->bytes_up;
  figures[1] = s->bytes_down;
  return NULL;
}

static void free_module(napi_env env, void *data, void *hint) {
  (void)hint;
  module_state *module = data;
  if (module->dispatch != NULL) napi_delete_reference(env, module->dispatch);
  napi_async_destroy(env, module->async_context);
  free(module->agent_failed_frame);
  free(module);
}

static napi_value init(napi_env env, napi_value exports) {
  module_state *module = calloc(1, sizeof(module_state));
  if (module == NULL) return throw_errno(env, "init", ENOMEM);
  napi_value resource_name;
  CHECK(napi_create_string_utf8(env, "cloudterm.splice", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &module->async_context));
  CHECK(napi_set_instance_data(env, module, free_module, NULL));
  napi_property_descriptor functions[] = {
      {"configure", NULL, js_configure, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
      {"bytes", NULL, js_bytes, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
