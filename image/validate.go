package image

import (
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits on what a registry or archive may hand the store. Anything above is refused
// before it is read whole.
const (
	maxManifestSize = 4 << 20   // a manifest or index
	maxConfigSize   = 8 << 20   // an image config
	maxLayers       = 500       // layers of one image (overlayfs stacks at most 500)
	maxManifests    = 1000      // entries of an index
	maxBlobSize     = 256 << 30 // a blob of unknown size
)

// Media types the store understands.
const (
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mtDockerForeign  = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

func isIndex(mt string) bool { return mt == ocispec.MediaTypeImageIndex || mt == mtDockerList }

func isManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == mtDockerManifest
}

var layerTypes = map[string]bool{
	ocispec.MediaTypeImageLayer:     true,
	ocispec.MediaTypeImageLayerGzip: true,
	ocispec.MediaTypeImageLayerZstd: true,
	mtDockerLayer:                   true,
	mtDockerForeign:                 true,
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": true,
}

// Normalize returns the full form of an image reference, Docker's way: "busybox" is
// "docker.io/library/busybox:latest".
func Normalize(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("bad image reference %q: %w", ref, err)
	}
	return displayName(r), nil
}

func displayName(r name.Reference) string {
	repo := r.Context().RepositoryStr()
	reg := r.Context().RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	sep := ":"
	if _, ok := r.(name.Digest); ok {
		sep = "@"
	}
	return reg + "/" + repo + sep + r.Identifier()
}

func checkDescriptor(d ocispec.Descriptor, limit int64) error {
	if err := checkDigest(d.Digest); err != nil {
		return err
	}
	if d.Size < 0 || d.Size > limit {
		return fmt.Errorf("blob %s: size %d out of range (limit %d)", d.Digest, d.Size, limit)
	}
	return nil
}

// parseIndex checks an index's JSON against its media type.
func parseIndex(data []byte, mt string) (*ocispec.Index, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("parse index: %w", err)
	}
	if idx.MediaType != "" && idx.MediaType != mt {
		return nil, fmt.Errorf("index says media type %q, was served as %q", idx.MediaType, mt)
	}
	if len(idx.Manifests) > maxManifests {
		return nil, fmt.Errorf("index lists %d manifests, more than %d", len(idx.Manifests), maxManifests)
	}
	for _, m := range idx.Manifests {
		if err := checkDescriptor(m, maxManifestSize); err != nil {
			return nil, err
		}
	}
	return &idx, nil
}

// parseManifest checks an image manifest's JSON against its media type, and every
// descriptor in it.
func parseManifest(data []byte, mt string) (*ocispec.Manifest, error) {
	if !isManifest(mt) {
		return nil, fmt.Errorf("unsupported manifest media type %q", mt)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("parse manifest: %w", err)
	}
	if m.MediaType != "" && m.MediaType != mt || m.MediaType == "" && mt == mtDockerManifest {
		return nil, fmt.Errorf("manifest says media type %q, was served as %q", m.MediaType, mt)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest schema version %d is not supported", m.SchemaVersion)
	}
	if m.Config.MediaType != ocispec.MediaTypeImageConfig && m.Config.MediaType != mtDockerConfig {
		return nil, fmt.Errorf("config media type %q is not an image config", m.Config.MediaType)
	}
	if err := checkDescriptor(m.Config, maxConfigSize); err != nil {
		return nil, err
	}
	if len(m.Layers) > maxLayers {
		return nil, fmt.Errorf("manifest lists %d layers, more than %d", len(m.Layers), maxLayers)
	}
	for _, l := range m.Layers {
		if !layerTypes[l.MediaType] {
			return nil, fmt.Errorf("layer %s: unsupported media type %q", l.Digest, l.MediaType)
		}
		if err := checkDescriptor(l, maxBlobSize); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// parseConfig checks an image config against its manifest.
func parseConfig(data []byte, m *ocispec.Manifest) (*ocispec.Image, error) {
	var c ocispec.Image
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parse image config: %w", err)
	}
	if c.RootFS.Type != "layers" {
		return nil, fmt.Errorf("image config: rootfs type %q, want layers", c.RootFS.Type)
	}
	if len(c.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image config lists %d diff ids for %d layers", len(c.RootFS.DiffIDs), len(m.Layers))
	}
	for _, d := range c.RootFS.DiffIDs {
		if err := checkDigest(d); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// digestOf is digest.FromBytes, named for what the callers check.
func digestOf(b []byte) digest.Digest { return digest.FromBytes(b) }
