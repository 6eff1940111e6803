// Shared by the addons: a Node-API call that fails becomes a JavaScript exception. A file defines
// ADDON_ERROR_CODE (the exception's `code`) and ADDON_ERROR_MESSAGE (when Node-API gives none)
// before including this.
#ifndef CLOUDTERM_NAPI_CHECK_H
#define CLOUDTERM_NAPI_CHECK_H

#include <node_api.h>
#include <stdbool.h>

static napi_value throw_last(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, ADDON_ERROR_CODE, info && info->error_message ? info->error_message : ADDON_ERROR_MESSAGE);
  return NULL;
}

/** Returns from the calling JavaScript function with the failure thrown. */
#define CHECK(call)                                \
  do {                                             \
    if ((call) != napi_ok) return throw_last(env); \
  } while (0)

#endif
