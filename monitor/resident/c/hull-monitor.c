/*
 * hull-monitor: the resident form of a container's monitor (see resident.go for
 * the contract). The engine's monitor execs it in its own place once the
 * container runs and nobody is attached; it logs the container's output, reaps
 * its init and every orphan, and execs the engine's monitor back when the
 * container ends (reason "exited") or a client attaches (reason "attach").
 *
 * C, not Go: a Go program waiting in Go's poller keeps ~440 KiB PSS whatever it
 * does, more than conmon's whole ~364 KiB (docs/benchmarks.md, "Idle monitor
 * memory"); this keeps a few pages. It allocates nothing: every buffer is
 * static, bounded by the 16 KiB a log entry holds (logs.MaxLine) or by the
 * kernel's limit on one environment string (the Handover), and its pages are
 * touched only as far as they are used.
 *
 * The container controls what it writes: the logging code never grows
 * anything with it. The Handover comes from hull itself, and is parsed strictly
 * anyway: anything ParseHandover would not read, or that is out of range here,
 * ends the program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h> /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ENVNAME "HULL_MONITOR_STATE"
#define MAXLINE 16384	   /* logs.MaxLine */
#define PAGE 4096
#define MAXSTATE 131072	   /* MAX_ARG_STRLEN: the longest string execve passes */
#define MAXPATH 4096
#define DRAIN_MS 2000	   /* resident.DrainTimeout */
/* An entry: each byte of the log escapes to at most 6 ("\u00XX", "\ufffd"). */
#define MAXENTRY (MAXLINE * 6 + 128)

extern char **environ;

/* ---- failing ---- */

static void put(char *b, size_t *n, size_t cap, const char *s)
{
	size_t l = strlen(s);
	if (l > cap - *n)
		l = cap - *n;
	memcpy(b + *n, s, l);
	*n += l;
}

/* fail prints "hull-monitor: what[: errno's text]" and exits with code. */
static void __attribute__((noreturn)) fail(int code, const char *what, int err)
{
	char b[1024];
	size_t n = 0;
	put(b, &n, sizeof b - 1, "hull-monitor: ");
	put(b, &n, sizeof b - 1, what);
	if (err) {
		size_t at;
		put(b, &n, sizeof b - 1, ": ");
		at = n;
		put(b, &n, sizeof b - 1, strerror(err));
		if (n > at && b[at] >= 'A' && b[at] <= 'Z')
			b[at] += 'a' - 'A'; /* Go's lower-case errno texts */
	}
	b[n++] = '\n';
	if (write(2, b, n) < 0) {
		/* nowhere else to say it */
	}
	_exit(code);
}

/* ---- UTF-8, as Go's unicode/utf8 ---- */

/* utf8len is the length of the valid UTF-8 sequence at p (as utf8.DecodeRune
 * reads one), 0 if there is none (the byte is RuneError's). */
static size_t utf8len(const unsigned char *p, size_t n, uint32_t *r)
{
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		if (n < 2 || p[1] < 0x80 || p[1] > 0xbf)
			return 0;
		*r = (c & 0x1f) << 6 | (p[1] & 0x3f);
		return 2;
	}
	if (c < 0xf0) {
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
		if (n < 3 || p[1] < lo || p[1] > hi || p[2] < 0x80 || p[2] > 0xbf)
			return 0;
		*r = (c & 0x0f) << 12 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f);
		return 3;
	}
	if (c == 0xf0)
		lo = 0x90;
	if (c == 0xf4)
		hi = 0x8f;
	if (n < 4 || p[1] < lo || p[1] > hi || p[2] < 0x80 || p[2] > 0xbf || p[3] < 0x80 || p[3] > 0xbf)
		return 0;
	*r = (c & 0x07) << 18 | (p[1] & 0x3f) << 12 | (p[2] & 0x3f) << 6 | (p[3] & 0x3f);
	return 4;
}

static size_t utf8put(char *b, uint32_t r)
{
	if (r < 0x80) {
		b[0] = r;
		return 1;
	}
	if (r < 0x800) {
		b[0] = 0xc0 | r >> 6;
		b[1] = 0x80 | (r & 0x3f);
		return 2;
	}
	if (r < 0x10000) {
		b[0] = 0xe0 | r >> 12;
		b[1] = 0x80 | (r >> 6 & 0x3f);
		b[2] = 0x80 | (r & 0x3f);
		return 3;
	}
	b[0] = 0xf0 | r >> 18;
	b[1] = 0x80 | (r >> 12 & 0x3f);
	b[2] = 0x80 | (r >> 6 & 0x3f);
	b[3] = 0x80 | (r & 0x3f);
	return 4;
}

