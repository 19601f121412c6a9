package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hullproject/hull/engine"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The flags of run and create beyond run.go's: docker's names, short forms and
// value syntax, put into engine.CreateOptions (the engine judges them: Validate).

// moreFlags are the flags of run and create whose values need parsing here.
type moreFlags struct {
	annotations, sysctls, storageOpts        []string // KEY=VALUE each
	shmSize, kernelMemory                    string   // sizes
	swappiness                               int64    // -1: the kernel's
	weightDevices                            []string // DEVICE:WEIGHT
	readBps, writeBps, readIOps, writeIOps   []string // DEVICE:RATE
	ioMaxBandwidth                           string   // a size (Windows only)
	quiet, useAPISocket, disableContentTrust bool
}

func (m *moreFlags) add(fl *pflag.FlagSet, o *engine.CreateOptions) {
	fl.StringArrayVar(&m.annotations, "annotation", nil, "add an OCI annotation to the container's bundle (KEY=VALUE)")
	fl.StringVar(&o.CgroupParent, "cgroup-parent", "", "parent cgroup of the container's")
	fl.StringArrayVar(&o.DeviceCgroupRules, "device-cgroup-rule", nil, "add a device cgroup rule: 'c|b|a MAJOR:MINOR rwm' (* for any)")
	fl.StringArrayVar(&m.weightDevices, "blkio-weight-device", nil, "block IO weight of a device: DEVICE:WEIGHT")
	fl.StringArrayVar(&m.readBps, "device-read-bps", nil, "limit reads from a device: DEVICE:RATE[kb|mb|gb] a second")
	fl.StringArrayVar(&m.writeBps, "device-write-bps", nil, "limit writes to a device: DEVICE:RATE[kb|mb|gb] a second")
	fl.StringArrayVar(&m.readIOps, "device-read-iops", nil, "limit reads from a device: DEVICE:IOS a second")
	fl.StringArrayVar(&m.writeIOps, "device-write-iops", nil, "limit writes to a device: DEVICE:IOS a second")
	fl.StringVar(&o.Domainname, "domainname", "", "the container's NIS domain name")
	fl.StringVar(&o.LogDriver, "log-driver", "", "log driver: json-file (default), local or none")
	fl.Int64Var(&m.swappiness, "memory-swappiness", -1, "memory swappiness, 0 to 100 (-1: the kernel's; cgroup v1)")
	fl.BoolVar(&o.OomKillDisable, "oom-kill-disable", false, "disable the OOM killer (cgroup v1)")
	fl.IntVar(&o.OomScoreAdj, "oom-score-adj", 0, "the processes' OOM score adjustment (-1000 to 1000)")
	fl.StringVar(&m.shmSize, "shm-size", "", "size of /dev/shm (default 64m)")
	fl.StringArrayVar(&m.sysctls, "sysctl", nil, "set a namespaced sysctl (KEY=VALUE)")
	fl.StringVar(&o.Platform, "platform", "", "the image's platform: os/arch[/variant] (linux only)")
	fl.BoolVarP(&m.quiet, "quiet", "q", false, "say nothing of the image's pull")
	fl.StringVar(&m.kernelMemory, "kernel-memory", "", "kernel memory limit (deprecated: ignored)")
	fl.StringVar(&o.Isolation, "isolation", "", "isolation technology: default only")
	fl.StringVar(&o.VolumeDriver, "volume-driver", "", "volume driver: local only")
	fl.StringArrayVar(&m.storageOpts, "storage-opt", nil, "storage driver options (not supported by overlay snapshots)")
	fl.StringVar(&o.GPUs, "gpus", "", "GPU devices (not supported)")
	fl.Int64Var(&o.CPUCount, "cpu-count", 0, "CPU count (Windows only: ignored)")
	fl.Int64Var(&o.CPUPercent, "cpu-percent", 0, "CPU percent (Windows only: ignored)")
	fl.StringVar(&m.ioMaxBandwidth, "io-maxbandwidth", "", "maximum IO bandwidth (Windows only: refused)")
	fl.Uint64Var(&o.IOMaximumIOps, "io-maxiops", 0, "maximum IO operations a second (Windows only: refused)")
	fl.BoolVar(&m.useAPISocket, "use-api-socket", false, "mount the Docker API socket of `hull system service` at /var/run/docker.sock")
	fl.BoolVar(&m.disableContentTrust, "disable-content-trust", true, "skip image verification (hull has no content trust: always)")
}

