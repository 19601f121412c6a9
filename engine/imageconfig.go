package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ApplyChanges applies Dockerfile instructions (docker's --change: CMD,
// ENTRYPOINT, ENV, LABEL, USER, WORKDIR, STOPSIGNAL, EXPOSE, VOLUME) to cfg, for
// commit and import on both doors.
func ApplyChanges(cfg *ocispec.ImageConfig, changes []string) error {
	for _, ch := range changes {
		instr, arg, _ := strings.Cut(strings.TrimSpace(ch), " ")
		arg = strings.TrimSpace(arg)
		switch strings.ToUpper(instr) {
		case "CMD":
			cfg.Cmd = commandForm(arg)
		case "ENTRYPOINT":
			cfg.Entrypoint = commandForm(arg)
		case "ENV", "LABEL":
			kvs, err := keyValues(arg)
			if err != nil {
				return fmt.Errorf("--change %q: %w", ch, err)
			}
			for _, kv := range kvs {
				if strings.ToUpper(instr) == "LABEL" {
					if cfg.Labels == nil {
						cfg.Labels = map[string]string{}
					}
					cfg.Labels[kv[0]] = kv[1]
					continue
				}
				cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
			}
		case "USER":
			cfg.User = arg
		case "WORKDIR":
			cfg.WorkingDir = arg
		case "STOPSIGNAL":
			cfg.StopSignal = arg
		case "EXPOSE":
			for _, p := range strings.Fields(arg) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				if cfg.ExposedPorts == nil {
					cfg.ExposedPorts = map[string]struct{}{}
				}
				cfg.ExposedPorts[p] = struct{}{}
			}
		case "VOLUME":
			vols := commandForm(arg)
			if !strings.HasPrefix(arg, "[") {
				vols = strings.Fields(arg)
			}
			for _, v := range vols {
				if cfg.Volumes == nil {
					cfg.Volumes = map[string]struct{}{}
				}
				cfg.Volumes[v] = struct{}{}
			}
		default:
			return fmt.Errorf("--change %q: unsupported instruction %q", ch, instr)
		}
	}
	return nil
}

// commandForm reads CMD's and ENTRYPOINT's argument: a JSON array (exec form), or a
// command line for /bin/sh -c (shell form).
func commandForm(arg string) []string {
	var argv []string
	if strings.HasPrefix(arg, "[") && json.Unmarshal([]byte(arg), &argv) == nil {
		return argv
	}
	return []string{"/bin/sh", "-c", arg}
}

// keyValues reads ENV's and LABEL's argument: KEY=VALUE pairs (values may be
// double-quoted), or the old form KEY VALUE.
func keyValues(arg string) ([][2]string, error) {
	k, v, _ := strings.Cut(arg, " ")
	if !strings.Contains(k, "=") {
		if k == "" {
			return nil, fmt.Errorf("no key")
		}
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for rest := arg; strings.TrimSpace(rest) != ""; {
		rest = strings.TrimLeft(rest, " \t")
		k, v, ok := strings.Cut(rest, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("want KEY=VALUE")
		}
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			out = append(out, [2]string{k, v[1 : end+1]})
			rest = v[end+2:]
			continue
		}
		val, after, _ := strings.Cut(v, " ")
		out = append(out, [2]string{k, val})
		rest = after
	}
	return out, nil
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