/* ---- Go string literals (strconv.Quote, Unquote) ---- */

typedef void sink_fn(void *ctx, const char *p, size_t n);

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* unquote decodes the Go double-quoted string literal q[0:n] (what
 * strconv.Unquote reads) to sink, or only checks it when sink is NULL. It
 * returns -1 if q is not one. Stricter than Unquote in one way: no raw control
 * characters and no invalid UTF-8, which strconv.Quote never writes. */
static int unquote(const char *q, size_t n, sink_fn *sink, void *ctx)
{
	const unsigned char *p = (const unsigned char *)q + 1, *end = (const unsigned char *)q + n - 1;
	if (n < 2 || q[0] != '"' || q[n - 1] != '"')
		return -1;
	while (p < end) {
		const unsigned char *run = p;
		char b[4];
		uint32_t r = 0;
		size_t k;
		int i, digits, base, rune = 0;
		while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
			p++;
		if (p > run) {
			if (sink)
				sink(ctx, (const char *)run, p - run);
			continue;
		}
		if (*p >= 0x80) {
			if (!(k = utf8len(p, end - p, &r)))
				return -1;
			if (sink)
				sink(ctx, (const char *)p, k);
			p += k;
			continue;
		}
		if (*p != '\\' || ++p >= end)
			return -1; /* a raw quote, control character, or a lone backslash */
		switch (*p++) {
		case 'a': b[0] = '\a'; break;
		case 'b': b[0] = '\b'; break;
		case 'f': b[0] = '\f'; break;
		case 'n': b[0] = '\n'; break;
		case 'r': b[0] = '\r'; break;
		case 't': b[0] = '\t'; break;
		case 'v': b[0] = '\v'; break;
		case '\\': b[0] = '\\'; break;
		case '"': b[0] = '"'; break;
		case 'x': digits = 2; base = 16; goto number;
		case 'u': digits = 4; base = 16; rune = 1; goto number;
		case 'U': digits = 8; base = 16; rune = 1; goto number;
		case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
			p--;
			digits = 3;
			base = 8;
		number:
			if (end - p < digits)
				return -1;
			for (i = 0; i < digits; i++) {
				int v = hexval(p[i]);
				if (v < 0 || v >= base)
					return -1;
				r = r * base + v;
			}
			p += digits;
			if (rune) {
				if (r > 0x10ffff || (r >= 0xd800 && r < 0xe000))
					return -1;
				if (sink)
					sink(ctx, b, utf8put(b, r));
				continue;
			}
			if (r > 255)
				return -1;
			b[0] = r;
			break;
		default:
			return -1;
		}
		if (sink)
			sink(ctx, b, 1);
	}
	return 0;
}

/* A bounded byte buffer. */
struct buf {
	char *b;
	size_t n, cap;
	int over;
};

static void bput(struct buf *b, const char *p, size_t n)
{
	if (n > b->cap - b->n) {
		b->over = 1;
		return;
	}
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void bstr(struct buf *b, const char *s) { bput(b, s, strlen(s)); }

static void bint(struct buf *b, long long v)
{
	char d[24];
	int i = sizeof d;
	unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
	do
		d[--i] = '0' + u % 10;
	while (u /= 10);
	if (v < 0)
		d[--i] = '-';
	bput(b, d + i, sizeof d - i);
}

/* bquote appends p as a Go string literal that strconv.Unquote reads back to
 * the same bytes: valid UTF-8 as it is, other bytes escaped. */
static void bquote(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t r;
	bput(b, "\"", 1);
	while (i < n) {
		unsigned c = p[i];
		char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			k = i;
			while (k < n && p[k] >= 0x20 && p[k] < 0x7f && p[k] != '"' && p[k] != '\\')
				k++;
			bput(b, s + i, k - i);
			i = k;
			continue;
		}
		if (c >= 0x80 && (k = utf8len(p + i, n - i, &r))) {
			bput(b, s + i, k);
			i += k;
			continue;
		}
		if (c == '"' || c == '\\') {
			e[1] = c;
			bput(b, e, 2);
		} else if (c == '\n') {
			bput(b, "\\n", 2);
		} else {
			bput(b, e, 4);
		}
		i++;
	}
	bput(b, "\"", 1);
}

/* ---- the log: logs.Writer ---- */

static char logpath[MAXPATH];
static int logfd = -1;
static long long logsize, maxsize;
static long long maxfile = 1;
/* The entry being written. Page-aligned: a long entry's pages beyond the first
 * are given back after it (logs.Writer drops a big buffer too). */