// apply puts the flags into the create options.
func (m *moreFlags) apply(c *cobra.Command, o *engine.CreateOptions) error {
	var err error
	kv := func(list []string) map[string]string {
		if len(list) == 0 {
			return nil
		}
		out := map[string]string{}
		for _, s := range list {
			k, v, _ := strings.Cut(s, "=")
			out[k] = v
		}
		return out
	}
	o.Annotations, o.Sysctls, o.StorageOpt = kv(m.annotations), kv(m.sysctls), kv(m.storageOpts)
	if c.Flags().Changed("memory-swappiness") {
		v := m.swappiness
		o.MemorySwappiness = &v
	}
	if o.ShmSize, err = parseMemory("--shm-size", m.shmSize, false); err != nil {
		return err
	}
	if o.KernelMemory, err = parseMemory("--kernel-memory", m.kernelMemory, false); err != nil {
		return err
	}
	if m.ioMaxBandwidth != "" {
		n, err := parseMemory("--io-maxbandwidth", m.ioMaxBandwidth, false)
		if err != nil {
			return err
		}
		o.IOMaximumBandwidth = uint64(n)
	}
	for _, s := range m.weightDevices {
		d, err := engine.ParseWeightDevice(s)
		if err != nil {
			return badUsage(err)
		}
		o.BlkioWeightDevice = append(o.BlkioWeightDevice, d)
	}
	for _, t := range []struct {
		flag  string
		list  []string
		bytes bool
		dst   *[]engine.ThrottleDevice
	}{
		{"device-read-bps", m.readBps, true, &o.BlkioDeviceReadBps},
		{"device-write-bps", m.writeBps, true, &o.BlkioDeviceWriteBps},
		{"device-read-iops", m.readIOps, false, &o.BlkioDeviceReadIOps},
		{"device-write-iops", m.writeIOps, false, &o.BlkioDeviceWriteIOps},
	} {
		for _, s := range t.list {
			d, err := engine.ParseThrottleDevice(t.flag, s, t.bytes)
			if err != nil {
				return badUsage(err)
			}
			*t.dst = append(*t.dst, d)
		}
	}
	return nil
}

// attachOptions are -a's streams, judged, as the record shows them, by docker's
// rule: stdin with -i or -a stdin (which keeps stdin open), stdout and stderr
// unless -a names streams; nothing for run -d.
func (f *createFlags) attachOptions(o *engine.CreateOptions) error {
	for _, a := range f.attach {
		switch strings.ToLower(a) {
		case "stdin":
			o.AttachStdin = true
		case "stdout":
			o.AttachStdout = true
		case "stderr":
			o.AttachStderr = true
		default:
			return badUsage(fmt.Errorf("invalid argument %q for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", a))
		}
	}
	if len(f.attach) == 0 {
		o.AttachStdout, o.AttachStderr = true, true
	}
	if o.AttachStdin {
		o.Interactive = true
	}
	o.AttachStdin = o.Interactive
	if f.detached {
		o.AttachStdin, o.AttachStdout, o.AttachStderr = false, false, false
	}
	return nil
}

// apiSocket is where `hull system service` listens by default, below the state
// directory (/run/hull/docker.sock).
func apiSocket(c *cobra.Command) string {
	state, _ := c.Flags().GetString("state")
	return filepath.Join(state, "docker.sock")
}

// useAPISocket applies --use-api-socket as docker's CLI does, by a bind mount of
// the API socket at /var/run/docker.sock; the socket must exist. (docker's also
// copies the client's registry credentials in; hull's service has none to give.)
func useAPISocket(c *cobra.Command, o *engine.CreateOptions) error {
	sock := apiSocket(c)
	if st, err := os.Stat(sock); err != nil || st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("--use-api-socket: no Docker API socket at %s: start `hull system service` first", sock)
	}
	o.Volumes = append(o.Volumes, sock+":/var/run/docker.sock")
	return nil
}

// envOf is the environment of --env-file files and -e values, in that order, as
// docker's: KEY=VALUE as is, a bare KEY from hull's own environment (left out
// if unset there).
func envOf(files, env []string) ([]string, error) {
	fromFiles, err := readKVFiles(files, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range append(fromFiles, env...) {
		if !strings.Contains(kv, "=") {
			v, ok := os.LookupEnv(kv)
			if !ok {
				continue
			}
			kv += "=" + v
		}
		out = append(out, kv)
	}
	return out, nil
}

// readKVFiles reads docker's env and label files: one KEY=VALUE a line, the
// value as it is; leading blanks, blank lines and # comments skipped; a bare KEY
// is looked up with lookup (left out when nil or not found). A key with blanks in
// it is an error, as docker's.
func readKVFiles(files []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, badUsage(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			b := sc.Bytes()
			if !utf8.Valid(b) {
				return nil, badUsage(fmt.Errorf("%s contains invalid utf8 bytes at line %d", file, n))
			}
			if n == 1 {
				b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
			}
			line := strings.TrimLeftFunc(string(b), unicode.IsSpace)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, hasValue := strings.Cut(line, "=")
			if strings.ContainsAny(k, " \t\n\v\f\r") {
				return nil, badUsage(fmt.Errorf("%s: variable '%s' contains whitespaces", file, k))
			}
			switch {
			case hasValue:
				out = append(out, k+"="+v)
			case lookup != nil:
				if v, ok := lookup(k); ok {
					out = append(out, k+"="+v)
				}
			}
		}
		if err := sc.Err(); err != nil {
			return nil, badUsage(fmt.Errorf("%s: %w", file, err))
		}
	}
	return out, nil
}
