// Package nsenter joins namespaces that a multi-threaded process cannot join.
//
// The kernel refuses setns(2) into a user namespace, and into a mount namespace, from a
// process that shares its filesystem context or has more than one thread (EINVAL), and
// a Go program has several threads before main runs. So the joins happen in a C
// constructor that runs before the Go runtime starts, in the freshly exec'd child. The
// parent names the namespaces in the environment variable _HULL_NSENTER as
// "fd,fd,...[;unshare=FLAGS][;fork]": each fd is an open namespace file inherited by the
// child, joined in the order given (user first); FLAGS are clone flags to unshare
// after the joins, for namespaces the container creates while joining a user
// namespace (they must be owned by that user namespace, so they are made after it).
//
// The constructor also makes the process non-dumpable when _HULL_NSENTER or _HULL_INIT
// is set: until it execs the container's program it runs hull's binary inside the
// container's namespaces, and /proc/PID/exe must not hand that binary to the container
// (CVE-2019-5736). execve resets dumpability for the container's program.
//
// A rootless runtime cannot write a new user namespace's id maps before the child
// execs (Go writes them itself only when it may, and never through newuidmap), so
// such a child is started with _HULL_USERMAP naming a pipe: the constructor waits
// for one byte on it, sent once the parent wrote the maps, and then becomes the
// namespace's root. It stays dumpable until then: the maps are written through
// /proc/PID, which a non-dumpable process gives to root, and nothing of the
// container runs yet that could make use of it (runc's nsexec does the same).
//
// ";fork" after the list makes the constructor fork once the namespaces are joined:
// a joined pid namespace takes only the children of the joining process. The
// intermediate sends {"type":"pid","pid":N} over the _HULL_INIT channel and exits;
// the grandchild goes on. A rootless exec needs it: only a process inside the
// container's user namespace may join its pid namespace.
//
// A new container's init also joins its v1 cgroups here, while it is one thread
// (_HULL_CGROUP, see cgroups.JoinFiles): a process that moves itself avoids a lock
// that costs milliseconds when the parent moves it.
//
// With _HULL_NSENTER_TRACE set (the parent traces: internal/trace) the constructor
// also notes when each of its steps started and how long it took, in a small array
// (the wall clock for the start, so that records of several processes sort
// together; the monotonic clock for the duration): no Go code runs yet to write a
// record. The Go side reads them with Steps once it runs and writes them into the
// trace (runtime's childTracer). Without it nothing is timed: the clock is read
// only for a trace.
//
// Importing this package for its side effect is all a program needs; errors are
// printed to stderr and end the process with exit code 1 before Go starts, since
// nothing after a failed join would be safe to run.
package nsenter

