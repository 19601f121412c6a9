package ociruntime

import (
	"errors"
	"testing"

	"github.com/hullproject/hull/runtime"
)

// TestProgramErrorKind: the messages runc 1.1.5, crun 1.8.1 and hullrt give (taken
// from them on Debian 12; runc's "is a directory" is a newer runc's, built with Go
// 1.20 or later) for a program or working directory that is missing or cannot be
// executed map to runtime's sentinels, and the same errno about anything else maps
// to none. The error keeps the runtime's text. The live runtimes are run for the
// same in testsuite's ErrorKinds (hull's own and runc).
func TestProgramErrorKind(t *testing.T) {
	for msg, want := range map[string]error{
		// runc
		`runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH`:                                                                   runtime.ErrNotFound,
		`runc create failed: unable to start container process: exec: "/nonexistent": stat /nonexistent: no such file or directory`:                                                   runtime.ErrNotFound,
		`runc create failed: unable to start container process: exec: "/etc": permission denied`:                                                                                      runtime.ErrNotExecutable,
		`exec failed: unable to start container process: exec: "/etc": is a directory`:                                                                                                runtime.ErrNotExecutable,
		`exec failed: unable to start container process: chdir to cwd ("/nonexistent") set in config.json failed: no such file or directory`:                                          runtime.ErrNotFound,
		`exec failed: unable to start container process: exec: "/etc/file/x": stat /etc/file/x: not a directory`:                                                                      nil,
		`exec failed: unable to start container process: chdir to cwd ("/etc/file") set in config.json failed: not a directory`:                                                       nil,
		`runc create failed: unable to start container process: error during container init: error mounting "/tmp/gone" to rootfs at "/x": stat /tmp/gone: no such file or directory`: nil,
		`exec failed: container does not exist`: nil,
		`runc create failed: unable to start container process: error during container init: mkdir /etc/file: not a directory`: nil,
		// crun
		"executable file `nosuch` not found in $PATH: No such file or directory":                        runtime.ErrNotFound,
		"executable file `/nonexistent` not found in $PATH: No such file or directory":                  runtime.ErrNotFound,
		"open executable: Permission denied":                                                            runtime.ErrNotExecutable,
		"open executable: Operation not permitted":                                                      runtime.ErrNotExecutable,
		"open executable: Not a directory":                                                              nil,
		"exec container process `/bin/garbage`: Exec format error":                                      runtime.ErrNotExecutable,
		"exec container process (missing dynamic library?) `/bin/badinterp`: No such file or directory": runtime.ErrNotFound,
		"exec: Exec format error":                                                                       runtime.ErrNotExecutable,
		"chdir `/nonexistent`: No such file or directory":                                               runtime.ErrNotFound,
		"chdir `/etc/file`: Not a directory":                                                            nil,
		"error stat'ing file `/tmp/gone`: No such file or directory":                                    nil,
		// hullrt
		`exec "nosuch": executable file not found in $PATH`:                       runtime.ErrNotFound,
		`exec "/nonexistent": no such file or directory`:                          runtime.ErrNotFound,
		`exec "/etc": is a directory`:                                             runtime.ErrNotExecutable,
		`exec "/etc/passwd": permission denied`:                                   runtime.ErrNotExecutable,
		`hullrt: exec /bin/garbage: exec format error`:                            runtime.ErrNotExecutable,
		`exec garbage: exec format error`:                                         runtime.ErrNotExecutable,
		`process.cwd /nonexistent: no such file or directory`:                     runtime.ErrNotFound,
		`mount /x: bind source: stat /tmp/gone: no such file or directory`:        nil,
		`start exec process: fork/exec /proc/self/exe: no such file or directory`: nil,
		`hullrt: container "x" does not exist`:                                    nil,
	} {
		b := &Binary{Path: "/usr/sbin/runc"}
		err := b.failed("create", msg)
		if err.Error() != "runc create: "+msg {
			t.Errorf("text %q", err)
		}
		for _, s := range []error{runtime.ErrNotFound, runtime.ErrNotExecutable} {
			if errors.Is(err, s) != (s == want) {
				t.Errorf("%s: errors.Is(%v) is %v", msg, s, errors.Is(err, s))
			}
		}
	}
}
