// The C init: a container's init that never starts Go (see cinit.go in package
// runtime for the format and for the parent's side, which makes every decision).
//
// The parent sets _HULL_OPS when it compiled init's work into a list of
// operations; the constructor (nsenter.go) then calls hull_cinit once the
// namespaces are joined. It reads one packet from the sync socket (_HULL_INIT),
// checks all of it before it does anything, and runs the operations in order:
// the last one execs the container's program. A failure is sent back as the
// protocol's msgError, {"type":"error","error":PREFIX,"errno":N,"kind":K}, over the
// socket before "ready" and through exec.fifo after it; the parent (or start)
// rebuilds the error from the prefix and the errno, so the texts are Go's.
//
// Every path inside the container's tree is resolved with openat2(2)
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS from the root's descriptor; no string
// from the tree reaches a path-taking call before pivot_root.
//
// Memory is static and bounded: one receive buffer, an arena for the strings
// (NUL-terminated copies), fixed tables of operations and string pointers.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <grp.h>

#include "cinit.h"

#define MAX_MSG (1 << 20)
#define MAX_OPS 4096
#define MAX_STRS 16384
#define MAX_LINKS 40

struct op {
	uint32_t code;
	uint32_t first, nstr; // its strings: strs[first .. first+nstr)
	uint64_t a, b, c, d;
};

static unsigned char msg[MAX_MSG];
static char arena[MAX_MSG * 2];
static size_t arena_used;
static const char *strs[MAX_STRS];
static uint32_t lens[MAX_STRS];
static uint32_t nstrs;
static struct op ops[MAX_OPS];
static uint32_t nops;

static int sync_fd = -1; // the socket, until "ready"
static int fifo_w = -1;  // exec.fifo's write end, after start
static int root_fd = -1, null_fd = -1;
static char exe[4096];

// ---- errors ------------------------------------------------------------

static char out[4000]; // fifoErrorMax: it fits exec.fifo's buffer
static size_t outn;

static void put(const char *s, size_t n) {
	if (n > sizeof out - 1 - outn)
		n = sizeof out - 1 - outn;
	memcpy(out + outn, s, n);
	outn += n;
}

static void puts_(const char *s) { put(s, strlen(s)); }

// put_json puts s as the contents of a JSON string.
static void put_json(const char *s) {
	for (; *s && outn < 3000; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			put(esc, 6);
		} else {
			put((const char *)s, 1);
		}
	}
}

// fail reports the failure of an operation and ends the process. prefix is
// the parent's text for the operation, detail a few words of this side's (or
// NULL), e the errno (0: none); program asks for the kind of a failure to find
// or run the program (runtime's programError), notfound forces not-found.
static void fail_kind(const char *prefix, const char *detail, int e, int program, int notfound) {
	outn = 0;
	puts_("{\"type\":\"error\",\"error\":\"");
	put_json(prefix);
	if (detail != NULL) {
		puts_(": ");
		put_json(detail);
	}
	puts_("\"");
	if (e != 0) {
		char n[32];
		int k = snprintf(n, sizeof n, ",\"errno\":%d", e);
		put(n, (size_t)k);
	}
	const char *kind = NULL;
	if (notfound || (program && e == ENOENT))
		kind = "not-found";
	else if (program && (e == EACCES || e == EISDIR || e == ENOEXEC))
		kind = "not-executable";
	if (kind != NULL) {
		puts_(",\"kind\":\"");
		put(kind, strlen(kind));
		puts_("\"");
	}
	puts_("}");
	if (fifo_w >= 0) {
		if (write(fifo_w, out, outn) != (ssize_t)outn) {
			// `hullrt start` is gone: stderr is all there is.
			fprintf(stderr, "hullrt init: %.*s\n", (int)outn, out);
		}
	} else if (sync_fd >= 0) {
		if (send(sync_fd, out, outn, MSG_NOSIGNAL) < 0 && errno != EPIPE)
			fprintf(stderr, "hullrt init: %.*s\n", (int)outn, out);
	} else {
		// between "ready" and start: no channel to the caller is open
		fprintf(stderr, "hullrt init: %.*s\n", (int)outn, out);
	}
	_exit(1);
}

