/*
 * cache.c - cc()'s per-user cache of compiled shared objects.
 *
 * Owns: where the cache lives, the entry format, loading an entry only after
 * checking that it is complete and that nothing it was built from changed,
 * and publishing a new entry atomically. compiler.c decides what goes into
 * the key and when to use the cache.
 *
 * An entry is `<dir>/<sha256 key>.so`:
 *   [ELF shared object written by TinyCC]
 *   [dependencies: per file u32 path length, path, then u64 inode, size,
 *    mtime seconds, mtime nanoseconds]
 *   [footer: 8-byte magic, u64 object length, u64 dependencies length,
 *    u64 dependency count, SHA-256 of object + dependencies]
 * The dynamic loader ignores bytes after the segments it maps, so the entry
 * is loadable as it stands. The footer is checked before every load: a
 * truncated or damaged file (a crash, a full disk) is recompiled, never
 * loaded. Entries are written to a temporary name in the same directory and
 * renamed into place, so readers see a complete file or none, and processes
 * racing to write the same key each publish a complete equivalent one.
 *
 * The dependency list is every file TinyCC read (sources, headers from any
 * directory, libtcc1.a, the libraries named): editing a header the source
 * includes invalidates the entry even though the source bytes did not change.
 * It also lists every path that was looked for and not found (a header in
 * an earlier include directory, a __has_include answer): creating one of
 * those invalidates the entry too.
 */
#ifdef CFFI_HAVE_TCC /* only cc() uses it, and only where TinyCC is linked in (Linux) */
#ifndef _GNU_SOURCE /* binding.gyp defines it on Linux */
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "sha256.h"

static const char MAGIC[8] = {'c', 'f', 'f', 'i', 'c', 'c', '0', '2'};
#define FOOTER_SIZE (8 + 8 + 8 + 8 + 32)
#define DEP_FIXED (4 + 8 * 4)
/* Far above what TinyCC produces for anything cc() is meant for; a larger
 * file is treated as damage rather than read into memory. */
#define MAX_ENTRY (64u << 20)

static bool deps_reserve(cffi_deps *d, size_t more) {
  if (d->len + more <= d->cap) return true;
  size_t cap = d->cap ? d->cap * 2 : 1024;
  while (cap < d->len + more) cap *= 2;
  uint8_t *grown = realloc(d->data, cap);
  if (!grown) return false;
  d->data = grown;
  d->cap = cap;
  return true;
}

static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* A file that was looked for and not found is stored with this identity:
 * the entry stays valid only while the file still does not exist. */
#define ABSENT UINT64_MAX

static void deps_add(cffi_deps *d, const char *path, const struct stat *st) {
  if (d->failed) return;
  size_t n = strlen(path);
  if (n > UINT32_MAX || !deps_reserve(d, DEP_FIXED + n)) {
    d->failed = true;
    return;
  }
  uint8_t *p = d->data + d->len;
  uint32_t n32 = (uint32_t)n;
  memcpy(p, &n32, 4);
  memcpy(p + 4, path, n);
  p += 4 + n;
  put_u64(p, st ? (uint64_t)st->st_ino : ABSENT);
  put_u64(p + 8, st ? (uint64_t)st->st_size : ABSENT);
  put_u64(p + 16, st ? (uint64_t)st->st_mtim.tv_sec : ABSENT);
  put_u64(p + 24, st ? (uint64_t)st->st_mtim.tv_nsec : ABSENT);
  d->len += DEP_FIXED + n;
  d->count++;
}

void cffi_deps_record(cffi_deps *d, const char *path, int fd) {
  struct stat st;
  if (fd < 0) {
    deps_add(d, path, NULL);
  } else if (fstat(fd, &st) != 0) {
    d->failed = true;
  } else if (S_ISREG(st.st_mode)) {
    deps_add(d, path, &st);
  }
}

void cffi_deps_note(void *data, const char *path) {
  struct stat st;
  bool found = stat(path, &st) == 0;
  if (!found || S_ISREG(st.st_mode)) deps_add(data, path, found ? &st : NULL);
}

void cffi_deps_free(cffi_deps *d) {
  free(d->data);
  memset(d, 0, sizeof *d);
}

