package runtime

import (
	"errors"

	"golang.org/x/sys/unix"
)

// A caller tells apart two ways a container's process can fail to start: its
// program is not there, or it is there and cannot be executed (the engine gives them
// docker's exit codes, 127 and 126; anything else is the runtime's own failure). Init
// decides which, where the errno is known, and the kind crosses to the parent beside
// the error's text (sync.go), so that nobody reads it back out of a message.
var (
	// ErrNotFound: the process's program does not exist (not in PATH, no such
	// path, a missing interpreter), or the working directory it is to start in
	// does not. (A container that does not exist is ErrNotExist.)
	ErrNotFound = errors.New("program not found")
	// ErrNotExecutable: the program exists but cannot be executed (no permission,
	// a directory, a format the kernel does not run), or its working directory
	// cannot be entered.
	ErrNotExecutable = errors.New("program cannot be executed")
)

// errorKind is an error's kind on the wire of the init protocol (sync.go).
type errorKind uint8

const (
	kindOther errorKind = iota // any other failure; left out of a message
	kindNotFound
	kindNotExecutable
)

// kinds gives each errorKind its name on the wire and its sentinel.
var kinds = [...]struct {
	name string
	err  error
}{
	kindOther:         {"", nil},
	kindNotFound:      {"not-found", ErrNotFound},
	kindNotExecutable: {"not-executable", ErrNotExecutable},
}

// Encode is k's name on the wire.
func (k errorKind) Encode() string { return kinds[k].name }

// parseErrorKind reads a kind's name. A name this build does not know (an init of
// another version) is any other failure: the error still arrives, with its text.
func parseErrorKind(s string) errorKind {
	for k, v := range kinds {
		if v.name == s {
			return errorKind(k)
		}
	}
	return kindOther
}

func (k errorKind) MarshalText() ([]byte, error) { return []byte(k.Encode()), nil }

func (k *errorKind) UnmarshalText(b []byte) error {
	*k = parseErrorKind(string(b))
	return nil
}

// kindOf is the kind err carries (kindError, or a sentinel wrapped otherwise).
func kindOf(err error) errorKind {
	for k, v := range kinds {
		if v.err != nil && errors.Is(err, v.err) {
			return errorKind(k)
		}
	}
	return kindOther
}

// kindError is an error with a kind: in init around the error that has it, in the
// parent around init's text. Its text is err's alone; errors.Is finds both err's
// chain and the kind's sentinel.
type kindError struct {
	err  error
	kind errorKind
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, kinds[e.kind].err} }

func withKind(err error, k errorKind) error {
	if k == kindOther {
		return err
	}
	return &kindError{err, k}
}

// programError gives err, a failure to find, enter or execute the process's
// program, the kind its errno means, as execve(2) and the shell read it: ENOENT is
// not found; EACCES, EISDIR and ENOEXEC cannot be executed. Any other errno (ENOTDIR,
// ELOOP, ETXTBSY, E2BIG, ...) leaves it the runtime's own failure.
func programError(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return withKind(err, kindNotFound)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EISDIR), errors.Is(err, unix.ENOEXEC):
		return withKind(err, kindNotExecutable)
	}
	return err
}