static void fail(const char *prefix, const char *detail, int e) { fail_kind(prefix, detail, e, 0, 0); }

// ---- paths in the root ---------------------------------------------------

static int open_in(int dirfd, const char *p, uint64_t flags) {
	struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	for (;;) {
		int fd = (int)syscall(SYS_openat2, dirfd, p, &how, sizeof how);
		if (fd < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return fd;
	}
}

static int open_root(const char *p, uint64_t flags) { return open_in(root_fd, p, flags); }

// clean is fsroot.Clean: p made relative to the root, lexically cleaned (".."
// stops at the root), "." for the root itself. dst has room for n bytes.
static int clean(const char *p, char *dst, size_t n) {
	size_t o = 0;
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 0)
			break;
		if (l == 1 && p[0] == '.') {
		} else if (l == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && dst[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (o + (o > 0) + l + 1 > n)
				return -1;
			if (o > 0)
				dst[o++] = '/';
			memcpy(dst + o, p, l);
			o += l;
		}
		p += l;
	}
	if (o == 0) {
		if (n < 2)
			return -1;
		dst[o++] = '.';
	}
	dst[o] = '\0';
	return 0;
}

// mkdir_all is fsroot's MkdirAll: each component looked up from the root
// again, a missing one made in its resolved parent, a dangling symlink's
// target made inside the root. It returns an O_PATH descriptor, or -1 with
// errno set and what the step was in *what.
static int mkdir_all(const char *path, mode_t mode, char *what, size_t wn) {
	char p[4096], sofar[4096];
	if (clean(path, p, sizeof p) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (int links = 0;; links++) {
		int fd = open_root(p, O_PATH | O_DIRECTORY);
		if (fd >= 0)
			return fd;
		int parent = dup(root_fd);
		if (parent < 0)
			return -1;
		size_t so = 0;
		const char *q = p;
		int restart = 0;
		while (*q) {
			const char *e = strchr(q, '/');
			size_t l = e ? (size_t)(e - q) : strlen(q);
			char comp[256];
			if (l >= sizeof comp || so + l + 2 > sizeof sofar) {
				close(parent);
				errno = ENAMETOOLONG;
				return -1;
			}
			memcpy(comp, q, l);
			comp[l] = '\0';
			q += l;
			if (*q == '/')
				q++;
			if (l == 0 || strcmp(comp, ".") == 0)
				continue;
			if (so > 0)
				sofar[so++] = '/';
			memcpy(sofar + so, comp, l);
			so += l;
			sofar[so] = '\0';
			snprintf(what, wn, "mkdir %s", sofar);
			fd = open_root(sofar, O_PATH | O_DIRECTORY);
			if (fd < 0 && errno == ENOENT) {
				// parent is the resolved parent: mkdirat cannot be redirected
				if (mkdirat(parent, comp, mode) != 0) {
					int e = errno;
					char target[4096];
					ssize_t tn;
					if (e == EEXIST && (tn = readlinkat(parent, comp, target, sizeof target - 1)) >= 0) {
						close(parent);
						if (links >= MAX_LINKS) {
							errno = ELOOP;
							return -1;
						}
						target[tn] = '\0';
						// the new path: target (relative to sofar's directory)
						// and the rest of p, cleaned
						char np[8192 + 16];
						size_t dirlen = so - l;
						int k;
						if (target[0] == '/')
							k = snprintf(np, sizeof np, "%s/%s", target, q);
						else
							k = snprintf(np, sizeof np, "/%.*s/%s/%s", (int)dirlen, sofar, target, q);
						if (k < 0 || (size_t)k >= sizeof np || clean(np, p, sizeof p) != 0) {
							errno = ENAMETOOLONG;
							return -1;
						}
						restart = 1;
						break;
					}
					if (e != EEXIST) {
						close(parent);
						errno = e;
						return -1;
					}
				}
				fd = open_root(sofar, O_PATH | O_DIRECTORY);
			}
			close(parent);
			if (fd < 0)
				return -1;
			parent = fd;
		}
		if (!restart)
			return parent;
	}
}

// split_parent makes the parent directory of path (cleaned) and returns its
// descriptor, with the last component in base.
static int split_parent(const char *path, char *base, size_t bn, char *what, size_t wn) {
	char p[4096];
	if (clean(path, p, sizeof p) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *slash = strrchr(p, '/');
	const char *b = slash ? slash + 1 : p;
	if (strlen(b) >= bn || strcmp(b, ".") == 0 || strcmp(b, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	strcpy(base, b);
	if (slash)
		*slash = '\0';
	else
		strcpy(p, ".");
	return mkdir_all(p, 0755, what, wn);
}

// mkfile_all is fsroot's MkfileAll: an empty file at path unless something is
// there (a dangling symlink's target made inside the root).
static int mkfile_all(const char *path, mode_t mode, char *what, size_t wn) {
	char p[4096];
	if (clean(path, p, sizeof p) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (int links = 0;; links++) {
		int fd = open_root(p, O_PATH);
		if (fd >= 0)
			return fd;
		char base[256];
		int parent = split_parent(p, base, sizeof base, what, wn);
		if (parent < 0)
			return -1;
		snprintf(what, wn, "make file %s", p);
		fd = openat(parent, base, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, mode);
		if (fd < 0 && errno == EEXIST && links < MAX_LINKS) {
			char target[4096];
			ssize_t tn = readlinkat(parent, base, target, sizeof target - 1);
			if (tn >= 0) {
				close(parent);
				target[tn] = '\0';
				char np[8192 + 16];
				char *slash = strrchr(p, '/');
				int dl = slash ? (int)(slash - p) : 0;
				int k = target[0] == '/' ? snprintf(np, sizeof np, "%s", target)
							 : snprintf(np, sizeof np, "/%.*s/%s", dl, p, target);
				if (k < 0 || (size_t)k >= sizeof np || clean(np, p, sizeof p) != 0) {
					errno = ENAMETOOLONG;
					return -1;
				}
				continue;
			}
		}
		int e = errno;
		close(parent);
		if (fd < 0 && e != EEXIST) {
			errno = e;
			return -1;
		}
		if (fd >= 0)
			close(fd);
		return open_root(p, O_PATH);
	}
}

static mode_t fd_type(int fd) {
	struct stat st;
	if (fstat(fd, &st) != 0)
		return 0;
	return st.st_mode & S_IFMT;
}

static void procfd(char *buf, size_t n, int fd) { snprintf(buf, n, "/proc/self/fd/%d", fd); }

// ---- operations ----------------------------------------------------------

static const char *S(const struct op *o, uint32_t i) { return i < o->nstr ? strs[o->first + i] : ""; }
static uint32_t L(const struct op *o, uint32_t i) { return i < o->nstr ? lens[o->first + i] : 0; }

static void op_mount_fs(const struct op *o) {
	const char *pre = S(o, 0), *dest = S(o, 1), *src = S(o, 2), *type = S(o, 3), *data = S(o, 4);
	char what[4200] = "";
	int fd = open_root(dest, O_PATH | O_NOFOLLOW);
	if (fd >= 0) {
		mode_t t = fd_type(fd);
		close(fd);
		// a filesystem lands on a real directory, never a symlink's target
		if (t == S_IFLNK)
			fail(pre, "destination is a symlink", 0);
	}
	int dfd = mkdir_all(dest, 0755, what, sizeof what);
	if (dfd < 0)
		fail(pre, what, errno);
	char target[64];
	procfd(target, sizeof target, dfd);
	if (mount(src, target, type, (unsigned long)o->a, o->nstr > 4 && L(o, 4) > 0 ? data : NULL) != 0) {
		char d[4200];
		snprintf(d, sizeof d, "mount %s (%s)", src, type);
		fail(pre, d, errno);
	}
	close(dfd);
}

static int mount_setattr_(int fd, const char *p, unsigned flags, uint64_t set, uint64_t clr) {
	struct mount_attr attr = {.attr_set = set, .attr_clr = clr};
	return (int)syscall(SYS_mount_setattr, fd, p, flags, &attr, sizeof attr);
}

// op_setattr: a, b the attributes to set and clear on the mount at dest; c,
// d the same for it and every mount below (after).
static void op_setattr(const struct op *o) {
	const char *pre = S(o, 0), *dest = S(o, 1), *what = S(o, 2);
	int fd = open_root(dest, O_PATH);
	if (fd < 0)
		fail(pre, NULL, errno);
	if ((o->a || o->b) && mount_setattr_(fd, "", AT_EMPTY_PATH, o->a, o->b) != 0)
		fail(pre, what, errno);
	if ((o->c || o->d) && mount_setattr_(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, o->c, o->d) != 0)
		fail(pre, "set recursive flags", errno);
	close(fd);
}

// op_bind: open_tree of the host's src (a: AT_RECURSIVE or 0), its attributes
// set on the detached copy (b set, c clear; d: the recursive set, clear<<32),
// attached at dest (made a directory or a file, as the tree's root is).
static void op_bind(const struct op *o) {
	const char *pre = S(o, 0), *dest = S(o, 1), *src = S(o, 2);
	char what[4200] = "";
	struct stat st;
	if (stat(src, &st) != 0) {
		snprintf(what, sizeof what, "bind source: stat %s", src);
		fail(pre, what, errno);
	}
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, (unsigned)(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | o->a));
	if (tree < 0) {
		snprintf(what, sizeof what, "clone %s", src);
		fail(pre, what, errno);
	}
	if ((o->b || o->c) && mount_setattr_(tree, "", AT_EMPTY_PATH, o->b, o->c) != 0) {
		snprintf(what, sizeof what, "%s: set flags", src);
		fail(pre, what, errno);
	}
	uint64_t rs = o->d & 0xffffffffu, rc = o->d >> 32;
	if ((rs || rc) && mount_setattr_(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, rs, rc) != 0) {
		snprintf(what, sizeof what, "%s: set recursive flags", src);
		fail(pre, what, errno);
	}
	int dfd = fd_type(tree) == S_IFDIR ? mkdir_all(dest, 0755, what, sizeof what) : mkfile_all(dest, 0644, what, sizeof what);
	if (dfd < 0)
		fail(pre, what, errno);
	if (syscall(SYS_move_mount, tree, "", dfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
		fail(pre, "attach", errno);
	close(dfd);
	close(tree);
}

static void op_propagate(const struct op *o) {
	const char *pre = S(o, 0), *dest = S(o, 1);
	int fd = open_root(dest, O_PATH);
	if (fd < 0)
		fail(pre, NULL, errno);
	char target[64];
	procfd(target, sizeof target, fd);
	if (mount("", target, NULL, (unsigned long)o->a, NULL) != 0)
		fail(pre, "set propagation", errno);
	close(fd);
}

// op_mknod: a the mode with its type, b the device number, c uid, d gid.
static void op_mknod(const struct op *o) {
	const char *pre = S(o, 0), *path = S(o, 1);
	char what[4200] = "", base[256];
	int parent = split_parent(path, base, sizeof base, what, sizeof what);
	if (parent < 0)
		fail(pre, what[0] ? what : NULL, errno);
	int fd = open_root(path, O_PATH | O_NOFOLLOW);
	if (fd >= 0) {
		mode_t t = fd_type(fd);
		close(fd);
		if (t == S_IFLNK || t == S_IFDIR)
			fail(pre, t == S_IFLNK ? "a symlink is in the way" : "a directory is in the way", 0);
		if (unlinkat(parent, base, 0) != 0)
			fail(pre, NULL, errno);
	}
	mode_t mode = (mode_t)o->a;
	if (mknodat(parent, base, mode, (dev_t)o->b) != 0)
		fail(S(o, 2), NULL, errno);
	// mknod is subject to the umask; the node gets exactly the mode asked for
	if (fchmodat(parent, base, mode & 07777, 0) != 0)
		fail(S(o, 3), NULL, errno);
	if (fchownat(parent, base, (uid_t)o->c, (gid_t)o->d, AT_SYMLINK_NOFOLLOW) != 0)
		fail(S(o, 4), NULL, errno);
	close(parent);
}

// op_symlink: S1 -> S2 inside the root; a: replace what is there (ptmx),
// else leave it.
static void op_symlink(const struct op *o) {
	const char *pre = S(o, 0), *target = S(o, 1), *path = S(o, 2);
	char what[4200] = "", base[256];
	int parent = split_parent(path, base, sizeof base, what, sizeof what);
	if (parent < 0)
		fail(pre, what[0] ? what : NULL, errno);
	if (o->a && unlinkat(parent, base, 0) != 0 && errno != ENOENT)
		fail(pre, "replace", errno);
	if (symlinkat(target, parent, base) != 0 && (o->a || errno != EEXIST))
		fail(pre, NULL, errno);
	close(parent);
}

// open_masked opens the path a masked or read-only path names, for a mount on
// it: -1 when it does not exist (nothing to do), and a symlink there fails
// (a mount on it would land on what it points at).
static int open_masked(const char *pre, const char *path, mode_t *type) {
	int fd = open_root(path, O_PATH | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return -1;
	if (fd < 0)
		fail(pre, NULL, errno);
	*type = fd_type(fd);
	if (*type == S_IFLNK)
		fail(pre, "is a symlink", 0);
	return fd;
}

static void op_mask(const struct op *o) {
	const char *pre = S(o, 0);
	mode_t t;
	int fd = open_masked(pre, S(o, 1), &t);
	if (fd < 0)
		return;
	char target[64], src[64];
	procfd(target, sizeof target, fd);
	int r;
	if (t == S_IFDIR) {
		r = mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555");
	} else {
		procfd(src, sizeof src, null_fd);
		r = mount(src, target, NULL, MS_BIND, NULL);
	}
	if (r != 0)
		fail(pre, NULL, errno);
	close(fd);
}

static void op_readonly(const struct op *o) {
	const char *pre = S(o, 0);
	mode_t t;
	int fd = open_masked(pre, S(o, 1), &t);
	if (fd < 0)
		return;
	int tree = (int)syscall(SYS_open_tree, fd, "", (unsigned)(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH));
	if (tree < 0)
		fail(pre, NULL, errno);
	if (mount_setattr_(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0) != 0)
		fail(pre, NULL, errno);
	if (syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
		fail(pre, NULL, errno);
	close(tree);
	close(fd);
}

// op_pivot is rootfs.Pivot: pivot_root(".", "."), the old root made a slave
// and detached through a descriptor opened before the switch.
static void op_pivot(void) {
	int old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (old < 0)
		fail("open old root", NULL, errno);
	if (fchdir(root_fd) != 0)
		fail("chdir to rootfs", NULL, errno);
	if (syscall(SYS_pivot_root, ".", ".") != 0)
		fail("pivot_root", NULL, errno);
	if (fchdir(old) != 0)
		fail("chdir to old root", NULL, errno);
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) != 0)
		fail("make old root a slave", NULL, errno);
	if (umount2(".", MNT_DETACH) != 0)
		fail("unmount old root", NULL, errno);
	if (chdir("/") != 0)
		fail("chdir /", NULL, errno);
	close(old);
	close(root_fd);
	root_fd = -1;
	if (null_fd >= 0)
		close(null_fd);
	null_fd = -1;
}

// check_exec is runtime's checkExec: why p could not be executed (0: it can).
static int check_exec(const char *p) {
	struct stat st;
	if (stat(p, &st) != 0)
		return errno;
	if ((st.st_mode & S_IFMT) == S_IFDIR)
		return EISDIR;
	if ((st.st_mode & 0111) == 0)
		return EACCES;
	return 0;
}

// op_lookpath: a != 0, S1 is the program's path (it has a slash); else S1... are
// the candidates in PATH, in order.
static void op_lookpath(const struct op *o) {
	const char *pre = S(o, 0);
	if (o->a) {
		int e = check_exec(S(o, 1));
		if (e != 0)
			fail_kind(pre, NULL, e, 1, 0);
		snprintf(exe, sizeof exe, "%s", S(o, 1));
		return;
	}
	for (uint32_t i = 1; i < o->nstr; i++) {
		if (check_exec(S(o, i)) == 0) {
			snprintf(exe, sizeof exe, "%s", S(o, i));
			return;
		}
	}
	fail_kind(pre, "executable file not found in $PATH", 0, 0, 1);
}

// op_cwd makes a missing working directory (after pivot_root: in the root).
static void op_cwd(const struct op *o) {
	const char *pre = S(o, 0), *cwd = S(o, 1);
	struct stat st;
	if (stat(cwd, &st) == 0 || errno != ENOENT)
		return;
	char p[4096];
	size_t n = strlen(cwd);
	if (n >= sizeof p)
		fail_kind(pre, NULL, ENAMETOOLONG, 1, 0);
	memcpy(p, cwd, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			char d[4200];
			snprintf(d, sizeof d, "mkdir %s", p);
			fail_kind(pre, d, errno, 1, 0);
		}
		p[i] = c;
	}
}

static void op_fifo(const struct op *o) {
	char p[64];
	procfd(p, sizeof p, (int)o->a);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail("open exec fifo", NULL, errno);
	// blocks until `hullrt start` opens the other end
	if (write(fd, "0", 1) != 1)
		fail("write exec fifo", NULL, errno);
	fifo_w = fd;
	close((int)o->a);
}

static void op_seccomp(const struct op *o) {
	uint32_t n = L(o, 1);
	struct sock_fprog prog = {.len = (unsigned short)(n / sizeof(struct sock_filter)),
				  .filter = (struct sock_filter *)(uintptr_t)S(o, 1)};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)o->a, &prog);
	// the Go init's text (seccomp.Filter.Load's), errno and all
	if (r < 0 && errno == EACCES)
		fail(S(o, 0), "permission denied (needs no_new_privs or CAP_SYS_ADMIN)", 0);
	if (r < 0)
		fail(S(o, 0), NULL, errno);
}

static void op_setuser(const struct op *o) {
	uint32_t n = L(o, 3) / 4;
	gid_t groups[1024];
	if (n > 1024)
		fail(S(o, 0), NULL, EINVAL);
	memcpy(groups, S(o, 3), n * 4);
	if (setgroups(n, groups) != 0)
		fail(S(o, 0), NULL, errno);
	// raw calls: this thread's credentials alone (there is no other thread)
	if (syscall(SYS_setresgid, (gid_t)o->b, (gid_t)o->b, (gid_t)o->b) != 0)
		fail(S(o, 1), NULL, errno);
	if (syscall(SYS_setresuid, (uid_t)o->a, (uid_t)o->a, (uid_t)o->a) != 0)
		fail(S(o, 2), NULL, errno);
}

static void op_capset(const struct op *o) {
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(o->a >> (32 * i));
		data[i].permitted = (uint32_t)(o->b >> (32 * i));
		data[i].inheritable = (uint32_t)(o->c >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) != 0)
		fail("capset", NULL, errno);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
		fail("clear ambient capabilities", NULL, errno);
	for (int c = 0; c < 64; c++) {
		if (!(o->d & (1ULL << c)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)c, 0, 0) != 0) {
			char p[64];
			snprintf(p, sizeof p, "raise ambient capability %d", c);
			fail(p, NULL, errno);
		}
	}
}

static void op_bounding(const struct op *o) {
	for (int c = 0; c <= (int)o->b && c < 64; c++) {
		if (o->a & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) != 0 && errno != EINVAL) {
			char p[80];
			snprintf(p, sizeof p, "drop capability %d from the bounding set", c);
			fail(p, NULL, errno);
		}
	}
}

