package image

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/hullproject/hull/internal/filter"
)

// ListFilter is docker's image list filter (`images --filter`, the API's
// /images/json?filters=): values of one key are alternatives, keys must all
// match. The keys:
//
//	dangling=true|false   without a name, or with one
//	label=KEY[=VALUE]     the config's labels
//	before=IMAGE          created before that image
//	since=IMAGE           created after that image
//	reference=PATTERN     a name matching PATTERN (path.Match, as docker's),
//	                      with or without its tag, in docker's short form too
//	until=TIME            created before TIME (a duration ago, RFC 3339, unix)
type ListFilter map[string][]string

// ParseListFilter reads --filter KEY=VALUE flags.
func ParseListFilter(args []string) (ListFilter, error) {
	f := ListFilter{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("bad filter %q: want KEY=VALUE", a)
		case k == "dangling" && v != "true" && v != "false":
			return nil, fmt.Errorf("invalid filter 'dangling=%s': want true or false", v)
		case k == "until":
			if _, err := filter.ParseTime(v, time.Now()); err != nil {
				return nil, fmt.Errorf("invalid filter 'until=%s': %w", v, err)
			}
		case k == "reference":
			if _, err := path.Match(v, ""); err != nil {
				return nil, fmt.Errorf("invalid filter 'reference=%s': %w", v, err)
			}
		case !slices.Contains([]string{"dangling", "label", "before", "since", "reference", "until"}, k):
			return nil, fmt.Errorf("invalid filter %q", k)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// Filter returns the images of imgs that pass f, in their order.
func (s *Store) Filter(imgs []Image, f ListFilter) ([]Image, error) {
	if len(f) == 0 {
		return imgs, nil
	}
	created := func(img *Image) time.Time {
		if cfg, err := s.Config(img); err == nil && cfg.Created != nil {
			return *cfg.Created
		}
		return time.Time{}
	}
	// before= and since= name images; their creation times bound the others'.
	var before, since []time.Time
	for _, b := range f["before"] {
		img, err := s.Get(b)
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'before=%s': %w", b, err)
		}
		before = append(before, created(img))
	}
	for _, b := range f["since"] {
		img, err := s.Get(b)
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'since=%s': %w", b, err)
		}
		since = append(since, created(img))
	}
	var until []time.Time
	for _, u := range f["until"] {
		t, _ := filter.ParseTime(u, time.Now())
		until = append(until, t)
	}
	match := func(key string, ok func(v string) bool) bool {
		vs, given := f[key]
		return !given || slices.ContainsFunc(vs, ok)
	}
	var out []Image
	for i := range imgs {
		img := &imgs[i]
		t := created(img)
		var labels map[string]string
		if cfg, err := s.Config(img); err == nil {
			labels = cfg.Config.Labels
		}
		if match("dangling", func(v string) bool { return (v == "true") == (len(img.Names) == 0) }) &&
			// every label given, as docker's (MatchKVList)
			!slices.ContainsFunc(f["label"], func(v string) bool {
				k, val, hasVal := strings.Cut(v, "=")
				have, ok := labels[k]
				return !ok || (hasVal && have != val)
			}) &&
			(len(before) == 0 || slices.ContainsFunc(before, t.Before)) &&
			(len(since) == 0 || slices.ContainsFunc(since, t.After)) &&
			(len(until) == 0 || slices.ContainsFunc(until, t.Before)) &&
			match("reference", func(v string) bool {
				return slices.ContainsFunc(img.Names, func(n string) bool { return ReferenceMatch(v, n) })
			}) {
			out = append(out, *img)
		}
	}
	return out, nil
}

// ReferenceMatch is docker's reference filter, for one name of an image: the pattern against the name,
// with and without its tag, in full (docker.io/library/busybox:latest) and in
// docker's short form (busybox:latest).
func ReferenceMatch(pattern, ref string) bool {
	r, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	full := r.Context().Name()
	short := full
	if after, ok := strings.CutPrefix(full, "index.docker.io/"); ok {
		full = "docker.io/" + after
		short = strings.TrimPrefix(after, "library/")
	} else if after, ok := strings.CutPrefix(full, "docker.io/"); ok {
		short = strings.TrimPrefix(after, "library/")
	}
	var cands []string
	for _, repo := range []string{full, short} {
		cands = append(cands, repo)
		switch r := r.(type) {
		case name.Tag:
			cands = append(cands, repo+":"+r.TagStr())
		case name.Digest:
			cands = append(cands, repo+"@"+r.DigestStr())
		}
	}
	for _, c := range cands {
		if ok, _ := path.Match(pattern, c); ok {
			return true
		}
	}
	return false
}

// Names are the names of img to show for f: with reference patterns, only
// those they match, as docker's image list shows them.
func (f ListFilter) Names(img *Image) []string {
	pats := f["reference"]
	if len(pats) == 0 {
		return img.Names
	}
	var out []string
	for _, n := range img.Names {
		if slices.ContainsFunc(pats, func(p string) bool { return ReferenceMatch(p, n) }) {
			out = append(out, n)
		}
	}
	return out
}

// Familiar is the short form docker shows of a stored name: Docker Hub's
// registry and its library/ are left out ("docker.io/library/busybox:latest" is
// "busybox:latest"); any other registry's name is kept whole.
func Familiar(name string) string {
	if rest, ok := strings.CutPrefix(name, "docker.io/"); ok {
		if r, ok := strings.CutPrefix(rest, "library/"); ok && !strings.Contains(r, "/") {
			return r
		}
		return rest
	}
	return name
}

// PruneFilter is `image prune --filter`: dangling (false: every unused image,
// as --all), until (created before: a duration ago, RFC 3339, unix seconds),
// label and label! (KEY or KEY=VALUE; label! must not hold).
type PruneFilter struct {
	All       bool
	Until     time.Time
	Labels    []string
	NotLabels []string
}

// ParsePruneFilter reads --filter KEY=VALUE flags, in docker's words when one
// is bad.
func ParsePruneFilter(args []string, now time.Time) (PruneFilter, error) {
	var f PruneFilter
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			return f, fmt.Errorf("bad filter %q: want KEY=VALUE", a)
		case k == "dangling":
			if v != "true" && v != "false" {
				return f, fmt.Errorf("invalid filter 'dangling=%s': want true or false", v)
			}
			f.All = v == "false"
		case k == "until":
			t, err := filter.ParseTime(v, now)
			if err != nil {
				return f, fmt.Errorf("invalid filter 'until=%s': %w", v, err)
			}
			f.Until = t
		case k == "label":
			f.Labels = append(f.Labels, v)
		case k == "label!":
			f.NotLabels = append(f.NotLabels, v)
		default:
			return f, fmt.Errorf("invalid filter %q: want dangling=, until=, label= or label!=", k)
		}
	}
	return f, nil
}

// match tells whether the filter lets an otherwise prunable image (created
// at created, with labels) go.
func (f PruneFilter) match(created time.Time, labels map[string]string) bool {
	has := func(kv string) bool {
		k, v, hasV := strings.Cut(kv, "=")
		got, ok := labels[k]
		return ok && (!hasV || got == v)
	}
	if !f.Until.IsZero() && !created.Before(f.Until) {
		return false
	}
	for _, l := range f.Labels {
		if !has(l) {
			return false
		}
	}
	return !slices.ContainsFunc(f.NotLabels, has)
}
