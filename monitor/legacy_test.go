package monitor

import (
	"reflect"
	"testing"
	"time"

	"github.com/hullproject/hull/monitor/resident"
)

// A resident of the hull before the text handover (JSON, as hull 9171afb's
// resident.Exec wrote it) wakes this monitor after an upgrade: its state reads.
func TestLegacyJSONHandover(t *testing.T) {
	old := `{"exe":"/usr/bin/hull","args":["/usr/bin/hull","--root","/var/lib/hull","monitor","-"],"id":"abc","pid":4242,` +
		`"out":5,"err":-1,"listener":7,"keep":[9],"logPath":"/var/lib/hull/c/abc-json.log","logOpts":["max-size=1m"],` +
		`"pending":{"stdout":"aGFsZiBhIGxp"},"environ":["PATH=/bin"],"engine":{"run":1},"reason":"exited","code":3,` +
		`"at":"2026-12-07T05:00:00.123456789Z"}`
	got, err := resident.ParseHandover(old)
	if err != nil {
		t.Fatal(err)
	}
	want := &resident.Handover{
		Exe: "/usr/bin/hull", Args: []string{"/usr/bin/hull", "--root", "/var/lib/hull", "monitor", "-"}, ID: "abc", Pid: 4242,
		Out: 5, Err: -1, Listener: 7, Keep: []int{9}, LogPath: "/var/lib/hull/c/abc-json.log", LogOpts: []string{"max-size=1m"},
		Pending: map[string][]byte{"stdout": []byte("half a li")}, Environ: []string{"PATH=/bin"},
		Engine: []byte(`{"run":1}`), Reason: "exited", Code: 3, At: time.Date(2026, 12, 7, 5, 0, 0, 123456789, time.UTC),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// Written again, it is the text form.
	if back, err := resident.ParseHandover(string(got.Encode())); err != nil || !reflect.DeepEqual(back.At.UnixNano(), want.At.UnixNano()) || back.Code != 3 {
		t.Errorf("the text form of a legacy state: %v %+v", err, back)
	}
}
