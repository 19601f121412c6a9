package image

import (
	"encoding/json"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
)

// InspectInfo is an image as `docker image inspect` shows it.
type InspectInfo struct {
	ID           string                          `json:"Id"`
	RepoTags     []string                        `json:"RepoTags"`
	RepoDigests  []string                        `json:"RepoDigests"`
	Created      string                          `json:"Created,omitempty"`
	Author       string                          `json:"Author,omitempty"`
	Architecture string                          `json:"Architecture"`
	Variant      string                          `json:"Variant,omitempty"`
	Os           string                          `json:"Os"`
	Size         int64                           `json:"Size"`
	Config       dockerspec.DockerOCIImageConfig `json:"Config"` // with Docker's fields: Healthcheck, OnBuild, Shell
	RootFS       struct {
		Type   string   `json:"Type"`
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
	Metadata struct {
		LastTagTime string `json:"LastTagTime"`
	} `json:"Metadata"`
	Manifest  string `json:"hull.Manifest"`
	MediaType string `json:"hull.MediaType"`
}

// Inspect describes an image Docker's way.
func (s *Store) Inspect(name string) (*InspectInfo, error) {
	img, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	in := &InspectInfo{ID: img.Config.String(), RepoTags: []string{}, RepoDigests: []string{}, Author: cfg.Author,
		Architecture: cfg.Architecture, Variant: cfg.Variant, Os: cfg.OS, Size: s.Size(img),
		Config:   dockerspec.DockerOCIImageConfig{ImageConfig: cfg.Config},
		Manifest: img.Manifest.String(), MediaType: img.MediaType}
	// image-spec's config type has no Docker fields; the blob has them (docker
	// build's, hull build's HEALTHCHECK, ONBUILD, SHELL)
	if data, err := s.ReadBlob(img.Config, maxConfigSize); err == nil {
		var dc dockerspec.DockerOCIImage
		if json.Unmarshal(data, &dc) == nil {
			in.Config = dc.Config
		}
	}
	if cfg.Created != nil {
		in.Created = cfg.Created.Format(time.RFC3339Nano)
	}
	in.RepoTags, in.RepoDigests = RepoNames(img, img.Names)
	in.RootFS.Type = "layers"
	for _, l := range img.Layers {
		in.RootFS.Layers = append(in.RootFS.Layers, l.DiffID.String())
	}
	in.Metadata.LastTagTime = img.Added.Format(time.RFC3339Nano)
	return in, nil
}

// RepoDigest is the digest a registry knows the image by: its index's, if it
// was picked from one, else its manifest's.
func (img *Image) RepoDigest() digest.Digest {
	if img.Index != "" {
		return img.Index
	}
	return img.Manifest
}

// RepoNames splits names of img (some of img.Names) into docker's RepoTags and
// RepoDigests: a tag's repository gets the image's repo digest too.
func RepoNames(img *Image, names []string) (tags, digests []string) {
	tags, digests = []string{}, []string{}
	seen := map[string]bool{}
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			digests = append(digests, d)
		}
	}
	for _, n := range names {
		if i := lastIndexByte(n, '@'); i >= 0 {
			add(n)
			continue
		}
		tags = append(tags, n)
		repo := n
		if i := lastIndexByte(n, ':'); i >= 0 {
			repo = n[:i]
		}
		add(repo + "@" + img.RepoDigest().String())
	}
	return tags, digests
}

func lastIndexByte(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
		if s[i] == '/' && c == ':' {
			return -1
		}
	}
	return -1
}
