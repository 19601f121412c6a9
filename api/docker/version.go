package docker

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The API versions hull serves. MaxAPIVersion is the one it speaks and reports
// (the docker 28.2 CLI here asks for 1.50); unversioned paths are served as it.
// Raising it promises what docs/CHANGELOG.md of github.com/moby/moby/api lists
// between the two versions: go through that list first.
const (
	MaxAPIVersion = "1.50"
	MinAPIVersion = "1.24"
)

var (
	maxVersion = mustVersion(MaxAPIVersion)
	minVersion = mustVersion(MinAPIVersion)
)

// apiVersion is an API version, MAJOR.MINOR.
type apiVersion struct{ major, minor int }

// parseVersion reads "1.50".
func parseVersion(s string) (apiVersion, error) {
	maj, min, ok := strings.Cut(s, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil || a < 0 || b < 0 {
		return apiVersion{}, fmt.Errorf("invalid API version %q: want MAJOR.MINOR", s)
	}
	return apiVersion{a, b}, nil
}

func mustVersion(s string) apiVersion {
	v, err := parseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v apiVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// less tells whether v is older than o.
func (v apiVersion) less(o apiVersion) bool {
	return v.major < o.major || (v.major == o.major && v.minor < o.minor)
}

type versionKey struct{}

// requestVersion is the API version the request was made with: the path's
// /vX.Y, or MaxAPIVersion for an unversioned path.
func requestVersion(r *http.Request) apiVersion {
	if v, ok := r.Context().Value(versionKey{}).(apiVersion); ok {
		return v
	}
	return maxVersion
}

// versionAtLeast tells whether the request's API version is v or newer; v is a
// literal such as "1.42" (a malformed one panics: it is the handler's bug).
func versionAtLeast(r *http.Request, v string) bool {
	return !requestVersion(r).less(mustVersion(v))
}

// splitVersion takes a leading /vX.Y off path: the version ("" when the path has
// none) and the path below it. docker's router matches /v{version:[0-9.]+}.
func splitVersion(path string) (version, rest string) {
	if len(path) < 3 || path[0] != '/' || path[1] != 'v' {
		return "", path
	}
	end := strings.IndexByte(path[1:], '/') + 1
	if end == 0 {
		end = len(path)
	}
	seg := path[2:end]
	if seg == "" || strings.Trim(seg, "0123456789.") != "" {
		return "", path
	}
	return seg, path[end:]
}

// withVersion reads and checks the request's version, as docker's middleware
// does: older than MinAPIVersion or newer than MaxAPIVersion is a 400.
func withVersion(r *http.Request) (*http.Request, error) {
	seg, rest := splitVersion(r.URL.Path)
	if seg == "" {
		return r, nil
	}
	v, err := parseVersion(seg)
	if err != nil {
		return nil, badRequest(err)
	}
	switch {
	case v.less(minVersion):
		return nil, badRequestf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", seg, MinAPIVersion)
	case maxVersion.less(v):
		return nil, badRequestf("client version %s is too new. Maximum supported API version is %s", seg, MaxAPIVersion)
	}
	r = r.WithContext(context.WithValue(r.Context(), versionKey{}, v))
	u := *r.URL // WithContext shares the URL
	u.Path, u.RawPath = rest, ""
	r.URL = &u
	return r, nil
}
