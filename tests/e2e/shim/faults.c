/* faults.c — an LD_PRELOAD shim that makes the kernel's rare answers happen on demand, for
 * tests/e2e/test_group_engine.py. Built by the test with the system's C compiler.
 *
 *   SOCKCHAT_ACCEPT_ERRORS=EPROTO,ENOBUFS,...  the next accept4() calls that would succeed
 *       close the new connection and fail with these errors instead, one each, in order
 *       (the errors accept(2) says to retry: the connection failed, the server goes on);
 *   SOCKCHAT_THREAD_FAIL_FILE=PATH  while PATH exists, pthread_create() fails with EAGAIN
 *       (out of threads).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int error_number(const char* name) {
  static const struct { const char* name; int value; } known[] = {
      {"EPROTO", EPROTO},   {"ENOBUFS", ENOBUFS},       {"ECONNABORTED", ECONNABORTED},
      {"EPERM", EPERM},     {"ENOMEM", ENOMEM},         {"ENETDOWN", ENETDOWN},
      {"EHOSTUNREACH", EHOSTUNREACH}, {"ENETUNREACH", ENETUNREACH}, {"EMFILE", EMFILE}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; ++i) {
    if (strcmp(known[i].name, name) == 0) return known[i].value;
  }
  return EPROTO;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int next_error(void) {
  static char* rest = NULL;
  static int started = 0;
  int err = 0;
  pthread_mutex_lock(&lock);
  if (!started) {
    started = 1;
    const char* spec = getenv("SOCKCHAT_ACCEPT_ERRORS");
    rest = spec ? strdup(spec) : NULL;
  }
  if (rest != NULL && *rest != '\0') {
    char* comma = strchr(rest, ',');
    if (comma) *comma = '\0';
    err = error_number(rest);
    rest = comma ? comma + 1 : rest + strlen(rest);
  }
  pthread_mutex_unlock(&lock);
  return err;
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  static int (*real)(int, struct sockaddr*, socklen_t*, int) = NULL;
  if (real == NULL) real = dlsym(RTLD_NEXT, "accept4");
  const int client = real(fd, addr, len, flags);
  if (client < 0) return client;
  const int err = next_error();
  if (err == 0) return client;
  close(client);
  errno = err;
  return -1;
}

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                   void* arg) {
  static int (*real)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*) = NULL;
  if (real == NULL) real = dlsym(RTLD_NEXT, "pthread_create");
  const char* path = getenv("SOCKCHAT_THREAD_FAIL_FILE");
  if (path != NULL && access(path, F_OK) == 0) return EAGAIN;
  return real(thread, attr, start, arg);
}
