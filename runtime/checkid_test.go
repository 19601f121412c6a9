package runtime

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// TestValidIDIsTheRegexp: validID, a loop, accepts exactly what the regexp it
// replaced (^[\w+\-.]+$) accepts, on every single byte and on random strings.
func TestValidIDIsTheRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[\w+\-.]+$`)
	check := func(s string) {
		if got, want := validID(s), re.MatchString(s); got != want {
			t.Errorf("validID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
	check("")
	for b := range 256 {
		check(string([]byte{byte(b)}))
		check("a" + string([]byte{byte(b)}) + "b")
	}
	for _, s := range []string{"abc", "a.b-c+d_e", "..", "é", "a b", "a/b", "a\x00b", "ǅ", "٣"} {
		check(s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aZ09_+-./ \x00\xff\xc3\xa9")
	for range 20000 {
		b := make([]byte, r.IntN(6))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		check(string(b))
	}
}
