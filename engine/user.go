package engine

import (
	"errors"

	"github.com/hullproject/hull/engine/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// resolveUser is spec.ResolveUser with its refusals as *OptionError (User or
// GroupAdd), as the engine reports option errors.
func resolveUser(rootfs, user string, groupAdd []string) (specs.User, error) {
	u, err := spec.ResolveUser(rootfs, user, groupAdd)
	if ue, ok := errors.AsType[*spec.UserError](err); ok {
		return u, &OptionError{Field: ue.Field, Err: ue.Err}
	}
	return u, err
}

// homeOf returns the home directory of uid from the image's /etc/passwd, or "/".
func homeOf(rootfs string, uid uint32) string { return spec.HomeOf(rootfs, uid) }
