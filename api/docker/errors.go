package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/hullproject/hull/engine"
	"github.com/hullproject/hull/image"
	"github.com/hullproject/hull/network"
	"github.com/hullproject/hull/volume"
	"github.com/moby/moby/api/types/common"
)

// httpError is an error with the status code the API answers it with. Handlers
// make them with badRequest, notFound... for what they judge themselves; the
// engine's errors are mapped by statusOf.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func badRequest(err error) error { return &httpError{http.StatusBadRequest, err} }
func badRequestf(format string, a ...any) error {
	return badRequest(fmt.Errorf(format, a...))
}
func notFoundf(format string, a ...any) error {
	return &httpError{http.StatusNotFound, fmt.Errorf(format, a...)}
}
func conflictf(format string, a ...any) error {
	return &httpError{http.StatusConflict, fmt.Errorf(format, a...)}
}
func notImplementedf(format string, a ...any) error {
	return &httpError{http.StatusNotImplemented, fmt.Errorf(format, a...)}
}

// statusOf is the status code docker answers err with: the engine's sentinels
// (through any wrapping) to 404, 409 and 304, refused options to 400, anything
// else 500. A handler that needs another mapping wraps the error in an httpError.
func statusOf(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, engine.ErrNotModified):
		return http.StatusNotModified
	case errors.Is(err, engine.ErrNoSuchContainer), errors.Is(err, engine.ErrNoSuchPod), errors.Is(err, engine.ErrNoSuchExec),
		errors.Is(err, image.ErrNotFound), errors.Is(err, network.ErrNotFound), errors.Is(err, volume.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrConflict), errors.Is(err, image.ErrInUse), errors.Is(err, image.ErrConflict), errors.Is(err, volume.ErrInUse),
		errors.Is(err, network.ErrExists), errors.Is(err, network.ErrAttached):
		return http.StatusConflict
	case errors.Is(err, network.ErrInUse), errors.Is(err, network.ErrPredefined):
		// docker: "error while removing network: ... has active endpoints" is 403,
		// and so is removing a pre-defined network.
		return http.StatusForbidden
	case errors.Is(err, network.ErrInvalid):
		return http.StatusBadRequest
	case len(engine.OptionErrors(err)) > 0:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError answers err as docker does: its status code and {"message": ...}
// (a 304 has no body).
func writeError(w http.ResponseWriter, err error) {
	code := statusOf(err)
	if code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	writeJSON(w, code, common.ErrorResponse{Message: err.Error()})
}

// writeJSON answers v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(v)
}

// maxJSONBody bounds a request's JSON body: a create body is a few KB.
const maxJSONBody = 8 << 20

// maxDiscardedJSON bounds what is read of a refused JSON body.
const maxDiscardedJSON = 64 << 20

// decodeJSON reads the request's JSON body into v, as docker's handlers do: a
// Content-Type other than JSON, an empty body or bad JSON is a 400.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return badRequestf("unsupported Content-Type header (%s): must be 'application/json'", ct)
		}
	}
	err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxJSONBody)).Decode(v)
	if err != nil {
		// The rest of a refused body is read (up to a bound) before the 400: a
		// server that answers and closes mid-body leaves the client with a
		// broken pipe instead of the answer (Go's server reads no more than
		// 256 KiB of a body it was not given), as for /build's context.
		io.Copy(io.Discard, io.LimitReader(r.Body, maxDiscardedJSON))
	}
	switch {
	case errors.Is(err, io.EOF):
		return badRequestf("invalid JSON: got EOF while reading request body")
	case err != nil:
		return badRequestf("invalid JSON: %w", err)
	}
	return nil
}
