/*
 * process_exit.c - the process-wide "the exit has begun" flag.
 *
 * Once the main thread's exit has begun (process.exit(), or the end of the
 * script), its JS thread never again runs what other threads queue for it:
 * a pool thread finishing an async call must not touch Node's threadsafe
 * functions while Node tears down, and a thread that calls a threadsafe
 * JSCallback with a result must not wait for JS for ever (a C library's
 * exit handler that joins that thread would hang the exit).
 *
 * The flag is set from the earliest point that runs on every platform: the
 * main thread's 'exit' event, whose listener lib/native.js prepends
 * (markProcessExiting). Node's env cleanup hooks do not run on the main
 * thread's process.exit(), and on Windows a DLL's atexit handlers run at
 * DLL_PROCESS_DETACH, after ExitProcess has ended every other thread. An
 * atexit handler stays as the fallback for exit() called from C, where no
 * 'exit' event is emitted. A worker's end needs none of this: its env's
 * cleanup hooks and threadsafe-function finalisers run, and handle it per
 * env (src/calls/async_call.c, src/callbacks/callback.c).
 *
 * Subsystems register a function to run once when the flag is set (the
 * callbacks' one wakes the threads waiting for JS).
 */
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
#include <pthread.h>
#if !defined(__APPLE__)
#include <pthread_np.h>
#endif
#endif

#include "../cffi.h"

static atomic_bool exit_begun;
static atomic_flag atexit_added = ATOMIC_FLAG_INIT;
static void (*on_exit_begun)(bool from_atexit);

bool cffi_process_exit_begun(void) { return atomic_load(&exit_begun); }

static void begin_exit(bool from_atexit) {
  if (atomic_exchange(&exit_begun, true)) return;
  if (on_exit_begun) on_exit_begun(from_atexit);
}

static void begin_exit_at_atexit(void) { begin_exit(true); }

void cffi_process_exit_notify(void (*fn)(bool from_atexit)) { on_exit_begun = fn; }

/* markProcessExiting(): from the main thread's 'exit' listener (lib/native.js).
 * Any JS can reach this raw export: called early, it would make every later
 * threadsafe callback answer 0. So it acts only once Node has begun the exit
 * (process._exiting, set before 'exit' is emitted, in the main thread and in
 * a worker alike), and only on the main thread: a worker's own 'exit'
 * listener calling it would otherwise make the main thread's and every other
 * worker's threadsafe callbacks answer 0 and drop their async calls' results
 * while the process goes on (a worker's end is handled per env). */
static bool process_flag(napi_env env, const char *object, const char *flag) {
  napi_value global, holder, value;
  bool set = false;
  return napi_get_global(env, &global) == napi_ok && napi_get_named_property(env, global, object, &holder) == napi_ok &&
         napi_get_named_property(env, holder, flag, &value) == napi_ok && napi_get_value_bool(env, value, &set) == napi_ok && set;
}

/* Whether this env is the main thread's. Node-API tells no main env from a
 * worker's, and JS's isMainThread can be redefined, so ask the OS: Node runs
 * its main env on the process's first thread (Linux: its thread id is the
 * process id; macOS and the BSDs: pthread_main_np). Windows has neither: the
 * main env's loop is libuv's default loop, a static inside Node's image,
 * while a worker's loop is a member of its heap-allocated Worker. */
static bool on_main_thread(napi_env env) {
#if defined(_WIN32)
  struct uv_loop_s *loop = NULL;
  HMODULE module;
  return napi_get_uv_event_loop(env, &loop) == napi_ok && loop &&
         GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCWSTR)(void *)loop, &module);
#elif defined(__linux__)
  (void)env;
  return (pid_t)syscall(SYS_gettid) == getpid();
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
  (void)env;
  return pthread_main_np() != 0;
#else
  (void)env;
  return true;
#endif
}

static napi_value mark_process_exiting(napi_env env, napi_callback_info info) {
  (void)info;
  if (!on_main_thread(env))
    return cffi_throw(env, "Error", "markProcessExiting: only for the main thread's 'exit' event (called from a worker)");
  if (!process_flag(env, "process", "_exiting"))
    return cffi_throw(env, "Error", "markProcessExiting: only for the main thread's 'exit' event (process._exiting is not set)");
  begin_exit(false);
  return NULL;
}

void cffi_make_process_exit_exports(napi_env env, napi_value exports) {
  if (!atomic_flag_test_and_set(&atexit_added)) atexit(begin_exit_at_atexit);
  cffi_set_function(env, exports, "markProcessExiting", mark_process_exiting, NULL);
}
