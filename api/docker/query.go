package docker

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Query parameters, read as docker's daemon reads them.

// queryBool is docker's boolean parameter: absent, "", "0", "no", "false" and
// "none" are false, anything else true.
func queryBool(r *http.Request, key string) bool {
	switch strings.ToLower(strings.TrimSpace(r.URL.Query().Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// queryInt is an integer parameter, def when absent; a bad one is a 400.
func queryInt(r *http.Request, key string, def int) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badRequestf("invalid value for %s: %q", key, v)
	}
	return n, nil
}

// filters are docker's `filters` parameter: a key's values are alternatives.
type filters map[string][]string

// queryFilters reads the JSON `filters` parameter in either of docker's forms,
// {"label":{"a=b":true}} (API 1.22 on) or {"label":["a=b"]} (before), sorted.
func queryFilters(r *http.Request) (filters, error) {
	raw := r.URL.Query().Get("filters")
	f := filters{}
	if raw == "" {
		return f, nil
	}
	var sets map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &sets); err == nil {
		for k, vs := range sets {
			for v, on := range vs {
				if on {
					f[k] = append(f[k], v)
				}
			}
			sort.Strings(f[k])
		}
		return f, nil
	}
	var lists map[string][]string
	if err := json.Unmarshal([]byte(raw), &lists); err != nil {
		return nil, badRequestf("invalid filter: %q: want a JSON object of string lists", raw)
	}
	for k, vs := range lists {
		f[k] = append(f[k], vs...)
	}
	return f, nil
}

// flags are the filters as the CLI's KEY=VALUE flags, in a stable order: what the
// engine's Parse*Filter functions read, so that both doors judge alike.
func (f filters) flags() []string {
	var out []string
	for k, vs := range f {
		for _, v := range vs {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

// queryTime reads a time parameter (since, until) as docker's clients send it:
// unix seconds with an optional fraction ("1700000000.123456789"). The second
// result is false when the parameter is absent.
func queryTime(r *http.Request, key string) (time.Time, bool, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return time.Time{}, false, nil
	}
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || len(frac) > 9 || strings.Trim(frac, "0123456789") != "" {
		return time.Time{}, false, badRequestf("invalid value for %s: %q: want unix seconds", key, v)
	}
	var ns int64
	if frac != "" {
		ns, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	return time.Unix(s, ns), true, nil
}
