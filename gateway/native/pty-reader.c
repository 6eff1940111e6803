// The agent's PTY reader: reads a session's output from the PTY in C, on Node's event loop, and
// hands it to JavaScript in batches.
//
// Why it exists: the kernel hands PTY output over in reads of at most 4 KiB, so a program printing
// at full speed makes ~30,000 reads a second. Read through node-pty's stream, each read is a turn
// of JavaScript (a Buffer, stream events, the session's bookkeeping); the agent then reached
// 80–83% of the in-process node-pty ceiling, where a process that reads in C and writes the same
// frames reached 92–95% (docs/benchmarks.md, "Eighth session"). Here a read costs one system call
// and JavaScript runs once per batch.
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
  /** Keep the staging Buffer and the callbacks alive while the reader is open. */
  napi_ref staging_ref;
  napi_ref on_output;
  napi_ref on_end;
  bool gathering;
  bool paused;
  /** Read EOF or an error: nothing more will come. */
  bool ended;
  bool closed;
  /** uv handles not yet closed; the struct is freed when none is left. */
  int open_handles;
} reader;

/** Calls a reader's callback with one number, as an event of its own (microtasks run after it). */
static void call_back(reader *r, napi_ref callback, double value) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value function, global, argument;
  if (napi_get_reference_value(env, callback, &function) == napi_ok && function != NULL && napi_get_global(env, &global) == napi_ok &&
      napi_create_double(env, value, &argument) == napi_ok) {
    if (napi_make_callback(env, r->async_context, global, function, 1, &argument, NULL) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void stop_gathering(reader *r) {
  if (!r->gathering) return;
  r->gathering = false;
  uv_timer_stop(&r->timer);
}

/** Hands the pending bytes to JavaScript. The callback may pause or close the reader. */
static void flush(reader *r) {
  stop_gathering(r);
  size_t length = r->pending;
  if (length == 0) return;
  r->pending = 0;
  call_back(r, r->on_output, (double)length);
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
  if (!r->closed) call_back(r, r->on_end, error);
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

/** open(wrapper, fd, staging: Buffer, onOutput(length), onEnd(errno)): starts reading a copy of fd. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  bool is_buffer = false;
  napi_valuetype output_type = napi_undefined, end_type = napi_undefined;
  if (argc < 5 || napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0 || napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer ||
      napi_typeof(env, argv[3], &output_type) != napi_ok || output_type != napi_function || napi_typeof(env, argv[4], &end_type) != napi_ok ||
      end_type != napi_function) {
    napi_throw_type_error(env, NULL, "open(wrapper, fd, staging, onOutput, onEnd)");
    return NULL;
  }
  void *staging;
  size_t capacity;
  CHECK(napi_get_buffer_info(env, argv[2], &staging, &capacity));
  if (capacity < STAGING_MIN) {
    char message[96];
    snprintf(message, sizeof message, "the staging buffer must hold at least %d bytes", STAGING_MIN);
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
  napi_value resource_name;
  CHECK(napi_create_string_utf8(env, "cloudterm.ptyReader", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &r->async_context));
  CHECK(napi_create_reference(env, argv[2], 1, &r->staging_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &r->on_output));
  CHECK(napi_create_reference(env, argv[4], 1, &r->on_end));
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
  r->pending = 0;
  return result;
}

/** close(wrapper): stops reading for good and closes the copy of the descriptor; bytes pending are dropped (take them first). */
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
  napi_delete_reference(env, r->staging_ref);
  napi_delete_reference(env, r->on_output);
  napi_delete_reference(env, r->on_end);
  r->on_output = r->on_end = r->staging_ref = NULL;
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
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
