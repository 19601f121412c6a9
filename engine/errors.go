package engine

import (
	"errors"
	"fmt"
)

// The kinds of failure a caller tells apart with errors.Is, beside the "no such"
// sentinels of each record (ErrNoSuchContainer, ErrNoSuchPod, image.ErrNotFound...).
// The Docker API answers them with its own status codes (409 and 304); the CLI
// prints the message, which stays the one the user always saw.
var (
	// ErrConflict: the request conflicts with the state: a name already in use,
	// a running container removed without force, a pause of a paused container.
	ErrConflict = errors.New("conflict")
	// ErrNotModified: the container is already in the state asked for (a start
	// of a running container).
	ErrNotModified = errors.New("not modified")
)

// kindError is a message of its own that is one of the kinds above.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// conflictf is fmt.Errorf's message as an ErrConflict.
func conflictf(format string, a ...any) error {
	return &kindError{ErrConflict, fmt.Sprintf(format, a...)}
}

// notModifiedf is fmt.Errorf's message as an ErrNotModified.
func notModifiedf(format string, a ...any) error {
	return &kindError{ErrNotModified, fmt.Sprintf(format, a...)}
}