/* True when every recorded file still has the inode, size and mtime it had. */
static bool deps_unchanged(const uint8_t *p, size_t len, uint64_t count) {
  const uint8_t *end = p + len;
  char path[4096];
  for (uint64_t i = 0; i < count; i++) {
    uint32_t n;
    if ((size_t)(end - p) < DEP_FIXED) return false;
    memcpy(&n, p, 4);
    if (n >= sizeof path || (size_t)(end - p) < DEP_FIXED + (size_t)n) return false;
    memcpy(path, p + 4, n);
    path[n] = 0;
    p += 4 + n;
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (!exists && get_u64(p) == ABSENT) {
      p += 32;
      continue;
    }
    if (!exists || get_u64(p) != (uint64_t)st.st_ino ||
        get_u64(p + 8) != (uint64_t)st.st_size || get_u64(p + 16) != (uint64_t)st.st_mtim.tv_sec ||
        get_u64(p + 24) != (uint64_t)st.st_mtim.tv_nsec)
      return false;
    p += 32;
  }
  return p == end;
}

/* A directory we may load code from: ours, and writable by nobody else. */
static bool private_dir(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
         (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

bool cffi_cache_dir(char *out, size_t len) {
  const char *off = getenv("CFFI_BUN_CACHE");
  if (off && strcmp(off, "0") == 0) return false;
  const char *xdg = getenv("XDG_CACHE_HOME");
  const char *home = getenv("HOME");
  int n;
  char base[4096];
  /* XDG says relative values are invalid and must be ignored. */
  if (xdg && xdg[0] == '/') n = snprintf(base, sizeof base, "%s", xdg);
  else if (home && home[0] == '/') n = snprintf(base, sizeof base, "%s/.cache", home);
  else return false;
  if (n < 0 || (size_t)n >= sizeof base) return false;
  n = snprintf(out, len, "%s/cffi-bun", base);
  if (n < 0 || (size_t)n >= len) return false;
  if (private_dir(out)) return true;
  /* Only the last two levels are created; anything above must exist. */
  if (mkdir(base, 0700) != 0 && errno != EEXIST) return false;
  if (mkdir(out, 0700) != 0 && errno != EEXIST) return false;
  return private_dir(out);
}

static bool read_all(int fd, uint8_t *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t got = read(fd, buf + done, len - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += (size_t)got;
  }
  return true;
}

static bool write_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 0) {
    ssize_t put = write(fd, p, len);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    p += put;
    len -= (size_t)put;
  }
  return true;
}

/* Checks the footer, checksum and dependencies of the entry open on fd;
 * *object_len is the size of its shared object (0: a memory-only entry). */
static bool entry_valid(int fd, uint64_t *object_len_out) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < FOOTER_SIZE ||
      (uint64_t)st.st_size > MAX_ENTRY)
    return false;
  size_t size = (size_t)st.st_size;
  uint8_t *buf = malloc(size);
  bool ok = false;
  if (buf && read_all(fd, buf, size)) {
    const uint8_t *footer = buf + size - FOOTER_SIZE;
    uint64_t object_len = get_u64(footer + 8), deps_len = get_u64(footer + 16);
    uint64_t count = get_u64(footer + 24);
    if (memcmp(footer, MAGIC, 8) == 0 && object_len <= size && deps_len <= size &&
        object_len + deps_len + FOOTER_SIZE == size) {
      uint8_t digest[32];
      cffi_sha256 h;
      cffi_sha256_init(&h);
      cffi_sha256_update(&h, buf, size - FOOTER_SIZE);
      cffi_sha256_final(&h, digest);
      ok = memcmp(digest, footer + 32, 32) == 0 &&
           deps_unchanged(buf + object_len, (size_t)deps_len, count);
      *object_len_out = object_len;
    }
  }
  free(buf);
  return ok;
}