static char entry[MAXENTRY] __attribute__((aligned(PAGE)));

/* jsonstr appends s as a JSON string escaped as logs.appendString escapes it:
 * HTML-safe, U+2028 and U+2029 escaped, each invalid UTF-8 byte as U+FFFD. */
static size_t jsonstr(char *b, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i = 0, k;
	uint32_t r;
	b[o++] = '"';
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				b[o++] = c;
			} else if (c == '"' || c == '\\') {
				b[o++] = '\\';
				b[o++] = c;
			} else if (c == '\n' || c == '\r' || c == '\t') {
				b[o++] = '\\';
				b[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			} else {
				memcpy(b + o, "\\u00", 4);
				b[o + 4] = hex[c >> 4];
				b[o + 5] = hex[c & 15];
				o += 6;
			}
			i++;
			continue;
		}
		if (!(k = utf8len(s + i, n - i, &r))) {
			memcpy(b + o, "\\ufffd", 6);
			o += 6;
			i++;
			continue;
		}
		if (r == 0x2028 || r == 0x2029) {
			memcpy(b + o, "\\u202", 5);
			b[o + 5] = hex[r & 15];
			o += 6;
		} else {
			memcpy(b + o, s + i, k);
			o += k;
		}
		i += k;
	}
	b[o++] = '"';
	return o;
}

static char *digits(char *b, unsigned long long v, int width)
{
	char d[24];
	int i = sizeof d;
	do
		d[--i] = '0' + v % 10;
	while ((v /= 10) || (int)sizeof d - i < width);
	memcpy(b, d + i, sizeof d - i);
	return b + sizeof d - i;
}

/* rfc3339nano writes t (UTC) as Go's time.RFC3339Nano writes it: trailing zeros
 * of the fraction trimmed, no fraction at all for a whole second. */
static size_t rfc3339nano(char *b, const struct timespec *t)
{
	long long days = t->tv_sec / 86400, secs = t->tv_sec % 86400;
	long long z, era, doe, yoe, y, doy, mp, d, m;
	char *o = b;
	int w;
	long ns = t->tv_nsec;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	/* civil_from_days (H. Hinnant) */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	o = digits(o, y < 0 ? 0 : y, 4);
	*o++ = '-';
	o = digits(o, m, 2);
	*o++ = '-';
	o = digits(o, d, 2);
	*o++ = 'T';
	o = digits(o, secs / 3600, 2);
	*o++ = ':';
	o = digits(o, secs / 60 % 60, 2);
	*o++ = ':';
	o = digits(o, secs % 60, 2);
	if (ns > 0) {
		w = 9;
		while (ns % 10 == 0) {
			ns /= 10;
			w--;
		}
		*o++ = '.';
		o = digits(o, ns, w);
	}
	*o++ = 'Z';
	return o - b;
}

