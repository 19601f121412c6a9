package image

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Distribution is what a registry serves under a reference, without pulling it:
// the descriptor of its manifest or index, and the platforms it has.
type Distribution struct {
	Descriptor ocispec.Descriptor
	Platforms  []ocispec.Platform
}

// Inspect asks the registry what ref (NAME[:TAG|@DIGEST]) is: an index gives
// its manifests' platforms, a manifest its config's.
func (o RegistryOptions) Inspect(ctx context.Context, ref string) (*Distribution, error) {
	r, err := o.parse(ref)
	if err != nil {
		return nil, err
	}
	ropts := o.remote(ctx)
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, remoteError(err))
	}
	mt := string(desc.MediaType)
	d := &Distribution{Descriptor: ocispec.Descriptor{MediaType: mt, Digest: digest.Digest(desc.Digest.String()), Size: desc.Size}}
	if isIndex(mt) {
		idx, err := parseIndex(desc.Manifest, mt)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", ref, err)
		}
		for _, m := range idx.Manifests {
			if m.Platform != nil {
				d.Platforms = append(d.Platforms, *m.Platform)
			}
		}
		return d, nil
	}
	m, err := parseManifest(desc.Manifest, mt)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, err)
	}
	l, err := remote.Layer(r.Context().Digest(m.Config.Digest.String()), ropts...)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", ref, remoteError(err))
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("inspect %s: config: %w", ref, remoteError(err))
	}
	defer rc.Close()
	var cfg ocispec.Image
	if err := json.NewDecoder(&capped{ReadCloser: rc, left: maxConfigSize}).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("inspect %s: config: %w", ref, err)
	}
	d.Platforms = []ocispec.Platform{cfg.Platform}
	return d, nil
}