cffi_cache_status cffi_cache_load(const char *dir, const char *key, void **handle) {
  char path[4200];
  *handle = NULL;
  if (snprintf(path, sizeof path, "%s/%s.so", dir, key) >= (int)sizeof path) return CFFI_CACHE_MISS;
  /* Loading the same file twice gives back the same mapping, so two cc()
   * results would share static variables; a second copy is compiled in
   * memory instead, as every cc() call gets its own in Bun. */
  void *loaded = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
  if (loaded) {
    dlclose(loaded);
    return CFFI_CACHE_IN_USE;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CFFI_CACHE_MISS;
  struct stat before, after;
  cffi_cache_status status = CFFI_CACHE_MISS;
  uint64_t object_len = 0;
  if (!entry_valid(fd, &object_len)) {
    /* missing, damaged or stale: compile again */
  } else if (object_len == 0) {
    status = CFFI_CACHE_MEMORY_ONLY;
  } else if (fstat(fd, &before) == 0) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    /* The loader opened the path again; if the name still points at the
     * file checked above, that is the file it loaded (a replacement would
     * be a new inode, entries are only ever renamed into place). */
    if (h && stat(path, &after) == 0 && after.st_ino == before.st_ino &&
        after.st_dev == before.st_dev) {
      *handle = h;
      status = CFFI_CACHE_HIT;
    } else if (h) {
      dlclose(h);
    }
  }
  close(fd);
  return status;
}

bool cffi_cache_temp(const char *dir, char *out, size_t len) {
  int n = snprintf(out, len, "%s/.tmp-%ld-XXXXXX", dir, (long)getpid());
  if (n < 0 || (size_t)n >= len) return false;
  int fd = mkostemp(out, O_CLOEXEC);
  if (fd < 0) return false;
  close(fd);
  return true;
}

/* Relocation types the loader applies to data only, as TinyCC emits them
 * for position-independent code. */
static bool plain_relocation(uint32_t type) {
#if defined(__x86_64__)
  return type == R_X86_64_RELATIVE || type == R_X86_64_64 || type == R_X86_64_GLOB_DAT ||
         type == R_X86_64_JUMP_SLOT;
#elif defined(__aarch64__)
  return type == R_AARCH64_RELATIVE || type == R_AARCH64_ABS64 || type == R_AARCH64_GLOB_DAT ||
         type == R_AARCH64_JUMP_SLOT;
#else
  (void)type;
  return false;
#endif
}

/* The file offset of vaddr..vaddr+len inside a PT_LOAD, or SIZE_MAX. When
 * writable is set the segment must also be writable. */
static size_t segment_offset(const ElfW(Phdr) *ph, size_t phnum, uint64_t vaddr, uint64_t len, bool writable) {
  for (size_t i = 0; i < phnum; i++) {
    if (ph[i].p_type != PT_LOAD || vaddr < ph[i].p_vaddr || vaddr + len > ph[i].p_vaddr + ph[i].p_filesz) continue;
    if (writable && !(ph[i].p_flags & PF_W)) return SIZE_MAX;
    return (size_t)(ph[i].p_offset + (vaddr - ph[i].p_vaddr));
  }
  return SIZE_MAX;
}

static bool relocations_plain(const uint8_t *elf, size_t size, const ElfW(Phdr) *ph, size_t phnum, uint64_t at,
                              uint64_t bytes) {
  if (!bytes) return true;
  size_t off = segment_offset(ph, phnum, at, bytes, false);
  if (off == SIZE_MAX || off > size || bytes > size - off) return false;
  for (uint64_t i = 0; i < bytes / sizeof(ElfW(Rela)); i++) {
    ElfW(Rela) r;
    memcpy(&r, elf + off + i * sizeof r, sizeof r);
    if (!plain_relocation((uint32_t)ELF64_R_TYPE(r.r_info)) ||
        segment_offset(ph, phnum, r.r_offset, sizeof(void *), true) == SIZE_MAX)
      return false;
  }
  return true;
}