static int logopen(void)
{
	return open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* suffixed is logpath.i, in b. */
static const char *suffixed(char *b, long long i)
{
	size_t n = strlen(logpath);
	memcpy(b, logpath, n);
	b[n] = '.';
	*digits(b + n + 1, i, 1) = 0;
	return b;
}

/* logrotate is logs.Writer.rotate: name.N-2 to name.N-1 ... name to name.1 and
 * name afresh; with max-file 1 the file is truncated instead. On failure the
 * log is closed for good, as the Writer's is. */
static int logrotate(void)
{
	char a[MAXPATH + 24], b[MAXPATH + 24];
	long long i;
	if (maxfile == 1) {
		if (ftruncate(logfd, 0) < 0)
			return -1;
		logsize = 0;
		return 0;
	}
	close(logfd);
	logfd = -1;
	unlink(suffixed(a, maxfile - 1));
	for (i = maxfile - 2; i >= 1; i--)
		rename(suffixed(a, i), suffixed(b, i + 1));
	if (rename(logpath, suffixed(a, 1)) < 0)
		return -1;
	if ((logfd = logopen()) < 0)
		return -1;
	logsize = 0;
	return 0;
}

/* logentry appends one entry, with a single write(2) to the O_APPEND file so
 * that readers see whole lines. A failure drops the entry, as the resident
 * always did (nobody to tell). */
static void logentry(const char *stream, const char *p, size_t n)
{
	struct timespec t;
	size_t len = 0, done = 0;
	if (logfd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &t);
	memcpy(entry, "{\"log\":", 7);
	len = 7;
	len += jsonstr(entry + len, (const unsigned char *)p, n);
	memcpy(entry + len, ",\"stream\":\"", 11);
	len += 11;
	memcpy(entry + len, stream, 6);
	len += 6;
	memcpy(entry + len, "\",\"time\":\"", 10);
	len += 10;
	len += rfc3339nano(entry + len, &t);
	memcpy(entry + len, "\"}\n", 3);
	len += 3;
	if (maxsize > 0 && logsize > 0 && logsize + (long long)len > maxsize && logrotate() < 0)
		goto out;
	while (done < len) {
		ssize_t w = write(logfd, entry + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += w;
	}
	logsize += done;
out:
	if (len > PAGE)
		madvise(entry + PAGE, sizeof entry - PAGE, MADV_DONTNEED);
}

/* ---- the container's output: logs.Writer.CopyFrom ---- */

struct stream {
	const char *name;
	int fd;
	int reading;
	const char *pending; /* the Handover's, quoted */
	size_t pendlen;
	size_t len, hi; /* buffered bytes; the most ever */
	char *buf;	/* a line's start, MAXLINE bytes */
};

static char outbuf[MAXLINE] __attribute__((aligned(PAGE)));
static char errbuf[MAXLINE] __attribute__((aligned(PAGE)));
static struct stream streams[2] = {
	{.name = "stdout", .fd = -1, .buf = outbuf},
	{.name = "stderr", .fd = -1, .buf = errbuf},
};

/* lines logs s's buffered whole lines, and its line so far if it fills the
 * buffer (MaxLine), as bufio.Reader.ReadSlice splits them. */
static void lines(struct stream *s)
{
	size_t start = 0;
	char *nl;
	while ((nl = memchr(s->buf + start, '\n', s->len - start))) {
		size_t end = nl - s->buf + 1;
		logentry(s->name, s->buf + start, end - start);
		start = end;
	}
	if (s->len - start == MAXLINE) {
		logentry(s->name, s->buf, MAXLINE);
		start = MAXLINE;
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
	if (s->hi > PAGE && s->len <= PAGE) {
		/* a long line's pages back: an idle container keeps one a stream */
		madvise(s->buf + PAGE, MAXLINE - PAGE, MADV_DONTNEED);
		s->hi = s->len;
	}
}

static void feed(void *ctx, const char *p, size_t n)
{
	struct stream *s = ctx;
	while (n > 0) {
		size_t k = MAXLINE - s->len;
		if (k > n)
			k = n;
		memcpy(s->buf + s->len, p, k);
		s->len += k;
		if (s->len > s->hi)
			s->hi = s->len;
		p += k;
		n -= k;
		lines(s);
	}
}

/* finish logs what s holds, as CopyFrom does at the end of its input. */
static void finish(struct stream *s)
{
	if (s->len > 0)
		logentry(s->name, s->buf, s->len);
	s->len = 0;
	s->reading = 0;
}

/* pump reads s once (it polled readable) and logs it. At the end of the
 * output (EIO from a pty whose other side closed is its end) or on an error,
 * it logs the line so far and stops reading. */
static void pump(struct stream *s, int ep)
{
	/* Reads stop at the first page while the line is short: the others are
	 * touched only by a long line. */
	size_t room = MAXLINE - s->len;
	ssize_t n;
	if (s->len < PAGE && room > PAGE - s->len)
		room = PAGE - s->len;
	n = read(s->fd, s->buf + s->len, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		finish(s);
		epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
		return;
	}
	s->len += n;
	if (s->len > s->hi)
		s->hi = s->len;
	lines(s);
}

/* ---- the Handover ---- */

static const char *state; /* its text, as it came */
static size_t statelen;
static long long pid;
static long long listener = -1;

static int eq(const char *a, size_t n, const char *b) { return strlen(b) == n && !memcmp(a, b, n); }

/* nextline splits the state's next line at *pos into name and value. */
static int nextline(size_t *pos, const char **line, size_t *len, size_t *nlen, const char **v, size_t *vlen)
{
	const char *p = state + *pos, *nl, *sp;
	if (*pos >= statelen)
		return 0;
	nl = memchr(p, '\n', statelen - *pos);
	*line = p;
	*len = nl ? (size_t)(nl - p) : statelen - *pos;
	*pos += *len + 1;
	sp = memchr(p, ' ', *len);
	*nlen = sp ? (size_t)(sp - p) : *len;
	*v = sp ? sp + 1 : p + *len;
	*vlen = sp ? *len - *nlen - 1 : 0;
	return nl ? 1 : -1;
}

/* number is strconv.ParseInt(v, 10, 64). */
static int number(const char *v, size_t n, long long *out)
{
	unsigned long long u = 0, lim = (unsigned long long)INT64_MAX;
	size_t i = 0;
	int neg = 0;
	if (n > 0 && (v[0] == '+' || v[0] == '-')) {
		neg = v[0] == '-';
		i++;
	}
	if (i == n)
		return -1;
	if (neg)
		lim++;
	for (; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (u > (lim - (v[i] - '0')) / 10)
			return -1;
		u = u * 10 + (v[i] - '0');
	}
	*out = neg ? (long long)(0 - u) : (long long)u;
	return 0;
}

/* size is logs.ParseSize: 512, 10k, 10kb, 64m, 1g (binary units). */
static int size(const char *s, long long *out)
{
	char num[64];
	size_t n = 0, i;
	long long mult = 1;
	char *end;
	double f, v;
	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	for (i = 0; s[i]; i++) {
		if (n == sizeof num - 1)
			return -1;
		num[n++] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 'a' - 'A' : s[i];
	}
	while (n > 0 && (num[n - 1] == ' ' || (num[n - 1] >= '\t' && num[n - 1] <= '\r')))
		n--;
	if (n > 2 && num[n - 1] == 'b' && strchr("kmg", num[n - 2]))
		n--;
	if (n > 0 && num[n - 1] == 'k')
		mult = 1 << 10;
	else if (n > 0 && num[n - 1] == 'm')
		mult = 1 << 20;
	else if (n > 0 && num[n - 1] == 'g')
		mult = 1 << 30;
	while (n > 0 && strchr("kmgb", num[n - 1]))
		n--;
	num[n] = 0;
	/* strconv.ParseFloat: decimal digits, a point, an exponent */
	if (n == 0 || strspn(num, "0123456789.eE+-") != n)
		return -1;
	errno = 0;
	f = strtod(num, &end);
	if (*end || errno || f < 0)
		return -1;
	v = f * (double)mult;
	if (v >= 9.2e18)
		return -1;
	*out = (long long)v;
	return 0;
}

/* logopt is one of logs.ParseOptions's options: max-size and max-file. */
static void logopt(const char *kv)
{
	const char *v = strchr(kv, '=');
	long long n;
	if (!v)
		fail(2, "monitor state: a log option without a value", 0);
	v++;
	if (!strncmp(kv, "max-size=", 9)) {
		if (size(v, &n) < 0 || n <= 0)
			fail(2, "monitor state: log option max-size: want a positive size like 10m", 0);
		maxsize = n;
	} else if (!strncmp(kv, "max-file=", 9)) {
		if (number(v, strlen(v), &n) < 0 || n < 1)
			fail(2, "monitor state: log option max-file: want a positive number", 0);
		maxfile = n;
	} else {
		fail(2, "monitor state: unknown log option", 0);
	}
}

/* A decoded string to a fixed buffer, without NUL bytes. */
struct cstr {
	char *b;
	size_t n, cap;
	int bad;
};

static void csink(void *ctx, const char *p, size_t n)
{
	struct cstr *c = ctx;
	if (memchr(p, 0, n) || n >= c->cap - c->n) {
		c->bad = 1;
		return;
	}
	memcpy(c->b + c->n, p, n);
	c->n += n;
	c->b[c->n] = 0;
}

/* cnext decodes the quoted v as a further string of a, after the last one's
 * NUL, and returns where it starts (a->bad when it does not fit). */
static char *cnext(struct cstr *a, const char *v, size_t vlen)
{
	char *start;
	if (a->n + 1 >= a->cap)
		a->bad = 1;
	else
		a->n++;
	start = a->b + a->n;
	*start = 0;
	unquote(v, vlen, csink, a);
	return start;
}

static void __attribute__((noreturn)) badline(int line, const char *name, size_t nlen, const char *what)
{
	char m[512];
	struct buf b = {m, 0, sizeof m - 1, 0};
	bstr(&b, "monitor state: line ");
	bint(&b, line);
	bstr(&b, ": ");
	if (name) {
		bquote(&b, name, nlen > 64 ? 64 : nlen);
		bstr(&b, ": ");
	}
	bstr(&b, what);
	m[b.n] = 0;
	fail(2, m, 0);
}

/* fdnum is a descriptor the state names: -1 (none) or an open one's number. */
static int fdnum(long long v) { return v >= -1 && v <= INT32_MAX; }

/* load reads the state (ParseHandover), and makes the descriptors it names
 * close-on-exec: ours now, nothing we start inherits them. */
static void load(void)
{
	size_t pos = 0, len, nlen, vlen;
	const char *line, *name, *v;
	int n = 0, r;
	long long i;
	if (statelen > 0 && state[0] == '{')
		fail(2, "monitor state: state in the JSON form of an older hull, which this program does not read", 0);
	while ((r = nextline(&pos, &line, &len, &nlen, &v, &vlen))) {
		name = line;
		n++;
		if (r < 0)
			badline(n, NULL, 0, "no newline at the end");
		if (eq(name, nlen, "exe") || eq(name, nlen, "arg") || eq(name, nlen, "id") ||
		    eq(name, nlen, "env") || eq(name, nlen, "engine") || eq(name, nlen, "reason")) {
			if (unquote(v, vlen, NULL, NULL) < 0)
				badline(n, name, nlen, "want a quoted string");
		} else if (eq(name, nlen, "logPath")) {
			struct cstr c = {logpath, 0, sizeof logpath - 24, 0};
			logpath[0] = 0;
			if (unquote(v, vlen, csink, &c) < 0)
				badline(n, name, nlen, "want a quoted string");
			if (c.bad)
				badline(n, name, nlen, "too long, or a NUL byte in it");
		} else if (eq(name, nlen, "logOpt")) {
			char o[256];
			struct cstr c = {o, 0, sizeof o, 0};
			o[0] = 0;
			if (unquote(v, vlen, csink, &c) < 0)
				badline(n, name, nlen, "want a quoted string");
			if (c.bad)
				badline(n, name, nlen, "too long, or a NUL byte in it");
			logopt(o);
		} else if (eq(name, nlen, "pending")) {
			const char *q = memchr(v, ' ', vlen);
			size_t slen = q ? (size_t)(q - v) : vlen;
			struct stream *s = eq(v, slen, "stdout") ? &streams[0] : eq(v, slen, "stderr") ? &streams[1] : NULL;
			if (!s)
				badline(n, NULL, 0, "pending: unknown stream");
			if (!q || q + 1 == v + vlen)
				badline(n, NULL, 0, "pending: want a stream and a quoted string");
			if (unquote(q + 1, v + vlen - q - 1, NULL, NULL) < 0)
				badline(n, name, nlen, "want a quoted string");
			s->pending = q + 1;
			s->pendlen = v + vlen - q - 1;
		} else if (eq(name, nlen, "pid") || eq(name, nlen, "out") || eq(name, nlen, "err") ||
			   eq(name, nlen, "listener") || eq(name, nlen, "keep") || eq(name, nlen, "client") ||
			   eq(name, nlen, "code") || eq(name, nlen, "at")) {
			if (number(v, vlen, &i) < 0)
				badline(n, name, nlen, "want a number");
			if (eq(name, nlen, "pid")) {
				if (i <= 0 || i > INT32_MAX)
					badline(n, name, nlen, "not a process");
				pid = i;
			} else if (eq(name, nlen, "code") || eq(name, nlen, "at")) {
				/* passed on */
			} else if (!fdnum(i)) {
				badline(n, name, nlen, "not a descriptor");
			} else if (eq(name, nlen, "out")) {
				streams[0].fd = i;
			} else if (eq(name, nlen, "err")) {
				streams[1].fd = i;
			} else if (eq(name, nlen, "listener")) {
				listener = i;
			}
		} else {
			badline(n, name, nlen, "unknown field");
		}
	}
	if (!pid)
		fail(2, "monitor state: no pid", 0);
	pos = 0;
	while (nextline(&pos, &line, &len, &nlen, &v, &vlen) > 0) {
		if ((eq(line, nlen, "keep") || eq(line, nlen, "client")) && number(v, vlen, &i) == 0 && i >= 0)
			fcntl(i, F_SETFD, FD_CLOEXEC);
	}
	for (r = 0; r < 2; r++)
		if (streams[r].fd >= 0)
			fcntl(streams[r].fd, F_SETFD, FD_CLOEXEC);
	if (listener >= 0)
		fcntl(listener, F_SETFD, FD_CLOEXEC);
}

/* ---- waking the engine's monitor: resident.Exec ---- */

enum { EXITED, ATTACH };

/* Only touched on the way out. */
static char newstate[MAXSTATE];
static char arena[MAXSTATE];
static char *vec[MAXSTATE / 4];

/* cloexec sets (or clears) close-on-exec on every descriptor the new state
 * names. */
static int cloexec(int on, int client)
{
	size_t pos = 0, len, nlen, vlen;
	const char *line, *v;
	long long i;
	int k, fl = on ? FD_CLOEXEC : 0;
	for (k = 0; k < 2; k++)
		if (streams[k].fd >= 0 && fcntl(streams[k].fd, F_SETFD, fl) < 0)
			return -1;
	if (listener >= 0 && fcntl(listener, F_SETFD, fl) < 0)
		return -1;
	if (client >= 0 && fcntl(client, F_SETFD, fl) < 0)
		return -1;
	while (nextline(&pos, &line, &len, &nlen, &v, &vlen) > 0) {
		if ((eq(line, nlen, "keep") || (client < 0 && eq(line, nlen, "client"))) &&
		    number(v, vlen, &i) == 0 && i >= 0 && fcntl(i, F_SETFD, fl) < 0)
			return -1;
	}
	return 0;
}

/* wake execs the engine's monitor with the state: the lines this program
 * does not change as they came, then the ones it does. */
static void __attribute__((noreturn)) wake(int reason, int code, long long at, int client)
{
	struct buf b = {newstate, 0, sizeof newstate - 1, 0};
	struct cstr a = {arena, 0, sizeof arena, 0};
	size_t pos = 0, len, nlen, vlen, nv = 0, nenv, k;
	const char *line, *v, *exe = NULL;
	char **argv, **envp, **e;
	int err;
	bstr(&b, ENVNAME "=");
	while (nextline(&pos, &line, &len, &nlen, &v, &vlen) > 0) {
		if (eq(line, nlen, "out") || eq(line, nlen, "err") || eq(line, nlen, "pending") ||
		    eq(line, nlen, "reason") || (reason == ATTACH && eq(line, nlen, "client")) ||
		    (reason == EXITED && (eq(line, nlen, "code") || eq(line, nlen, "at"))))
			continue;
		bput(&b, line, len + 1);
	}
	bstr(&b, "out ");
	bint(&b, streams[0].fd);
	bstr(&b, "\nerr ");
	bint(&b, streams[1].fd);
	bstr(&b, "\n");
	if (reason == ATTACH) {
		bstr(&b, "client ");
		bint(&b, client);
		bstr(&b, "\n");
		for (k = 0; k < 2; k++) {
			if (streams[k].len == 0)
				continue;
			bstr(&b, "pending ");
			bstr(&b, streams[k].name);
			bstr(&b, " ");
			bquote(&b, streams[k].buf, streams[k].len);
			bstr(&b, "\n");
		}
		bstr(&b, "reason \"attach\"\n");
	} else {
		bstr(&b, "reason \"exited\"\ncode ");
		bint(&b, code);
		bstr(&b, "\nat ");
		bint(&b, at);
		bstr(&b, "\n");
	}
	if (b.over)
		fail(1, "wake the monitor: state too large", E2BIG);
	newstate[b.n] = 0;

	/* argv: the args; envp: the state and the env entries (this process's
	 * environment if there are none) */
	argv = vec;
	pos = 0;
	while (nextline(&pos, &line, &len, &nlen, &v, &vlen) > 0) {
		int isexe = eq(line, nlen, "exe");
		if (!isexe && !eq(line, nlen, "arg"))
			continue;
		if (nv + 2 >= sizeof vec / sizeof vec[0])
			fail(1, "wake the monitor: too many arguments", 0);
		if (isexe)
			exe = cnext(&a, v, vlen);
		else
			vec[nv++] = cnext(&a, v, vlen);
	}
	vec[nv++] = NULL;
	envp = vec + nv;
	vec[nv++] = newstate;
	nenv = nv;
	pos = 0;
	while (nextline(&pos, &line, &len, &nlen, &v, &vlen) > 0) {
		if (!eq(line, nlen, "env"))
			continue;
		if (nv + 1 >= sizeof vec / sizeof vec[0])
			fail(1, "wake the monitor: too many environment variables", 0);
		vec[nv] = cnext(&a, v, vlen);
		if (strncmp(vec[nv], ENVNAME "=", sizeof ENVNAME)) /* a stale state is not passed */
			nv++;
	}
	if (nv == nenv) {
		for (e = environ; e && *e; e++) {
			if (!strncmp(*e, ENVNAME "=", sizeof ENVNAME))
				continue;
			if (nv + 1 >= sizeof vec / sizeof vec[0])
				fail(1, "wake the monitor: too many environment variables", 0);
			vec[nv++] = *e;
		}
	}
	vec[nv] = NULL;
	if (a.bad || !exe)
		fail(1, "wake the monitor: no command, or a NUL byte in it", 0);
	if (cloexec(0, client) < 0)
		fail(1, "wake the monitor: hand over a descriptor", errno);
	execve(exe, argv, envp);
	err = errno;
	cloexec(1, client);
	fail(1, "wake the monitor", err);
}

/* ---- the resident ---- */

static long long monotonic_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* reap collects pid, which has exited, and every other child that has (the
 * container's processes that outlived its init are re-parented here as they
 * die). It returns pid's exit code (128+signal when killed), -1 if it was not
 * this process's to collect. */
static int reap(void)
{
	int ws, code = -1;
	pid_t got;
	while ((got = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
		;
	if (got == pid)
		code = WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	while ((got = waitpid(-1, &ws, WNOHANG)) > 0 || (got < 0 && errno == EINTR))
		;
	return code;
}

static void watch(int ep, int fd, const char *what)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		char m[64] = "watch ";
		strcat(m, what);
		fail(1, m, errno);
	}
}

int main(void)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	struct epoll_event ev[4];
	struct timespec now;
	int ep, pidfd, k, n, i, code;
	long long at, deadline;
	char *s = getenv(ENVNAME);

	/* SIGUSR1, the engine's "read your record again", means nothing while
	 * the container runs (the Go resident ignored it too); it stays ignored
	 * across the exec back until the engine's monitor installs its handler. */
	sigaction(SIGUSR1, &ign, NULL);
	if (!s)
		fail(2, "no monitor state in $" ENVNAME, 0);
	state = s;
	statelen = strlen(s);
	unsetenv(ENVNAME); /* the string stays where it is: only the pointer goes */
	load();

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		fail(1, "become the subreaper", errno);
	/* init's pidfd polls readable when it exits: no signal handling */
	if ((pidfd = syscall(SYS_pidfd_open, (pid_t)pid, 0)) < 0)
		fail(1, "watch the container's init", errno);
	if (logpath[0] == 0)
		fail(2, "monitor state: no logPath", 0);
	if ((logfd = logopen()) < 0)
		fail(1, "open log", errno);
	{
		struct stat st;
		if (fstat(logfd, &st) < 0)
			fail(1, "open log", errno);
		logsize = st.st_size;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fail(1, "epoll", errno);
	watch(ep, pidfd, "the container's init");
	for (k = 0; k < 2; k++) {
		struct stream *st = &streams[k];
		if (st->fd < 0)
			continue;
		/* output read before, not logged yet, comes first */
		if (st->pending)
			unquote(st->pending, st->pendlen, feed, st);
		fcntl(st->fd, F_SETFL, fcntl(st->fd, F_GETFL) | O_NONBLOCK);
		watch(ep, st->fd, st->name);
		st->reading = 1;
	}
	if (listener >= 0) {
		fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK);
		watch(ep, listener, "the attach socket");
	}

	for (;;) {
		int ended = 0, attach = 0;
		n = epoll_wait(ep, ev, 4, -1);
		if (n < 0 && errno != EINTR)
			fail(1, "epoll", errno);
		for (i = 0; i < n; i++) {
			for (k = 0; k < 2; k++)
				if (streams[k].reading && ev[i].data.fd == streams[k].fd)
					pump(&streams[k], ep);
			ended |= ev[i].data.fd == pidfd;
			attach |= ev[i].data.fd == listener;
		}
		if (ended)
			break;
		if (attach) {
			int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				/* Stop reading where the output stands; the engine
				 * reads on, from the line in progress (pending). */
				close(logfd);
				wake(ATTACH, 0, 0, c);
			}
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				struct timespec ms10 = {0, 10000000}; /* out of fds, say: no busy loop */
				nanosleep(&ms10, NULL);
			}
		}
	}

	epoll_ctl(ep, EPOLL_CTL_DEL, pidfd, NULL);
	if (listener >= 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, listener, NULL);
	code = reap();
	clock_gettime(CLOCK_REALTIME, &now);
	at = now.tv_sec * 1000000000LL + now.tv_nsec;
	/* The output to its end, for at most DrainTimeout: a process that escaped
	 * the pid namespace but kept the pipe must not hold the monitor forever. */
	deadline = monotonic_ms() + DRAIN_MS;
	for (;;) {
		long long left = deadline - monotonic_ms();
		if (!streams[0].reading && !streams[1].reading)
			break;
		if (left <= 0)
			break;
		n = epoll_wait(ep, ev, 4, left);
		if (n < 0 && errno != EINTR)
			fail(1, "epoll", errno);
		for (i = 0; i < n; i++)
			for (k = 0; k < 2; k++)
				if (streams[k].reading && ev[i].data.fd == streams[k].fd)
					pump(&streams[k], ep);
	}
	for (k = 0; k < 2; k++) {
		if (streams[k].reading)
			finish(&streams[k]);
		if (streams[k].fd >= 0)
			close(streams[k].fd);
		streams[k].fd = -1;
	}
	close(logfd);
	wake(EXITED, code, at, -1);
}
