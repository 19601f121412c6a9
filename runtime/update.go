package runtime

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/hullproject/hull/runtime/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the resources of a created, running or paused container, as
// `runc update` does. r holds only what changes: every field it sets replaces the
// saved one (a list replaces the whole list, a map entry its key), the rest stay.
// The merged resources are validated, written to the cgroup and then saved as
// config.linux.resources in state.json, so a later update (and `hullrt state`
// readers of the config) start from what is in force.
//
// A memory limit below the cgroup's current usage is refused and the old limit
// stays: on cgroup v2 the kernel would accept it and reclaim or OOM-kill to meet
// it. Device rules are rewritten only when r has some, with the rules every
// container needs after them as at create.
func (c *Container) Update(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if c.Record.Damaged {
		return fmt.Errorf("container %s: state is damaged; delete it with --force", c.ID)
	}
	if st := c.Status(); st == StatusStopped {
		return fmt.Errorf("cannot update container %s: it is stopped", c.ID)
	}
	spec := c.Record.Config
	if spec == nil || spec.Linux == nil {
		return fmt.Errorf("container %s: no linux config saved", c.ID)
	}
	r = keepSwapRule(spec.Linux.Resources, r)
	merged := mergeResources(spec.Linux.Resources, r)
	if err := cgroups.Validate(merged); err != nil {
		return err
	}
	apply := mergeResources(nil, merged)
	apply.Devices = nil
	if len(r.Devices) > 0 {
		withNew := *spec
		linux := *spec.Linux
		linux.Resources = merged
		withNew.Linux = &linux
		apply.Devices = withDefaultDevices(&withNew).Devices
	}
	if r.Memory != nil && r.Memory.Limit != nil && apply.Memory != nil {
		check := true
		apply.Memory.CheckBeforeUpdate = &check
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if err := cg.Set(apply); err != nil {
		return err
	}
	spec.Linux.Resources = merged
	if err := c.save(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// keepSwapRule fills in the swap limit of an update that changes only the memory
// limit: a container that had no swap (swap equal to the limit) keeps having
// none, and an unlimited memory makes swap unlimited too (runc's rule).
func keepSwapRule(old, r *specs.LinuxResources) *specs.LinuxResources {
	if r.Memory == nil || r.Memory.Limit == nil || r.Memory.Swap != nil {
		return r
	}
	limit := *r.Memory.Limit
	var swap *int64
	switch {
	case limit == -1:
		swap = &limit
	case old != nil && old.Memory != nil && old.Memory.Limit != nil && old.Memory.Swap != nil &&
		*old.Memory.Swap == *old.Memory.Limit && *old.Memory.Limit > 0:
		swap = &limit
	default:
		return r
	}
	out := *r
	mem := *r.Memory
	mem.Swap = swap
	out.Memory = &mem
	return &out
}

// mergeResources returns a copy of old with every field r sets put over it:
// pointers that are not nil, strings that are not empty, lists with entries
// (replacing the old list) and map entries one by one. r may be nil.
func mergeResources(old, r *specs.LinuxResources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if old != nil {
		// A deep copy, so that the saved config is not changed through out.
		data, _ := json.Marshal(old)
		_ = json.Unmarshal(data, out)
	}
	if r != nil {
		mergeStruct(reflect.ValueOf(out).Elem(), reflect.ValueOf(r).Elem())
	}
	return out
}

func mergeStruct(dst, src reflect.Value) {
	for i := 0; i < src.NumField(); i++ {
		d, s := dst.Field(i), src.Field(i)
		switch s.Kind() {
		case reflect.Pointer:
			if s.IsNil() {
				continue
			}
			if s.Elem().Kind() == reflect.Struct {
				if d.IsNil() {
					d.Set(reflect.New(s.Elem().Type()))
				}
				mergeStruct(d.Elem(), s.Elem())
				continue
			}
			v := reflect.New(s.Elem().Type())
			v.Elem().Set(s.Elem())
			d.Set(v)
		case reflect.Map:
			if s.Len() == 0 {
				continue
			}
			if d.IsNil() {
				d.Set(reflect.MakeMap(s.Type()))
			}
			iter := s.MapRange()
			for iter.Next() {
				d.SetMapIndex(iter.Key(), iter.Value())
			}
		default: // strings, lists and plain values: set means not empty
			if !s.IsZero() && (s.Kind() != reflect.Slice || s.Len() > 0) {
				d.Set(s)
			}
		}
	}
}

// afterLastDenyAll is the index just past the last rule that denies every access
// to every device (type "a" or empty, any major and minor, all of "rwm"), or 0.
func afterLastDenyAll(rules []specs.LinuxDeviceCgroup) int {
	anyNum := func(n *int64) bool { return n == nil || *n == -1 }
	cut := 0
	for i, d := range rules {
		all := d.Access == "" || (len(d.Access) == 3 && strings.Contains(d.Access, "r") && strings.Contains(d.Access, "w") && strings.Contains(d.Access, "m"))
		if !d.Allow && (d.Type == "" || d.Type == "a") && anyNum(d.Major) && anyNum(d.Minor) && all {
			cut = i + 1
		}
	}
	return cut
}