/*
#cgo CFLAGS: -Wall -Wextra -Werror -O2
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/nsfs.h>
#include "cinit.h"

// The constructor's steps, noted for a trace (see the package doc).
enum { HULL_STEP_CGROUP = 1, HULL_STEP_SETNS, HULL_STEP_UNSHARE, HULL_STEP_FORK };
struct hull_step {
	int op;
	long arg; // setns: the namespace's CLONE_NEW* type; unshare: its flags
	int err;  // errno, 0 when it succeeded
	long long real_ns, mono_start, mono_end;
};
#define HULL_MAX_STEPS 32
static struct hull_step hull_steps[HULL_MAX_STEPS];
static int hull_nsteps;
static int hull_tracing;

static long long hull_clock(clockid_t id) {
	struct timespec ts;
	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// step_begin returns the slot of a step that starts now, or NULL when not
// tracing (or out of slots).
static struct hull_step *step_begin(int op, long arg) {
	if (!hull_tracing || hull_nsteps == HULL_MAX_STEPS)
		return NULL;
	struct hull_step *s = &hull_steps[hull_nsteps++];
	s->op = op;
	s->arg = arg;
	s->real_ns = hull_clock(CLOCK_REALTIME);
	s->mono_start = hull_clock(CLOCK_MONOTONIC);
	return s;
}

static void step_end(struct hull_step *s, int failed) {
	if (s == NULL)
		return;
	s->mono_end = hull_clock(CLOCK_MONOTONIC);
	s->err = failed ? errno : 0;
}

static int hull_step_count(void) { return hull_nsteps; }
static struct hull_step hull_step_at(int i) { return hull_steps[i]; }

// wait_usermap blocks until the parent wrote the id maps (see the package doc).
static void wait_usermap(const char *v) {
	char c;
	ssize_t n;
	do
		n = read(atoi(v), &c, 1);
	while (n < 0 && errno == EINTR);
	// EOF: the parent gave up, and says why itself.
	if (n != 1)
		_exit(1);
	close(atoi(v));
	// The caller's ids are what the maps made of them, perhaps unmapped: become
	// the namespace's root, while the capabilities of the new namespace (kept
	// across execve as ambient ones) allow it.
	if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
		fprintf(stderr, "hullrt: nsenter: become root in the user namespace: %s\n", strerror(errno));
		_exit(1);
	}
}

// fork_joined forks so that the child is in the joined pid namespace; the
// intermediate names it to the parent and exits.
static void fork_joined(void) {
	const char *sync = getenv("_HULL_INIT");
	struct hull_step *fs = step_begin(HULL_STEP_FORK, 0);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "hullrt: nsenter: fork into the pid namespace: %s\n", strerror(errno));
		_exit(1);
	}
	if (pid == 0) {
		// the step is the parent's fork, noted in the copy of its memory
		step_end(fs, 0);
		return;
	}
	char msg[64];
	int n = snprintf(msg, sizeof msg, "{\"type\":\"pid\",\"pid\":%d}", (int)pid);
	if (sync == NULL || send(atoi(sync), msg, n, 0) != n) {
		kill(pid, SIGKILL);
		_exit(1);
	}
	_exit(0);
}

// run_ops hands over to the C init when the parent compiled init's work
// (_HULL_OPS, see cinit.c): it never returns then.
static void run_ops(void) {
	const char *sync = getenv("_HULL_INIT");
	if (getenv("_HULL_OPS") != NULL && sync != NULL)
		hull_cinit(sync);
}

__attribute__((constructor)) static void hull_nsenter(void) {
	const char *usermap = getenv("_HULL_USERMAP");
	if (usermap != NULL)
		wait_usermap(usermap);
	const char *spec = getenv("_HULL_NSENTER");
	if (spec == NULL && getenv("_HULL_INIT") == NULL)
		return;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "hullrt: nsenter: set non-dumpable: %s\n", strerror(errno));
		_exit(1);
	}
	// _HULL_CGROUP lists open "tasks" files of v1 cgroups to join. Writing "0" moves
	// the calling thread, which is the whole process while it is single-threaded,
	// and does so without the global lock that moving a process by pid takes (see
	// cgroups.JoinFiles). The descriptors were opened by the parent on the host, and
	// the kernel checks the opener's credentials, so the joins below do not matter.
	hull_tracing = getenv("_HULL_NSENTER_TRACE") != NULL;
	const char *cg = getenv("_HULL_CGROUP");
	for (const char *q = cg; q != NULL && *q;) {
		char *end;
		long fd = strtol(q, &end, 10);
		if (end == q || fd < 0 || (*end != ',' && *end != '\0')) {
			fprintf(stderr, "hullrt: nsenter: bad cgroup list %s\n", cg);
			_exit(1);
		}
		struct hull_step *st = step_begin(HULL_STEP_CGROUP, 0);
		int ok = write((int)fd, "0", 1) == 1;
		step_end(st, !ok);
		if (!ok) {
			fprintf(stderr, "hullrt: nsenter: join cgroup (fd %ld): %s\n", fd, strerror(errno));
			_exit(1);
		}
		close((int)fd);
		q = *end == ',' ? end + 1 : end;
	}
	if (spec == NULL || *spec == '\0') {
		run_ops();
		return;
	}
	const char *p = spec;
	while (*p && *p != ';') {
		char *end;
		long fd = strtol(p, &end, 10);
		if (end == p || fd < 0) {
			fprintf(stderr, "hullrt: nsenter: bad namespace list %s\n", spec);
			_exit(1);
		}
		int nstype = ioctl((int)fd, NS_GET_NSTYPE);
		int user = nstype == CLONE_NEWUSER;
		struct hull_step *st = step_begin(HULL_STEP_SETNS, nstype);
		int failed = setns((int)fd, 0) != 0;
		step_end(st, failed);
		if (failed) {
			fprintf(stderr, "hullrt: nsenter: join namespace (fd %ld): %s\n", fd, strerror(errno));
			_exit(1);
		}
		close((int)fd);
		// The host's uid 0 is not mapped in the joined user namespace: files made
		// with it fail (EOVERFLOW) and execve would drop every capability. Become
		// the namespace's root, as runc does.
		if (user && (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)) {
			fprintf(stderr, "hullrt: nsenter: become root in the user namespace: %s\n", strerror(errno));
			_exit(1);
		}
		p = end;
		if (*p == ',')
			p++;
	}
	if (strncmp(p, ";unshare=", 9) == 0) {
		char *end;
		long flags = strtol(p + 9, &end, 0);
		struct hull_step *st = flags != 0 ? step_begin(HULL_STEP_UNSHARE, flags) : NULL;
		int failed = flags != 0 && unshare((int)flags) != 0;
		step_end(st, failed);
		if (failed) {
			fprintf(stderr, "hullrt: nsenter: unshare %#lx: %s\n", flags, strerror(errno));
			_exit(1);
		}
		p = end;
	}
	if (strcmp(p, ";fork") == 0)
		fork_joined();
	run_ops();
}
*/
import "C"