static void op_chdir(const struct op *o) {
	if (chdir(S(o, 1)) != 0)
		fail_kind(S(o, 0), NULL, errno, 1, 0);
	// the cwd must be inside the container (CVE-2024-21626)
	char wd[4096];
	if (syscall(SYS_getcwd, wd, sizeof wd) < 0 || wd[0] != '/')
		fail(S(o, 0), "outside the container", 0);
}

static void op_exec(const struct op *o) {
	static char *argv[MAX_STRS + 1], *envp[MAX_STRS + 1];
	uint32_t argc = (uint32_t)o->a, k = 0;
	for (uint32_t i = 0; i < argc; i++)
		argv[k++] = (char *)S(o, 1 + i);
	argv[k] = NULL;
	k = 0;
	for (uint32_t i = 1 + argc; i < o->nstr; i++)
		envp[k++] = (char *)S(o, i);
	envp[k] = NULL;
	execve(exe, argv, envp);
	fail_kind(S(o, 0), NULL, errno, 1, 0);
}

static void run(const struct op *o) {
	char path[64];
	switch (o->code) {
	case HULL_OP_UNSHARE:
		if (unshare((int)o->a) != 0)
			fail(S(o, 0), NULL, errno);
		break;
	case HULL_OP_WRITE: { // S1 a file of the host's /proc (sysctl), S2 the value
		int fd = open(S(o, 1), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fail(S(o, 0), NULL, errno);
		if (write(fd, S(o, 2), L(o, 2)) != (ssize_t)L(o, 2))
			fail(S(o, 0), NULL, errno);
		close(fd);
		break;
	}
	case HULL_OP_HOSTNAME:
		if ((o->a ? setdomainname(S(o, 1), L(o, 1)) : sethostname(S(o, 1), L(o, 1))) != 0)
			fail(S(o, 0), NULL, errno);
		break;
	case HULL_OP_MOUNT: // mount(S1, S2, NULL, a, NULL) of the host's paths
		if (mount(S(o, 1), S(o, 2), NULL, (unsigned long)o->a, NULL) != 0)
			fail(S(o, 0), NULL, errno);
		break;
	case HULL_OP_OPEN_ROOT:
		root_fd = open(S(o, 1), O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0)
			fail(S(o, 0), NULL, errno);
		break;
	case HULL_OP_OPEN_NULL: {
		null_fd = open("/dev/null", O_PATH | O_CLOEXEC);
		struct stat st;
		if (null_fd < 0)
			fail("open /dev/null", NULL, errno);
		if (fstat(null_fd, &st) != 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
			fail("/dev/null is not the null device", NULL, 0);
		break;
	}
	case HULL_OP_MOUNT_FS:
		op_mount_fs(o);
		break;
	case HULL_OP_SETATTR:
		op_setattr(o);
		break;
	case HULL_OP_BIND:
		op_bind(o);
		break;
	case HULL_OP_PROPAGATE:
		op_propagate(o);
		break;
	case HULL_OP_MKNOD:
		op_mknod(o);
		break;
	case HULL_OP_SYMLINK:
		op_symlink(o);
		break;
	case HULL_OP_MASK:
		op_mask(o);
		break;
	case HULL_OP_READONLY:
		op_readonly(o);
		break;
	case HULL_OP_PIVOT:
		op_pivot();
		break;
	case HULL_OP_ROOT_RDONLY:
		if (mount_setattr_(AT_FDCWD, "/", 0, MOUNT_ATTR_RDONLY, 0) != 0)
			fail("make / read-only", NULL, errno);
		break;
	case HULL_OP_LOOKPATH:
		op_lookpath(o);
		break;
	case HULL_OP_CWD:
		op_cwd(o);
		break;
	case HULL_OP_READY:
		if (send(sync_fd, "{\"type\":\"ready\"}", 16, MSG_NOSIGNAL) != 16)
			_exit(1); // the parent is gone, and says why itself
		close(sync_fd);
		sync_fd = -1;
		break;
	case HULL_OP_FIFO:
		op_fifo(o);
		break;
	case HULL_OP_RLIMIT: {
		struct rlimit r = {.rlim_cur = o->b, .rlim_max = o->c};
		if (setrlimit((int)o->a, &r) != 0)
			fail(S(o, 0), NULL, errno);
		break;
	}
	case HULL_OP_KEYRING:
		if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, S(o, 1)) < 0 && errno != ENOSYS)
			fail(S(o, 0), NULL, errno);
		break;
	case HULL_OP_CLOEXEC:
		// nothing but stdio and the preserved descriptors cross into the program
		if (syscall(SYS_close_range, (unsigned)o->a, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
			fail(S(o, 0), NULL, errno);
		break;
	case HULL_OP_PRCTL:
		if (prctl((int)o->a, (unsigned long)o->b, 0, 0, 0) != 0)
			fail(S(o, 0), NULL, errno);
		break;
	case HULL_OP_BOUNDING:
		op_bounding(o);
		break;
	case HULL_OP_SECCOMP:
		op_seccomp(o);
		break;
	case HULL_OP_SETUSER:
		op_setuser(o);
		break;
	case HULL_OP_CAPSET:
		op_capset(o);
		break;
	case HULL_OP_CHDIR:
		op_chdir(o);
		break;
	case HULL_OP_UMASK:
		umask((mode_t)o->a);
		break;
	case HULL_OP_EXEC:
		op_exec(o);
		break;
	default:
		snprintf(path, sizeof path, "unknown operation %u", o->code);
		fail(path, NULL, 0);
	}
}

// ---- parsing -------------------------------------------------------------

static int get32(size_t *off, size_t n, uint32_t *v) {
	if (n - *off < 4)
		return -1;
	memcpy(v, msg + *off, 4);
	*off += 4;
	return 0;
}

static int get64(size_t *off, size_t n, uint64_t *v) {
	if (n - *off < 8)
		return -1;
	memcpy(v, msg + *off, 8);
	*off += 8;
	return 0;
}

// parse checks the whole list (bounds, counts, codes) and copies its strings
// into the arena, NUL-terminated. Header: magic, version, count; each
// operation: code, nstr, a, b, c, d, then nstr strings as length and bytes.
static const char *parse(size_t n) {
	size_t off = 0;
	uint32_t magic, version, count;
	if (get32(&off, n, &magic) || get32(&off, n, &version) || get32(&off, n, &count))
		return "short header";
	if (magic != HULL_OPS_MAGIC)
		return "bad magic";
	if (version != HULL_OPS_VERSION)
		return "unknown version";
	if (count == 0 || count > MAX_OPS)
		return "bad count";
	for (uint32_t i = 0; i < count; i++) {
		struct op *o = &ops[i];
		uint32_t ns;
		if (get32(&off, n, &o->code) || get32(&off, n, &ns) || get64(&off, n, &o->a) || get64(&off, n, &o->b) ||
		    get64(&off, n, &o->c) || get64(&off, n, &o->d))
			return "short operation";
		if (o->code == 0 || o->code >= HULL_OP_MAX)
			return "unknown operation";
		if (ns > MAX_STRS - nstrs)
			return "too many strings";
		o->first = nstrs;
		o->nstr = ns;
		for (uint32_t j = 0; j < ns; j++) {
			uint32_t l;
			if (get32(&off, n, &l) || l > n - off)
				return "short string";
			if (l + 1 > sizeof arena - arena_used)
				return "strings too long";
			char *s = arena + arena_used;
			memcpy(s, msg + off, l);
			s[l] = '\0';
			// seccomp's program and the groups are binary; every other
			// string must not hide a NUL
			if (memchr(s, '\0', l) != NULL && o->code != HULL_OP_SECCOMP && o->code != HULL_OP_SETUSER)
				return "NUL in a string";
			arena_used += l + 1;
			strs[nstrs] = s;
			lens[nstrs] = l;
			nstrs++;
			off += l;
		}
		if (o->code == HULL_OP_EXEC && o->a >= ns)
			return "bad argument count";
		if (o->code == HULL_OP_SECCOMP && (ns < 2 || lens[o->first + 1] % sizeof(struct sock_filter) != 0 ||
						   lens[o->first + 1] == 0 || lens[o->first + 1] > 4096 * sizeof(struct sock_filter)))
			return "bad seccomp program";
		if (o->code == HULL_OP_SETUSER && (ns < 4 || lens[o->first + 3] % 4 != 0))
			return "bad groups";
		nops++;
	}
	if (off != n)
		return "trailing bytes";
	if (ops[count - 1].code != HULL_OP_EXEC)
		return "the list does not end in exec";
	return NULL;
}

void hull_cinit(const char *sync) {
	char *end;
	long fd = strtol(sync, &end, 10);
	if (end == sync || *end != '\0' || fd < 0 || fd > 1 << 20) {
		fprintf(stderr, "hullrt init: no sync channel\n");
		_exit(1);
	}
	sync_fd = (int)fd;
	ssize_t n;
	do
		n = recv(sync_fd, msg, sizeof msg, MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		_exit(1); // EOF: the parent gave up, and says why
	if ((size_t)n > sizeof msg)
		fail("read operations", "message too long", 0);
	const char *bad = parse((size_t)n);
	if (bad != NULL)
		fail("read operations", bad, 0);
	for (uint32_t i = 0; i < nops; i++)
		run(&ops[i]);
	_exit(1); // not reached: the last operation execs or fails
}
