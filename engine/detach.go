package engine

// The detach keys of an attached client (hull attach, run; the Docker API's attach
// and exec; ParseDetachKeys): typed into the container's input, they detach the
// client and leave the container running.

// Detacher watches input for the detach keys. Bytes that may begin the sequence
// are held back until it is clear they do not, then passed on.
type Detacher struct {
	Keys []byte
	n    int // keys matched so far
}

// Feed returns the input to pass on and whether the keys were typed.
func (d *Detacher) Feed(p []byte) ([]byte, bool) {
	var out []byte
	for _, b := range p {
		if b == d.Keys[d.n] {
			if d.n++; d.n == len(d.Keys) {
				return out, true
			}
			continue
		}
		out = append(out, d.Keys[:d.n]...)
		d.n = 0
		if b == d.Keys[0] {
			d.n = 1
			continue
		}
		out = append(out, b)
	}
	return out, false
}