static bool object_like_memory(const uint8_t *elf, size_t size) {
#if defined(__aarch64__)
  /* TinyCC 0.9.27's AArch64 shared objects keep no dynamic relocation for
   * an address stored in data (`static int (*f)() = strcmp`, a pointer to
   * a string, &environ): the word holds its link-time value (or 0 for an
   * external) and the first use crashes. Nothing in the object shows which
   * words those are, so on AArch64 every entry is memory-only. */
  (void)elf, (void)size;
  return false;
#endif
  ElfW(Ehdr) eh;
  if (size < sizeof eh) return false;
  memcpy(&eh, elf, sizeof eh);
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phoff > size ||
      (uint64_t)eh.e_phnum * sizeof(ElfW(Phdr)) > size - eh.e_phoff)
    return false;
  ElfW(Phdr) ph[32];
  size_t phnum = eh.e_phnum;
  if (phnum > 32) return false;
  memcpy(ph, elf + eh.e_phoff, phnum * sizeof *ph);
  const ElfW(Phdr) *dynamic = NULL;
  for (size_t i = 0; i < phnum; i++) {
    if (ph[i].p_type == PT_TLS) return false;
    if (ph[i].p_type == PT_DYNAMIC) dynamic = &ph[i];
  }
  if (!dynamic || dynamic->p_offset > size || dynamic->p_filesz > size - dynamic->p_offset) return false;
  uint64_t rela = 0, relasz = 0, jmprel = 0, pltrelsz = 0;
  for (size_t i = 0; i < dynamic->p_filesz / sizeof(ElfW(Dyn)); i++) {
    ElfW(Dyn) d;
    memcpy(&d, elf + dynamic->p_offset + i * sizeof d, sizeof d);
    if (d.d_tag == DT_NULL) break;
    switch (d.d_tag) {
      case DT_TEXTREL:
      case DT_REL:
        return false;
      case DT_FLAGS:
        if (d.d_un.d_val & DF_TEXTREL) return false;
        break;
      case DT_INIT_ARRAYSZ:
      case DT_FINI_ARRAYSZ:
      case DT_PREINIT_ARRAYSZ:
        if (d.d_un.d_val) return false;
        break;
      case DT_RELA: rela = d.d_un.d_ptr; break;
      case DT_RELASZ: relasz = d.d_un.d_val; break;
      case DT_JMPREL: jmprel = d.d_un.d_ptr; break;
      case DT_PLTRELSZ: pltrelsz = d.d_un.d_val; break;
      default: break;
    }
  }
  return relocations_plain(elf, size, ph, phnum, rela, relasz) &&
         relocations_plain(elf, size, ph, phnum, jmprel, pltrelsz);
}

bool cffi_cache_publish(const char *tmp, const char *dir, const char *key, const cffi_deps *deps, void **handle) {
  char path[4200];
  bool ok = false;
  uint8_t *object = NULL;
  int fd = -1;
  struct stat st;
  *handle = NULL;
  if (deps->failed || snprintf(path, sizeof path, "%s/%s.so", dir, key) >= (int)sizeof path) goto done;
  fd = open(tmp, O_RDWR | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > MAX_ENTRY) goto done;
  size_t object_len = (size_t)st.st_size;
  object = malloc(object_len + 1);
  if (!object || !read_all(fd, object, object_len)) goto done;
  /* Code that would not behave as in memory (or an empty file: no object
   * could be built) is stored as a memory-only entry: later runs compile
   * it in memory at once instead of producing a shared object again. */
  if (object_len && !object_like_memory(object, object_len)) {
    if (ftruncate(fd, 0) != 0) goto done;
    object_len = 0;
  }
  uint8_t footer[FOOTER_SIZE];
  cffi_sha256 h;
  cffi_sha256_init(&h);
  cffi_sha256_update(&h, object, object_len);
  cffi_sha256_update(&h, deps->data, deps->len);
  memcpy(footer, MAGIC, 8);
  put_u64(footer + 8, object_len);
  put_u64(footer + 16, deps->len);
  put_u64(footer + 24, deps->count);
  cffi_sha256_final(&h, footer + 32);
  if (lseek(fd, 0, SEEK_END) < 0 || !write_all(fd, deps->data, deps->len) ||
      !write_all(fd, footer, sizeof footer))
    goto done;
  if (close(fd) != 0) {
    fd = -1;
    goto done;
  }
  fd = -1;
  /* Loaded straight from the temporary name before it is renamed: this
   * process checked it a moment ago, and no other can have changed a file
   * only it knows. */
  if (object_len) *handle = dlopen(tmp, RTLD_NOW | RTLD_LOCAL);
  ok = rename(tmp, path) == 0;
  if (!ok && *handle) {
    dlclose(*handle);
    *handle = NULL;
  }
done:
  if (fd >= 0) close(fd);
  free(object);
  if (!ok) unlink(tmp);
  return ok;
}
#else
typedef int cffi_cache_unused; /* ISO C wants a declaration */
#endif /* CFFI_HAVE_TCC */