import (
	"syscall"
	"time"
)

// TraceEnv names the variable that has the constructor time its steps (Steps).
const TraceEnv = "_HULL_NSENTER_TRACE"

// Step is one of the constructor's steps, timed when TraceEnv was set.
type Step struct {
	// Op is the call: "write" (a v1 cgroup's tasks file, joined), "setns",
	// "unshare", "fork" (into a joined pid namespace).
	Op string
	// Arg is the namespace's CLONE_NEW* type for setns, the flags for unshare.
	Arg   uint64
	Err   error // nil when it succeeded
	Start time.Time
	Dur   time.Duration
}

// Steps are the constructor's steps, in order; none unless TraceEnv was set.
// (A failed step ended the process before Go started: Err is always nil here
// unless that changes.)
func Steps() []Step {
	n := int(C.hull_step_count())
	out := make([]Step, 0, n)
	for i := range n {
		c := C.hull_step_at(C.int(i))
		s := Step{Op: stepOps[int(c.op)], Arg: uint64(c.arg), Start: time.Unix(0, int64(c.real_ns)),
			Dur: time.Duration(int64(c.mono_end - c.mono_start))}
		if c.err != 0 {
			s.Err = syscall.Errno(c.err)
		}
		out = append(out, s)
	}
	return out
}

var stepOps = map[int]string{C.HULL_STEP_CGROUP: "write", C.HULL_STEP_SETNS: "setns", C.HULL_STEP_UNSHARE: "unshare", C.HULL_STEP_FORK: "fork"}

// Env is the name of the variable the constructor reads.
const Env = "_HULL_NSENTER"

// CgroupEnv names the variable that lists the v1 cgroup "tasks" files the
// constructor joins, as "fd,fd,...".
const CgroupEnv = "_HULL_CGROUP"

// UsermapEnv names the pipe a child in a new user namespace waits on until its
// id maps are written.
const UsermapEnv = "_HULL_USERMAP"

// InitEnv marks a process that runs hull's init stage: it is made non-dumpable before
// any Go code runs.
const InitEnv = "_HULL_INIT"

// OpsEnv marks an init whose work the parent compiled into a list of operations,
// which the constructor runs and ends with execve, before Go starts (cinit.c).
const OpsEnv = "_HULL_OPS"

// The wire format's numbers, for runtime's compiler (cinit.go).
const (
	OpsMagic   = C.HULL_OPS_MAGIC
	OpsVersion = C.HULL_OPS_VERSION
	OpMax      = C.HULL_OP_MAX
)
